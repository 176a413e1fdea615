package ui

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"calm/model"
)

// millionLineSession is millionLines as a recorded session's asciicast
// stream: CR LF line ends (a terminal's), events of 4 KiB.
func millionLineSession() []byte {
	out := bytes.ReplaceAll(millionLines(), []byte("\n"), []byte("\r\n"))
	var cast bytes.Buffer
	cast.WriteString(`{"version": 2, "width": 200, "height": 50}` + "\n")
	for i := 0; len(out) > 0; i++ {
		k := min(len(out), 4096)
		data, _ := json.Marshal(string(out[:k]))
		cast.WriteString("[" + strconv.FormatFloat(float64(i)/1000, 'f', 6, 64) + `, "o", `)
		cast.Write(data)
		cast.WriteString("]\n")
		out = out[k:]
	}
	return cast.Bytes()
}

// BenchmarkSessionLoad: a million-line session's stream read, emulated as
// a terminal and into a Doc, as the viewer opens it.
func BenchmarkSessionLoad(b *testing.B) {
	cast := millionLineSession()
	b.SetBytes(int64(len(cast)))
	c := model.Capture{ID: "s1", Incident: "i", Recording: &model.Recording{Cols: 200, Rows: 50}}
	for b.Loop() {
		l := newDocLoader(c)
		l.Write(cast)
		l.cast.Close()
		l.emu.Close()
		l.publish()
		if n := l.doc.Len(); n != 1_000_000 {
			b.Fatalf("%d lines", n)
		}
	}
}
