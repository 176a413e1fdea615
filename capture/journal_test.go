package capture

import (
	"encoding/json"
	"testing"
)

func FuzzJournalStringMatchesEncodingJSON(f *testing.F) {
	f.Add("plain \x1b[31mred\r\n \"quoted\" \\ tab\t \x00 caf\xc3\xa9 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		ours := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(ours, &back); err != nil {
			t.Fatalf("%q does not decode: %v", ours, err)
		}
		var want string
		std, _ := json.Marshal(s)
		json.Unmarshal(std, &want)
		if back != want {
			t.Fatalf("%q decodes to %q, encoding/json's to %q", ours, back, want)
		}
	})
}
