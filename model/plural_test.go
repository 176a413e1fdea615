package model

import "testing"

func TestPluralCountsAsEnglishDoes(t *testing.T) {
	for _, c := range []struct {
		n          int
		noun, want string
	}{
		{1, "incident", "1 incident"},
		{0, "incident", "0 incidents"},
		{2, "verified copy", "2 verified copies"},
		{3, "match", "3 matches"},
		{2, "day", "2 days"},
		{1, "secret", "1 secret"},
		{5, "secret", "5 secrets"},
	} {
		if got := Plural(c.n, c.noun); got != c.want {
			t.Errorf("Plural(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
	if got := IsAre(1, "capture"); got != "1 capture is" {
		t.Errorf("IsAre(1) = %q", got)
	}
	if got := IsAre(2, "capture"); got != "2 captures are" {
		t.Errorf("IsAre(2) = %q", got)
	}
}
