package storage

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// searchMatrix is one query of each kind grep and ripgrep plan apart, over
// bench/gen's text (bench/run times the same kinds against grep).
var searchMatrix = []struct {
	name string
	q    SearchQuery
}{
	{"literal-F", SearchQuery{Pattern: "worker-15: connection reset", Literal: true}},
	{"literal", SearchQuery{Pattern: "worker-15: connection reset"}},
	{"literal-frequent", SearchQuery{Pattern: "connection reset by peer", Literal: true}}, // a sixth of the lines
	{"i-literal", SearchQuery{Pattern: "WORKER-15: Connection", IgnoreCase: true}},
	{"i-regex", SearchQuery{Pattern: `error.*worker-1[0-9]:`, IgnoreCase: true}},
	{"alternation-2", SearchQuery{Pattern: `timeout|shard-042`}},
	{"alternation-10", SearchQuery{Pattern: `timeout|refund|shard-042|u12345|panic|deadlock|oom-killer|segfault|ECONNREFUSED|status=503`}},
	{"anchored-start", SearchQuery{Pattern: `^drwxr-xr-x  9 root`}},
	{"anchored-end", SearchQuery{Pattern: `status=200 took=12ms$`}},
	{"class-d", SearchQuery{Pattern: `took=\d{3}ms`}},
	{"class-b", SearchQuery{Pattern: `\bu4\d{4}\b`}},
	{"class-s", SearchQuery{Pattern: `root\s+root\s+12`}},
	{"regex", SearchQuery{Pattern: `ObjectId\("65f1[0-9a-f]*"\), user: "u4[0-9]{4}"`}},
	{"no-match", SearchQuery{Pattern: "zebra-quokka", Literal: true}},
	{"every-line", SearchQuery{Pattern: "^"}},
	// grep -l: the first line found ends a capture's search.
	{"files-with-matches", SearchQuery{Pattern: "connection reset by peer", Literal: true, PerCapture: 1, NoText: true}},
}

// BenchmarkSearch searches CALM_BENCH_MB (default 50) of shell-like text
// with each query of the matrix.
func BenchmarkSearch(b *testing.B) {
	mb := 50
	if v, err := strconv.Atoi(os.Getenv("CALM_BENCH_MB")); err == nil {
		mb = v
	}
	text, err := exec.Command("go", "run", "../bench/gen", strconv.Itoa(mb)).Output()
	if err != nil {
		b.Fatal(err)
	}
	db := openTestDB(b)
	save(b, db, "corpus", text)
	for _, m := range searchMatrix {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			n := 0
			for b.Loop() {
				n = 0
				if err := db.Search(context.Background(), m.q, func(Match) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "lines")
		})
	}
}
