package ui

// DiffOp is one line of a line-by-line diff.
type DiffOp struct {
	Kind byte // ' ' same, '-' only in before, '+' only in after
	Text string
}

// maxEdits bounds the diff's work: two captures that differ in more lines
// than this are shown as one replaced block rather than making the person
// wait on a quadratic search.
const maxEdits = 2000

// Diff compares two texts line by line with Myers' algorithm, after cutting
// the common head and tail, and returns the shortest edit script.
func Diff(before, after []string) []DiffOp {
	head := 0
	for head < len(before) && head < len(after) && before[head] == after[head] {
		head++
	}
	tail := 0
	for tail < len(before)-head && tail < len(after)-head && before[len(before)-1-tail] == after[len(after)-1-tail] {
		tail++
	}
	var out []DiffOp
	for _, s := range before[:head] {
		out = append(out, DiffOp{' ', s})
	}
	out = append(out, myers(before[head:len(before)-tail], after[head:len(after)-tail])...)
	for _, s := range before[len(before)-tail:] {
		out = append(out, DiffOp{' ', s})
	}
	return out
}

func myers(a, b []string) []DiffOp {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return replaceAll(a, b)
	}
	limit := min(n+m, maxEdits)
	off := limit + 1
	v := make([]int, 2*limit+3)
	var trace [][]int
	for d := 0; d <= limit; d++ {
		// Keep only the diagonals round d can have reached: D² ints at most.
		trace = append(trace, append([]int(nil), v[off-d:off+d+1]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(a, b, trace, d)
			}
		}
	}
	return replaceAll(a, b)
}

func backtrack(a, b []string, trace [][]int, d int) []DiffOp {
	var rev []DiffOp
	x, y := len(a), len(b)
	for ; d > 0; d-- {
		v, off := trace[d], d // v[off+k] is diagonal k before round d
		k := x - y
		var prevK int
		if k == -d || k != d && v[off+k-1] < v[off+k+1] {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[off+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, DiffOp{' ', a[x]})
		}
		if x == prevX {
			y--
			rev = append(rev, DiffOp{'+', b[y]})
		} else {
			x--
			rev = append(rev, DiffOp{'-', a[x]})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, DiffOp{' ', a[x]})
	}
	out := make([]DiffOp, len(rev))
	for i, op := range rev {
		out[len(rev)-1-i] = op
	}
	return out
}

func replaceAll(a, b []string) []DiffOp {
	out := make([]DiffOp, 0, len(a)+len(b))
	for _, s := range a {
		out = append(out, DiffOp{'-', s})
	}
	for _, s := range b {
		out = append(out, DiffOp{'+', s})
	}
	return out
}
