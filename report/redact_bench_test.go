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

// BenchmarkRedactColouredLog is the HTML benchmark's session as the
// redactor reads it: coloured log lines, an SGR sequence in each.
func BenchmarkRedactColouredLog(b *testing.B) {
	r, _ := NewRedactor(nil)
	rng := rand.New(rand.NewSource(2))
	var text strings.Builder
	for i := 0; text.Len() < 1<<20; i++ {
		fmt.Fprintf(&text, "2026-11-26T14:%02d:%02d.%03dZ \x1b[36mINFO\x1b[0m req=%08x user=%d path=/api/v1/orders/%d status=%d took=%dms\r\n",
			i/60000%60, i/1000%60, i%1000, rng.Uint32(), rng.Intn(100000), rng.Intn(1000000), 200+rng.Intn(4)*100, rng.Intn(900))
	}
	b.SetBytes(int64(text.Len()))
	for b.Loop() {
		r.Redact([]byte(text.String()))
	}
}
