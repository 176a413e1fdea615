package report

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// shellLike is n bytes of what a production shell shows: logs, listings,
// key=value configuration, JSON, with a secret every few hundred lines.
func shellLike(n int) []byte {
	rng := rand.New(rand.NewSource(1))
	lines := []string{
		"2026-11-26T15:41:33Z INFO GET /api/v1/users 200 12.5ms user=ops request_id=%08x",
		"drwxr-xr-x  2 root root 4096 Nov 26 15:41 /var/log/nginx",
		`{ "_id" : ObjectId("65f1a2%06x"), "name" : "Ada", "total" : 12 }`,
		"timeout = 30s\nretries = 3\nhost = db%d.prod.internal",
		"\x1b[32mok\x1b[0m   service %d healthy",
		"ERROR connection reset by peer (retry %d)",
	}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		if i%300 == 0 {
			fmt.Fprintf(&b, "export AWS_ACCESS_KEY_ID=AKIA%016d\n", i)
			continue
		}
		fmt.Fprintf(&b, lines[rng.Intn(len(lines))]+"\n", rng.Intn(1<<30))
	}
	return []byte(b.String()[:n])
}

func BenchmarkRedact(b *testing.B) {
	r, _ := NewRedactor(nil)
	text := shellLike(1 << 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		r.Redact(text)
	}
}
