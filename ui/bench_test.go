package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

// millionLines is a 1,000,000-line capture of shell-like output, some of it
// coloured, with one needle on the last line.
func millionLines() []byte {
	var b strings.Builder
	for i := range 1_000_000 {
		switch {
		case i == 999_999:
			b.WriteString("the needle on the last line\n")
		case i%10 == 0:
			fmt.Fprintf(&b, "\x1b[32m2026-11-26T16:%02d:%02dZ\x1b[0m \x1b[1mINFO\x1b[0m request %d done in %dms\n", i/60%60, i%60, i, i%997)
		default:
			fmt.Fprintf(&b, "2026-11-26T16:%02d:%02dZ INFO request %d done in %dms\n", i/60%60, i%60, i, i%997)
		}
	}
	return []byte(b.String())
}

func benchViewer(b *testing.B) (*Viewer, tcell.SimulationScreen, *Doc) {
	text := millionLines()
	d := DocFromText("million", text)
	if d.Len() != 1_000_000 {
		b.Fatalf("%d lines", d.Len())
	}
	screen := tcell.NewSimulationScreen("UTF-8")
	screen.Init()
	screen.SetSize(200, 60)
	v := NewViewer()
	v.SetRect(0, 0, 200, 60)
	v.SetDoc(d, false)
	b.ReportMetric(float64(len(text))/1e6, "MB-text")
	return v, screen, d
}

// BenchmarkViewerFirstDraw: opening a loaded million-line capture.
func BenchmarkViewerFirstDraw(b *testing.B) {
	v, screen, d := benchViewer(b)
	for b.Loop() {
		v.SetDoc(d, false)
		v.Draw(screen)
		screen.Show()
	}
}

// BenchmarkViewerPageDown: one page down in the middle of it.
func BenchmarkViewerPageDown(b *testing.B) {
	v, screen, _ := benchViewer(b)
	v.Draw(screen)
	v.MoveTo(500_000)
	for b.Loop() {
		v.page(1)
		v.Draw(screen)
		screen.Show()
		if v.cur > 900_000 {
			v.MoveTo(500_000)
		}
	}
}

// BenchmarkViewerSearchToLastLine: / from the top to a match on the last line.
func BenchmarkViewerSearchToLastLine(b *testing.B) {
	v, screen, _ := benchViewer(b)
	f, _ := NewFinder("needle", false)
	for b.Loop() {
		v.MoveTo(0)
		v.SetFind(f)
		if !v.FindNext(true) || v.cur != 999_999 {
			b.Fatalf("found line %d", v.cur)
		}
		v.Draw(screen)
		screen.Show()
	}
}

// BenchmarkDocLoad: a million lines through the emulator into a Doc, with
// what it holds against the text's size.
func BenchmarkDocLoad(b *testing.B) {
	text := millionLines()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		DocFromText("million", text)
	}
	d := DocFromText("million", text)
	b.ReportMetric(float64(docBytes(d))/float64(len(text)), "mem/text")
}

// docBytes is what a Doc holds in memory.
func docBytes(d *Doc) int {
	n := cap(d.ends)*8 + cap(d.times)*4 + cap(d.base)*8 + cap(d.first)*8
	for _, b := range d.blocks {
		n += cap(b)
	}
	return n
}

// BenchmarkViewerExtractHugeLine: x on a line of 200k "{" (nothing to
// extract) and on 100k "{" then 100k "}" (the whole line, then x again one
// level in), through the viewer as the key does it, with a draw.
func BenchmarkViewerExtractHugeLine(b *testing.B) {
	for _, c := range []struct{ name, text string }{
		{"open-200k", strings.Repeat("{", 200000)},
		{"balanced-200k", strings.Repeat("{", 100000) + strings.Repeat("}", 100000)},
	} {
		d := DocFromText("huge", []byte(c.text+"\n"))
		if d.Len() != 1 {
			b.Fatalf("%d lines", d.Len())
		}
		screen := tcell.NewSimulationScreen("UTF-8")
		screen.Init()
		screen.SetSize(200, 60)
		v := NewViewer()
		v.SetRect(0, 0, 200, 60)
		v.SetDoc(d, false)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				v.Extract()
				v.MarkedText()
				v.Draw(screen)
			}
		})
	}
}
