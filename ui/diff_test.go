package ui

import (
	"math/rand"
	"strings"
	"testing"
)

func render(ops []DiffOp) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteByte(op.Kind)
		b.WriteString(op.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDiffShowsTheReplacedDocument(t *testing.T) {
	before := strings.Split(`{
  "_id": ObjectId("5f1d"),
  "email": "ada@example.com",
  "name": "Ada",
  "roles": ["admin"]
}`, "\n")
	after := strings.Split(`{
  "_id": ObjectId("5f1d"),
  "email": "ada@example.com"
}`, "\n")
	want := ` {
   "_id": ObjectId("5f1d"),
-  "email": "ada@example.com",
-  "name": "Ada",
-  "roles": ["admin"]
+  "email": "ada@example.com"
 }
`
	if got := render(Diff(before, after)); got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
}

// Applying a diff's script to before must give after, and its edits must be
// as few as a longest-common-subsequence gives.
func TestDiffScriptRebuildsBothSidesMinimally(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 300 {
		a := randomLines(r, r.Intn(30))
		b := randomLines(r, r.Intn(30))
		ops := Diff(a, b)
		var gotA, gotB []string
		edits := 0
		for _, op := range ops {
			if op.Kind != '+' {
				gotA = append(gotA, op.Text)
			}
			if op.Kind != '-' {
				gotB = append(gotB, op.Text)
			}
			if op.Kind != ' ' {
				edits++
			}
		}
		if strings.Join(gotA, "\n") != strings.Join(a, "\n") || strings.Join(gotB, "\n") != strings.Join(b, "\n") {
			t.Fatalf("script does not rebuild the inputs:\n%s", render(ops))
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("%d edits, the minimum is %d", edits, want)
		}
	}
}

func randomLines(r *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string(rune('a' + r.Intn(4)))
	}
	return out
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// TestDraftFromADiffSaysSo: e (or a) on a diff saved "draft from", naming
// nothing.
func TestDraftFromADiffSaysSo(t *testing.T) {
	item := NewDoc("mongo find")
	item.Item = "20261203-abcd/c1"
	for d, want := range map[*Doc]string{NewDoc("diff c2 → c5"): "draft from diff c2 → c5", item: "draft from c1", NewDoc(""): "draft"} {
		if got := draftTitle(d); got != want {
			t.Errorf("draft of %q (%q): %q, want %q", d.Title, d.Item, got, want)
		}
	}
}
