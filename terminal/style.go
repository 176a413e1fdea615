package terminal

import (
	"bytes"
	"strconv"
)

// Color is a terminal colour: 0 is the terminal's default, 1..256 a palette
// index plus one, and RGB-flagged values a 24-bit colour.
type Color uint32

// ColorRGB flags a 24-bit colour in its low 24 bits.
const ColorRGB Color = 1 << 25

// PaletteColor returns palette colour n (0..255).
func PaletteColor(n int) Color { return Color(n + 1) }

// Palette returns the palette index of c, or -1 when it is the default or RGB.
func (c Color) Palette() int {
	if c == 0 || c&ColorRGB != 0 {
		return -1
	}
	return int(c) - 1
}

// Attr is a set of text attributes.
type Attr uint16

const (
	Bold Attr = 1 << iota
	Dim
	Italic
	Underline
	Blink
	Reverse
	Strike
)

// Style is how a cell looks, as SGR sequences set it.
type Style struct {
	Fg, Bg Color
	Attrs  Attr
}

// IsZero reports the terminal's default look.
func (s Style) IsZero() bool { return s == Style{} }

// ApplySGR applies the parameters of one SGR sequence (CSI ... m). Colon
// sub-parameters (38:2::r:g:b) arrive flattened, as the parser gives them.
func (s *Style) ApplySGR(params []int) {
	if len(params) == 0 {
		*s = Style{}
		return
	}
	for i := 0; i < len(params); i++ {
		p := params[i]
		switch {
		case p == 0:
			*s = Style{}
		case p == 1:
			s.Attrs |= Bold
		case p == 2:
			s.Attrs |= Dim
		case p == 3:
			s.Attrs |= Italic
		case p == 4:
			s.Attrs |= Underline
		case p == 5 || p == 6:
			s.Attrs |= Blink
		case p == 7:
			s.Attrs |= Reverse
		case p == 9:
			s.Attrs |= Strike
		case p == 21 || p == 24:
			s.Attrs &^= Underline
		case p == 22:
			s.Attrs &^= Bold | Dim
		case p == 23:
			s.Attrs &^= Italic
		case p == 25:
			s.Attrs &^= Blink
		case p == 27:
			s.Attrs &^= Reverse
		case p == 29:
			s.Attrs &^= Strike
		case p >= 30 && p <= 37:
			s.Fg = PaletteColor(p - 30)
		case p == 38 || p == 48:
			c, used := extendedColor(params[i+1:])
			i += used
			if p == 38 {
				s.Fg = c
			} else {
				s.Bg = c
			}
		case p == 39:
			s.Fg = 0
		case p >= 40 && p <= 47:
			s.Bg = PaletteColor(p - 40)
		case p == 49:
			s.Bg = 0
		case p >= 90 && p <= 97:
			s.Fg = PaletteColor(p - 90 + 8)
		case p >= 100 && p <= 107:
			s.Bg = PaletteColor(p - 100 + 8)
		}
	}
}

// extendedColor reads "5;n" or "2;r;g;b" and says how many parameters it used.
func extendedColor(p []int) (Color, int) {
	if len(p) == 0 {
		return 0, 0
	}
	switch p[0] {
	case 5:
		if len(p) < 2 {
			return 0, len(p)
		}
		return PaletteColor(min(max(p[1], 0), 255)), 2
	case 2:
		if len(p) < 4 {
			return 0, len(p)
		}
		c := func(v int) Color { return Color(min(max(v, 0), 255)) }
		return ColorRGB | c(p[1])<<16 | c(p[2])<<8 | c(p[3]), 4
	}
	return 0, 1
}

// AppendSGR appends the SGR sequence that sets s from the default look.
func (s Style) AppendSGR(dst []byte) []byte {
	dst = append(dst, "\x1b[0"...)
	for i, code := range [...]string{"1", "2", "3", "4", "5", "7", "9"} {
		if s.Attrs&(1<<i) != 0 {
			dst = append(dst, ';')
			dst = append(dst, code...)
		}
	}
	dst = appendColor(dst, s.Fg, "38")
	dst = appendColor(dst, s.Bg, "48")
	return append(dst, 'm')
}

func appendColor(dst []byte, c Color, lead string) []byte {
	if c == 0 {
		return dst
	}
	dst = append(dst, ';')
	dst = append(dst, lead...)
	if c&ColorRGB != 0 {
		dst = append(dst, ";2;"...)
		dst = strconv.AppendInt(dst, int64(c>>16&0xff), 10)
		dst = append(dst, ';')
		dst = strconv.AppendInt(dst, int64(c>>8&0xff), 10)
		dst = append(dst, ';')
		return strconv.AppendInt(dst, int64(c&0xff), 10)
	}
	dst = append(dst, ";5;"...)
	return strconv.AppendInt(dst, int64(c.Palette()), 10)
}

// StyledText walks a line of derived text (text with SGR sequences only, as
// the Emulator writes it) and calls f with each run of text and its style.
func StyledText(line []byte, f func(text []byte, st Style)) {
	var st Style
	var params []int
	start := 0
	for i := 0; i < len(line); {
		if line[i] != 0x1b || i+1 >= len(line) || line[i+1] != '[' {
			i++
			continue
		}
		if start < i {
			f(line[start:i], st)
		}
		j := i + 2
		params = params[:0]
		n, have := 0, false
		for ; j < len(line); j++ {
			c := line[j]
			if c >= '0' && c <= '9' {
				n = min(n*10+int(c-'0'), 1<<16)
				have = true
				continue
			}
			if c == ';' || c == ':' {
				params = append(params, n)
				n, have = 0, false
				continue
			}
			break
		}
		if have || len(params) > 0 {
			params = append(params, n)
		}
		if j < len(line) && line[j] == 'm' {
			st.ApplySGR(params)
		}
		i = min(j+1, len(line))
		start = i
	}
	if start < len(line) {
		f(line[start:], st)
	}
}

// PlainText returns a line of derived text without its SGR sequences.
func PlainText(line []byte) []byte {
	if bytes.IndexByte(line, 0x1b) < 0 {
		return line
	}
	out := make([]byte, 0, len(line))
	StyledText(line, func(text []byte, _ Style) { out = append(out, text...) })
	return out
}
