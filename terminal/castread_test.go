package terminal

import (
	"encoding/json"
	"testing"
)

// FuzzParseEventAgreesWithEncodingJSON: the fast event parser, where it
// answers, reads a line exactly as encoding/json does.
func FuzzParseEventAgreesWithEncodingJSON(f *testing.F) {
	f.Add([]byte(`[0.123456, "o", "caf\u00e9 \u001b[31mred\r\n \"q\" \\ \ud83d\ude00"]`))
	f.Add([]byte(`[1, "r", "80x24"]`))
	f.Add([]byte(`[01.5, "o", "x"]`))
	f.Add([]byte(`[2.5, "o", "\ud800"]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		at, kind, data, ok := parseEvent(line, nil)
		if !ok {
			return
		}
		var ev [3]json.RawMessage
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("%q: parsed fast, but encoding/json says %v", line, err)
		}
		var wantAt float64
		var wantKind, wantData string
		if json.Unmarshal(ev[0], &wantAt) != nil || json.Unmarshal(ev[1], &wantKind) != nil || json.Unmarshal(ev[2], &wantData) != nil {
			t.Fatalf("%q: parsed fast, but its parts do not decode", line)
		}
		if at != wantAt || kind != wantKind || string(data) != wantData {
			t.Fatalf("%q: fast (%v %q %q), encoding/json (%v %q %q)", line, at, kind, data, wantAt, wantKind, wantData)
		}
	})
}
