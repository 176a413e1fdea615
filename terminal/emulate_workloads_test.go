package terminal

import (
	"fmt"
	"math/rand"
	"strings"
)

// conformanceWorkloads are the byte streams the conformance suite runs:
// sequences as real programs write them (apt, pip, npm, docker, readline,
// clear under several TERMs, pagers, editors, top), plus the recordings of
// real programs under testdata/casts.
func conformanceWorkloads() []*workload {
	rnd := rand.New(rand.NewSource(20))
	var ws []*workload
	add := func(name string, cols, rows int, s string) *workload {
		w := &workload{Name: name, Cols: cols, Rows: rows}
		w.out(s, rnd)
		ws = append(ws, w)
		return w
	}
	var b strings.Builder
	lines := func(prefix string, n int) string {
		b.Reset()
		for i := range n {
			fmt.Fprintf(&b, "%s %d: request id=%s done\r\n", prefix, i, strings.Repeat("ab", i%30))
		}
		return b.String()
	}

	add("plain lines", 80, 24, lines("log", 200))
	add("plain lines, narrow screen", 40, 10, lines("log", 60))
	add("coloured log", 80, 24, func() string {
		b.Reset()
		for i := range 100 {
			fmt.Fprintf(&b, "\x1b[32m2026-11-26\x1b[0m \x1b[1;%dmINFO\x1b[0m req %d \x1b[38;5;%dmid\x1b[m \x1b[38;2;1;%d;3mrgb\x1b[0m\r\n", 31+i%7, i, i%256, i)
		}
		return b.String()
	}())
	add("ls --color", 80, 24, "\x1b[0m\x1b[01;34mbin\x1b[0m  \x1b[01;32mbuild.sh\x1b[0m  go.mod  \x1b[01;36mlink\x1b[0m  \x1b[30;42mtmp\x1b[0m\r\n\x1b[01;31mx.tar.gz\x1b[0m  \x1b[40;31;01morphan\x1b[0m\r\n")
	add("pip progress bar", 80, 24, func() string {
		b.Reset()
		b.WriteString("Collecting requests\r\n  Downloading requests-2.31.0-py3-none-any.whl (62 kB)\r\n")
		for p := 0; p <= 100; p += 7 {
			fmt.Fprintf(&b, "\r     \x1b[38;5;197m%s\x1b[0m\x1b[38;5;237m%s\x1b[0m \x1b[32m%d/62 kB\x1b[0m \x1b[31m1.2 MB/s\x1b[0m eta \x1b[36m0:00:01\x1b[0m", strings.Repeat("━", p*40/100), strings.Repeat("━", 40-p*40/100), p*62/100)
		}
		b.WriteString("\r\nInstalling collected packages: requests\r\nSuccessfully installed requests-2.31.0\r\n")
		return b.String()
	}())
	add("npm spinner", 80, 24, func() string {
		b.Reset()
		spin := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴"}
		for i := range 30 {
			fmt.Fprintf(&b, "\r\x1b[K%s reify:lodash: \x1b[32mtiming\x1b[0m reifyNode:node_modules/x%d Completed in %dms", spin[i%len(spin)], i, i*7)
		}
		b.WriteString("\r\x1b[K\r\nadded 12 packages in 2s\r\n")
		return b.String()
	}())
	add("docker pull, multi-line redraw", 80, 24, func() string {
		b.Reset()
		b.WriteString("Using default tag: latest\r\nlatest: Pulling from library/nginx\r\n")
		layers := []string{"a2abf6c4d29d", "a9edb18cadd1", "589b7251471a", "186b1aaa4aa6"}
		for _, l := range layers {
			fmt.Fprintf(&b, "%s: Pulling fs layer \r\n", l)
		}
		for step := range 6 {
			fmt.Fprintf(&b, "\x1b[%dA", len(layers))
			for i, l := range layers {
				bar := strings.Repeat("=", step*8+i) + ">"
				fmt.Fprintf(&b, "\x1b[2K\r%s: Downloading [%-50s]  %d.%dMB/31.4MB\r\x1b[1B", l, bar, step*5+i, step)
			}
		}
		fmt.Fprintf(&b, "\x1b[%dA", len(layers))
		for _, l := range layers {
			fmt.Fprintf(&b, "\x1b[2K\r%s: Pull complete \r\x1b[1B", l)
		}
		b.WriteString("Digest: sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31\r\nStatus: Downloaded newer image for nginx:latest\r\n")
		return b.String()
	}())
	add("apt install with dpkg's progress bar", 80, 24, aptInstall(80, 24))
	add("apt install, short screen", 100, 12, aptInstall(100, 12))
	add("cargo-style status lines", 80, 24, func() string {
		b.Reset()
		for i := range 40 {
			fmt.Fprintf(&b, "\x1b[1m\x1b[32m   Compiling\x1b[0m crate%d v0.1.%d\r\n", i, i)
			fmt.Fprintf(&b, "\x1b[1m\x1b[36m    Building\x1b[0m [====>      ] %d/40: crate%d\r", i, i)
			b.WriteString("\x1b[K")
		}
		b.WriteString("\x1b[1m\x1b[32m    Finished\x1b[0m release [optimized] target(s) in 3.2s\r\n")
		return b.String()
	}())
	add("readline, short line edited", 80, 24, "$ ls -lx\b\x1b[K\b\x1b[Ka\r\ntotal 0\r\n$ git sttaus\b\b\b\b\x1b[1Ptatus\x1b[K\b\b\b\b\b\r\n\x1b[@"+"\r\n$ ")
	add("readline, long line moved up with ESC M", 40, 10, readlineLong(40))
	add("readline, long line edited in the middle", 50, 10, "$ echo "+strings.Repeat("0123456789", 8)+"\r\x1bM\x1b[7C\x1b[4h!\x1b[4l\r\n\r\nout\r\n$ ")
	for _, term := range []struct{ name, clear string }{
		{"xterm", "\x1b[H\x1b[2J\x1b[3J"},
		{"tmux-256color", "\x1b[H\x1b[J"},
		{"screen", "\x1b[H\x1b[J"},
		{"linux", "\x1b[H\x1b[J\x1b[3J"},
	} {
		add("clear under TERM="+term.name, 80, 24, lines("before clear", 40)+"$ clear\r\n"+term.clear+"$ after\r\n")
		add("Ctrl-L in bash under TERM="+term.name, 80, 24, "$ cat notes\r\nline one\r\nline two\r\n$ "+term.clear+"$ ls\r\nfile\r\n$ ")
	}
	add("bare line feeds (stty -onlcr)", 80, 24, "one\ntwo\nthree\r\nfour\n\rfive\r\n")
	add("scroll region from the top", 60, 12, "\x1b[1;8r"+lines("in region", 30)+"\x1b[12;1Hstatus line\x1b[8;1Hmore\r\n\x1b[r")
	add("scroll region in a full-screen program", 60, 12, "$ vim\r\n\x1b[?1049h\x1b[H\x1b[2J\x1b[2;10r\x1b[10;1H"+lines("file", 30)+"\x1b[1;1Htitle\x1b[12;1H-- INSERT --\x1b[r\x1b[?1049l$ ")
	add("insert and delete lines", 60, 12, "a\r\nb\r\nc\r\nd\r\ne\r\n\x1b[2;1H\x1b[2L\x1b[1;1Hx\x1b[5;1H\x1b[1Mz\x1b[10;1H\x1b[3Mend\r\n")
	add("insert, delete and erase characters", 60, 12, "abcdefghij\r\x1b[3C\x1b[2@XY\x1b[4C\x1b[2P\x1b[1G\x1b[2X\r\n0123456789\x1b[5G\x1b[1K\r\n")
	add("right margin", 20, 6, "\x1b[50Cx\r\n0123456789012345678901234\r\n01234567890123456789\r\x1b[Ky\r\n01234567890123456789\x1b[D\x1b[Dz\r\n")
	add("pending wrap, then CR and LF", 10, 5, "0123456789\r\nabcdefghij\nklm\r\n0123456789\x08x\r\n")
	add("wide characters", 20, 6, "日本語のテキスト\r\n0123456789012345678日本\r\n表\x1b[1D\x1b[1Dx\r\n🙂ok😀\r\n")
	add("combining characters", 20, 6, "e\u0301te\u0301\r\na\u0300\u0316b\r\n\x1b[1;1Hz\u0301\r\n")
	add("marks of other scripts", 20, 6, "A \u0e01\u0e48ab\x1b[3DX\r\nB \u0628\u0651ab\x1b[3DX\r\nC \u0915\u094dab\x1b[3DX\r\nD \u0e01\u0e48\x1b[5GZ\r\n")
	add("a resize while wrapped rows are on the screen", 12, 6, "0123456789abcdefghijklmnopqrstuvwxyz\r\n")
	ws[len(ws)-1].resize(30, 6).out("end\r\n", rnd)
	add("origin mode and scroll region", 40, 10, "\x1b[3;6r\x1b[?6h\x1b[1;1Htop of region\x1b[10;1Hbottom of region\x1b[?6l\x1b[1;1Hscreen top\x1b[r\x1b[10;1H")
	add("both cursor save and restore forms", 40, 10, "a\x1b7\x1b[5;5Hb\x1b8c\x1b[s\x1b[6;6Hd\x1b[ue\r\n\x1b[?1048hf\x1b[8;1Hg\x1b[?1048lh\r\n")
	add("tab stops set and cleared", 60, 8, "a\tb\tc\r\n\x1b[3g\x1b[5G\x1bH\x1b[20G\x1bH\r\tx\ty\r\n\x1b[5G\x1b[0g\r\tz\r\n\x1b[I|\x1b[Z<\r\n")
	add("resize narrower and wider", 40, 8, lines("before", 10)+"\x1b[0m")
	ws[len(ws)-1].resize(20, 6).out(lines("narrow", 8), rnd).resize(60, 10).out(lines("wide", 8), rnd)
	add("alternate screen printing 300 lines", 60, 12, "$ less big\r\n\x1b[?1049h\x1b[H\x1b[2J"+lines("page", 300)+"\x1b[?1049l$ ")
	add("alternate screens 1047 and 47", 40, 8, "one\r\n\x1b[?1047hALT1\x1b[?1047ltwo\r\n\x1b[?47h\x1b[2;2HALT2\x1b[?47lthree\r\n")
	add("full-screen program that never leaves", 40, 8, "$ top\r\n\x1b[?1049h\x1b[H\x1b[2Jtop - 10:00:00 up 1 day\r\n\r\n  PID USER\r\n    1 root\r\n")
	add("reset (RIS) mid-session", 40, 8, "before reset\r\nsecond\r\n\x1bcafter reset\r\n")
	add("erase above and to the left", 40, 8, "one\r\ntwo\r\nthree\r\nfour\x1b[2D\x1b[1J\r\n")
	add("autowrap off", 20, 6, "\x1b[?7l012345678901234567890123456789\r\n\x1b[?7hwrap01234567890123456\r\n")
	add("line drawing (DEC special graphics)", 40, 8, "\x1b(0lqqqqk\x1b(B\r\n\x1b(0x\x1b(Bhtop\x1b(0x\x1b(B\r\n\x1b)0\x0emqqqqj\x0f\r\n")
	add("repeat the last character", 40, 8, "-\x1b[19b|\r\n")
	add("a long JSON line", 80, 24, "{"+strings.Repeat(`"key": "value", `, 80)+`"end": 1}`+"\r\n$ ")
	add("background colour erases (BCE)", 40, 8, "\x1b[44mblue bg\x1b[K\r\n\x1b[0mplain\x1b[41m\x1b[2X\x1b[0m!\r\n")
	add("htop-like redraws", 70, 14, htopLike(70, 14))
	add("git log through a pager", 80, 24, "$ git log\r\n\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\r"+func() string {
		b.Reset()
		for i := range 23 {
			fmt.Fprintf(&b, "\x1b[33mcommit %040d\x1b[m\r\nAuthor: dev <dev@example.com>\r\n\r\n    change %d\r\n\r\n", i, i)
		}
		return b.String()
	}()+"\x1b[7m(END)\x1b[27m\x1b[K\r\x1b[K\x1b[?1l\x1b>\x1b[?1049l\x1b[23;0;0t$ ")
	add("invalid UTF-8 bytes", 40, 8, "caf\xe9 \xff!\r\nok\r\n")
	add("vim-like editing in the alternate screen", 40, 10, "$ vim f\r\n\x1b[?1049h\x1b[22;0;0t\x1b[>4;2m\x1b[?1h\x1b=\x1b[H\x1b[2Jline 1\r\nline 2\r\n\x1b[94m~                                       \r\n~                                       \x1b[m\x1b[10;1H\"f\" 2L, 14B\x1b[1;1H\x1b[2;6Hx\x1b[1;1H\x1b[1L\x1b[1;1Hnew first\x1b[10;1H\x1b[K:wq\r\x1b[?1l\x1b>\x1b[?1049l$ ")
	add("escape sequences cancelled, restarted and ended every way", 60, 12,
		"title\x1b]0;one\x07 and\x1b]2;two\x1b\\ set\r\n"+
			"csi \x1b[31\x18cancelled by CAN\r\n"+
			"csi \x1b[1;3\x1acancelled by SUB\r\n"+
			"osc \x1b]0;t\x18cancelled by CAN\r\n"+
			"esc \x1b\x1b[1mrestarted\x1b[m by ESC\r\n"+
			"csi \x1b[3\x1b[32mrestarted\x1b[m by ESC\r\n"+
			"inter \x1b(\x1b[4mrestarted\x1b[m by ESC\r\n"+
			"apc \x1b_payload\x1b\\ended by ST\r\n")
	add("DCS cancelled by SUB, C1 controls written as UTF-8", 60, 12,
		"dcs \x1bP$q\x1acancelled by SUB\r\n"+
			"c1 \u009b1mcsi\u009b0m and \u009d0;t\u009cosc ended by C1 ST\r\n")
	add("DECSTR soft reset", 40, 8, "\x1b[2;5r\x1b[?6h\x1b[31mred\x1b[!p\x1b[1;1Hhome\r\n")
	ws = append(ws, recordedWorkloads()...)
	// Strings that output never ends, or ends with an ESC that begins the
	// next sequence: a terminal shows what follows that ESC. (A DCS is left
	// out: xterm.js ends it at any ESC too, tmux only at ST; calm does as
	// xterm.js, which hides less.)
	add("strings ended by ESC", 80, 24, "osc never ended \x1b]0;title\r\nswallowed\r\nthird \x1b[1mbold\x1b[0m\r\n"+
		"K1 AKIAIOSFOD\x1b]0;x\x1b[0mNN7EXAMPLE\r\nst \x1b]2;t\x1b\\after\r\n"+
		"esc x \x1b]0;t\x1bxmore\r\n")
	return ws
}

// aptInstall writes what apt install shows through dpkg's fancy progress:
// a scroll region one row short of the screen, the bar drawn on the last
// row with the cursor saved and restored, and torn down with ESC[J.
func aptInstall(cols, rows int) string {
	var b strings.Builder
	b.WriteString("Reading package lists... Done\r\nBuilding dependency tree... Done\r\nThe following NEW packages will be installed:\r\n  jq libjq1 libonig5\r\n0 upgraded, 3 newly installed, 0 to remove and 0 not upgraded.\r\n")
	fmt.Fprintf(&b, "\n\x1b7\x1b[0;%dr\x1b8\x1b[1A", rows-1)
	pkgs := []string{"libonig5:amd64", "libjq1:amd64", "jq"}
	bar := func(p int) {
		progress := fmt.Sprintf("Progress: [%3d%%]", p)
		width := cols - 4 - len(progress)
		done := width * p / 100
		fmt.Fprintf(&b, "\x1b7\x1b[%d;0f\x1b[42m\x1b[30m%s\x1b[49m\x1b[39m [%s%s] \x1b8", rows, progress, strings.Repeat("#", done), strings.Repeat(".", width-2-done))
	}
	p := 0
	for i, pkg := range pkgs {
		fmt.Fprintf(&b, "Selecting previously unselected package %s.\r\n", pkg)
		if i == 0 {
			b.WriteString("(Reading database ... \r(Reading database ... 5%\r(Reading database ... 100%\r(Reading database ... 12345 files and directories currently installed.)\r\n")
		}
		fmt.Fprintf(&b, "Preparing to unpack .../%s_1.0_amd64.deb ...\r\n", pkg)
		p += 10
		bar(p)
		fmt.Fprintf(&b, "Unpacking %s (1.0) ...\r\n", pkg)
		p += 10
		bar(p)
	}
	for _, pkg := range pkgs {
		fmt.Fprintf(&b, "Setting up %s (1.0) ...\r\n", pkg)
		p += 10
		bar(p)
	}
	b.WriteString("Processing triggers for man-db (2.11.2-2) ...\r\n")
	fmt.Fprintf(&b, "\n\x1b7\x1b[0;%dr\x1b8\x1b[1A\x1b[J", rows)
	b.WriteString("$ ")
	return b.String()
}

// readlineLong is bash editing a command longer than the screen is wide,
// under TERM=screen (whose cuu1 is ESC M): Home, a character inserted at
// the start, the rest redrawn, then End and Enter.
func readlineLong(cols int) string {
	cmd := "echo " + strings.Repeat("abcdefghij", 6) // wraps onto a second row
	var b strings.Builder
	b.WriteString("previous output line\r\n$ ")
	b.WriteString(cmd)
	// Home: up a row with ESC M, back to column 2.
	b.WriteString("\r\x1bM\x1b[2C")
	// insert "x": readline writes it and redraws the rest of the line.
	rest := "x" + cmd
	b.WriteString(rest[:cols-2])
	b.WriteString(rest[cols-2:])
	// back to just after the x: up a row, to column 3.
	b.WriteString("\r\x1bM\x1b[3C")
	// End, Enter.
	b.WriteString("\r\n\x1b[" + fmt.Sprint(len(rest)+2-cols) + "C\r\n")
	b.WriteString(strings.Repeat("abcdefghij", 6) + "\r\n$ ")
	return b.String()
}

// htopLike redraws a full screen with absolute moves, colours and erases.
func htopLike(cols, rows int) string {
	var b strings.Builder
	b.WriteString("$ htop\r\n\x1b[?1049h\x1b[22;0;0t\x1b[1;14r\x1b(B\x1b[m\x1b[4l\x1b[?7h\x1b[?1h\x1b=\x1b[?25l\x1b[39;49m\x1b[?1000h\x1b[H\x1b[2J")
	for frame := range 4 {
		b.WriteString("\x1b[1;3H\x1b[36m1 \x1b[39m\x1b[1m[\x1b[32m" + strings.Repeat("|", frame*5) + "\x1b[39m" + strings.Repeat(" ", 20-frame*5) + "\x1b[1m" + fmt.Sprintf("%4.1f%%", float64(frame)*12.5) + "]\x1b[m")
		b.WriteString("\x1b[2;3H\x1b[36mMem\x1b[39m\x1b[1m[\x1b[32m||||\x1b[34m||\x1b[33m|\x1b[39m" + fmt.Sprintf("%20s", "1.2G/7.7G") + "]\x1b[m")
		b.WriteString("\x1b[4;1H\x1b[30;42m  PID USER      PRI  NI  VIRT   RES S CPU% MEM%   TIME+  Command" + strings.Repeat(" ", cols-64) + "\x1b[m")
		for i := range rows - 6 {
			fmt.Fprintf(&b, "\x1b[%d;1H\x1b[K%5d root       20   0 %5dM  %4dM S %4.1f  0.%d  0:0%d.%02d /usr/bin/proc%d", 5+i, 100+i*(frame+1), 100+i, 10+i, float64(i*frame)/3, i, frame, i, i)
		}
		fmt.Fprintf(&b, "\x1b[%d;1H\x1b[30;46mF1\x1b[39;49mHelp  \x1b[30;46mF10\x1b[39;49mQuit\x1b[K", rows)
	}
	b.WriteString("\x1b[?1000l\x1b[" + fmt.Sprint(rows) + ";1H\x1b[?12l\x1b[?25h\x1b[?1049l\x1b[23;0;0t\r\x1b[?1l\x1b>$ ")
	return b.String()
}
