// Command gen writes N megabytes of text that looks like a shell session (log
// lines, Mongo shell output, colours, \r progress bars) for calm's benchmarks.
package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen MEGABYTES > FILE")
		os.Exit(2)
	}
	mb, err := strconv.Atoi(os.Args[1])
	if err != nil || mb <= 0 {
		fmt.Fprintln(os.Stderr, "gen: MEGABYTES must be a positive number")
		os.Exit(2)
	}
	r := rand.New(rand.NewSource(1))
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()
	left := mb << 20
	for line := 0; left > 0; line++ {
		var s string
		switch r.Intn(6) {
		case 0:
			s = fmt.Sprintf("2026-11-26T15:%02d:%02d.%03dZ INFO  api request id=%08x path=/v1/orders/%d status=200 took=%dms\n", r.Intn(60), r.Intn(60), r.Intn(1000), r.Uint32(), r.Intn(1e6), r.Intn(900))
		case 1:
			s = fmt.Sprintf("{ _id: ObjectId(\"65f1%020x\"), user: \"u%d\", total: NumberLong(%d), at: ISODate(\"2026-11-26T10:%02d:00Z\") }\n", r.Uint64()>>16, r.Intn(1e5), r.Intn(1e6), r.Intn(60))
		case 2:
			s = fmt.Sprintf("drwxr-xr-x  %d root root %8d Nov 26 15:%02d /var/lib/app/data/shard-%03d\n", 1+r.Intn(9), r.Intn(1e7), r.Intn(60), r.Intn(1000))
		case 3:
			s = fmt.Sprintf("\x1b[1;32m✔\x1b[0m step %d passed \x1b[2m(%d ms)\x1b[0m\n", line, r.Intn(5000))
		case 4:
			s = fmt.Sprintf("downloading %3d%% [%-20s]\r", r.Intn(101), "====================="[:r.Intn(21)])
		default:
			s = fmt.Sprintf("\x1b[31mERROR\x1b[0m worker-%d: connection reset by peer (retry %d of 5)\n", r.Intn(64), 1+r.Intn(5))
		}
		if len(s) > left {
			s = s[:left]
		}
		out.WriteString(s)
		left -= len(s)
	}
}
