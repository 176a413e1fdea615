package storage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkSearch searches CALM_BENCH_MB (default 50) of shell-like text
// for a literal and a regular expression.
func BenchmarkSearch(b *testing.B) {
	mb := 50
	if v, err := strconv.Atoi(getenv("CALM_BENCH_MB")); err == nil {
		mb = v
	}
	text, err := exec.Command("go", "run", "../bench/gen", strconv.Itoa(mb)).Output()
	if err != nil {
		b.Fatal(err)
	}
	db := openBenchDB(b)
	w, _ := NewCaptureWriter(db, "", NewCapture{Title: "corpus", Source: "test"})
	w.Write(text)
	if _, err := w.Close(); err != nil {
		b.Fatal(err)
	}
	for _, q := range []SearchQuery{
		{Pattern: "connection reset by peer", Literal: true}, // a fifth of the lines
		{Pattern: "worker-15: connection reset", Literal: true},
		{Pattern: `ObjectId\("65f1[0-9a-f]*"\), user: "u4[0-9]{4}"`},
	} {
		want := bytes.Count(text, []byte(q.Pattern))
		b.Run(fmt.Sprintf("%.12s", q.Pattern), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				n := 0
				db.Search(q, func(Match) error { n++; return nil })
				if q.Literal && n != want {
					b.Fatalf("%d matches, want %d", n, want)
				}
			}
		})
	}
}

func getenv(k string) string { return os.Getenv(k) }

func openBenchDB(b *testing.B) *DB {
	db, err := Open(Options{Path: filepath.Join(b.TempDir(), "calm.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
