package report

import (
	"bytes"
	"fmt"
	"html"
	"strconv"
	"strings"

	"calm/sanitize"
)

// sgrStyle is the graphic rendition in force: colours as palette indexes
// (-1 the default, 0-255) or 24-bit values (rgb set).
type sgrStyle struct {
	fg, bg                     int
	fgRGB, bgRGB               bool
	bold, dim, italic, under   bool
	inverse, strike, invisible bool
}

var plainStyle = sgrStyle{fg: -1, bg: -1}

// htmlLines turns captured terminal text into HTML lines: colours and
// attributes become CSS classes (the 16 named colours, which follow the
// page's theme) or inline colours (the 256-colour cube, 24-bit); every other
// escape sequence and control character is removed, and the text escaped.
// A carriage return inside a line keeps what was written after it, as the
// terminal showed it.
func htmlLines(text []byte) []string {
	var lines []string
	st := plainStyle
	var line strings.Builder
	var run []byte
	runStyle := st
	flush := func() {
		if len(run) == 0 {
			return
		}
		visible := sanitize.Text(run)
		run = run[:0]
		if len(visible) == 0 {
			return
		}
		if open := runStyle.span(); open != "" {
			line.WriteString(open)
			line.WriteString(html.EscapeString(string(visible)))
			line.WriteString("</span>")
		} else {
			line.WriteString(html.EscapeString(string(visible)))
		}
	}
	for len(text) > 0 {
		i := bytes.IndexAny(text, "\x1b\r\n")
		if i < 0 {
			run = append(run, text...)
			break
		}
		run = append(run, text[:i]...)
		switch c := text[i]; {
		case c == '\n':
			flush()
			lines = append(lines, line.String())
			line.Reset()
			text = text[i+1:]
		case c == '\r':
			text = text[i+1:]
			// CRLF ends the line; a lone CR rewrites it.
			if len(text) > 0 && text[0] != '\n' && text[0] != '\r' {
				run = run[:0]
				line.Reset()
			}
		default: // ESC
			params, n, ok := sgrAt(text[i:])
			if !ok {
				// Not a colour: the sanitiser removes it with the run.
				run = append(run, c)
				text = text[i+1:]
				continue
			}
			flush()
			st.apply(params)
			runStyle = st
			text = text[i+n:]
		}
	}
	flush()
	if line.Len() > 0 {
		lines = append(lines, line.String())
	}
	return lines
}

// sgrAt reads an SGR sequence (ESC [ params m) at the start of p.
func sgrAt(p []byte) (params []int, n int, ok bool) {
	if len(p) < 3 || p[1] != '[' {
		return nil, 0, false
	}
	end := 2
	for end < len(p) && end < 64 && (p[end] >= '0' && p[end] <= '9' || p[end] == ';' || p[end] == ':') {
		end++
	}
	if end >= len(p) || p[end] != 'm' {
		return nil, 0, false
	}
	for _, f := range strings.FieldsFunc(string(p[2:end]), func(r rune) bool { return r == ';' || r == ':' }) {
		v, err := strconv.Atoi(f)
		if err != nil {
			v = 0
		}
		params = append(params, v)
	}
	if len(params) == 0 {
		params = []int{0}
	}
	return params, end + 1, true
}

func (s *sgrStyle) apply(params []int) {
	for i := 0; i < len(params); i++ {
		switch p := params[i]; {
		case p == 0:
			*s = plainStyle
		case p == 1:
			s.bold = true
		case p == 2:
			s.dim = true
		case p == 3:
			s.italic = true
		case p == 4:
			s.under = true
		case p == 7:
			s.inverse = true
		case p == 8:
			s.invisible = true
		case p == 9:
			s.strike = true
		case p == 22:
			s.bold, s.dim = false, false
		case p == 23:
			s.italic = false
		case p == 24:
			s.under = false
		case p == 27:
			s.inverse = false
		case p == 28:
			s.invisible = false
		case p == 29:
			s.strike = false
		case p >= 30 && p <= 37:
			s.fg, s.fgRGB = p-30, false
		case p == 39:
			s.fg, s.fgRGB = -1, false
		case p >= 40 && p <= 47:
			s.bg, s.bgRGB = p-40, false
		case p == 49:
			s.bg, s.bgRGB = -1, false
		case p >= 90 && p <= 97:
			s.fg, s.fgRGB = p-90+8, false
		case p >= 100 && p <= 107:
			s.bg, s.bgRGB = p-100+8, false
		case p == 38 || p == 48:
			c, rgb, used := extendedColour(params[i+1:])
			i += used
			if c < 0 {
				continue
			}
			if p == 38 {
				s.fg, s.fgRGB = c, rgb
			} else {
				s.bg, s.bgRGB = c, rgb
			}
		}
	}
}

// extendedColour reads "5;n" or "2;r;g;b" after a 38 or 48.
func extendedColour(p []int) (c int, rgb bool, used int) {
	switch {
	case len(p) >= 2 && p[0] == 5:
		return min(max(p[1], 0), 255), false, 2
	case len(p) >= 4 && p[0] == 2:
		ch := func(v int) int { return min(max(v, 0), 255) }
		return ch(p[1])<<16 | ch(p[2])<<8 | ch(p[3]), true, 4
	}
	return -1, false, len(p)
}

// span opens a span for the style, or returns "" for plain text.
func (s sgrStyle) span() string {
	if s == plainStyle {
		return ""
	}
	fg, bg, fgRGB, bgRGB := s.fg, s.bg, s.fgRGB, s.bgRGB
	var class []string
	if s.inverse {
		fg, bg, fgRGB, bgRGB = bg, fg, bgRGB, fgRGB
		class = append(class, "inv")
	}
	var style []string
	colour := func(prefix, prop string, c int, rgb bool) {
		switch {
		case c < 0:
		case rgb:
			style = append(style, fmt.Sprintf("%s:#%06x", prop, c))
		case c < 16:
			class = append(class, prefix+strconv.Itoa(c))
		default:
			style = append(style, fmt.Sprintf("%s:#%06x", prop, xterm256(c)))
		}
	}
	colour("f", "color", fg, fgRGB)
	colour("b", "background-color", bg, bgRGB)
	for _, a := range []struct {
		on   bool
		name string
	}{{s.bold, "bold"}, {s.dim, "dim"}, {s.italic, "it"}, {s.under, "ul"}, {s.strike, "st"}, {s.invisible, "hid"}} {
		if a.on {
			class = append(class, a.name)
		}
	}
	out := `<span class="` + strings.Join(class, " ") + `"`
	if len(style) > 0 {
		out += ` style="` + strings.Join(style, ";") + `"`
	}
	return out + ">"
}

// xterm256 is the RGB value of a colour of xterm's 256-colour cube or grey
// ramp (16-255).
func xterm256(c int) int {
	if c >= 232 {
		v := 8 + (c-232)*10
		return v<<16 | v<<8 | v
	}
	c -= 16
	level := func(v int) int {
		if v == 0 {
			return 0
		}
		return 55 + v*40
	}
	return level(c/36)<<16 | level(c/6%6)<<8 | level(c%6)
}
