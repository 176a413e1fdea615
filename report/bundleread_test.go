package report

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type member struct {
	name string
	typ  byte
	data []byte
	link string
}

func craft(t testing.TB, members []member) []byte {
	data, err := tarOf(members)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tarOf writes members as a gzipped tar; an error is a header tar cannot
// write at all (a fuzzer's name with a trailing slash).
func tarOf(members []member) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o600, Size: int64(len(m.data)), Linkname: m.link, ModTime: time.Unix(1795701600, 0)}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		tw.Write(m.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes(), nil
}

// genuine is a real bundle's members, as calm wrote them.
func genuine(t *testing.T) ([]member, string) {
	db, r := scriptedIncident(t)
	red, _ := NewRedactor(nil)
	var buf bytes.Buffer
	if _, err := Bundle(context.Background(), db, r, &buf, red, time.Now()); err != nil {
		t.Fatal(err)
	}
	gz, _ := gzip.NewReader(&buf)
	tr := tar.NewReader(gz)
	var ms []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		data, _ := io.ReadAll(tr)
		ms = append(ms, member{name: h.Name, typ: h.Typeflag, data: data})
	}
	return ms, "calm-" + r.Incident.ID
}

func sumsOf(ms []member, root string) []byte {
	var b strings.Builder
	for _, m := range ms {
		if m.typ == tar.TypeDir || strings.HasSuffix(m.name, "/SHA256SUMS") {
			continue
		}
		s := sha256.Sum256(m.data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(s[:]), strings.TrimPrefix(m.name, root+"/"))
	}
	return []byte(b.String())
}

// TestBundleThatCouldLieIsRefusedByVerifyAndOpen crafts bundles whose
// names could make a verifier and a reader see different files: each is
// refused, with one line, by both.
func TestBundleThatCouldLieIsRefusedByVerifyAndOpen(t *testing.T) {
	ms, root := genuine(t)
	var record member
	for _, m := range ms {
		if m.name == root+"/incident.json" {
			record = m
		}
	}
	forged := member{name: root + "/incident.json", data: bytes.Replace(record.data, []byte("users collection"), []byte("nothing happened"), 1)}
	without := func(name string) []member {
		var out []member
		for _, m := range ms {
			if m.name != name {
				out = append(out, m)
			}
		}
		return out
	}
	rest := without(root + "/incident.json")
	cases := map[string][]member{
		// The attack from the issue: the forged record first, the genuine
		// one under a second spelling of its name.
		"dot slash":     append([]member{forged, {name: root + "/./incident.json", data: record.data}}, rest...),
		"double slash":  append([]member{forged, {name: root + "//incident.json", data: record.data}}, rest...),
		"duplicate":     append([]member{forged}, ms...),
		"second root":   append(append([]member{}, ms...), member{name: "calm-other/incident.json", data: forged.data}),
		"parent":        append(append([]member{}, ms...), member{name: root + "/../evil", data: []byte("x")}),
		"absolute":      append([]member{{name: "/" + root + "/incident.json", data: forged.data}}, ms...),
		"symlink":       append(append([]member{}, ms...), member{name: root + "/captures/c9.txt", typ: tar.TypeSymlink, link: "/etc/shadow"}),
		"hard link":     append(append([]member{}, ms...), member{name: root + "/captures/c9.txt", typ: tar.TypeLink, link: root + "/incident.json"}),
		"not calm root": {{name: "x/incident.json", data: record.data}},
		"file as root":  {{name: root, data: []byte("x")}},
	}
	dir := t.TempDir()
	for name, members := range cases {
		t.Run(name, func(t *testing.T) {
			data := craft(t, members)
			_, _, verr := VerifyBundle(bytes.NewReader(data))
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".tar.gz")
			os.WriteFile(p, data, 0o600)
			bs, oerr := OpenBundle(p)
			if bs != nil {
				inc, _ := bs.CurrentIncident()
				bs.Close()
				t.Fatalf("opened, showing %q", inc.Title)
			}
			for _, err := range []error{verr, oerr} {
				if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "do not trust") {
					t.Fatalf("verify: %v; open: %v", verr, oerr)
				}
			}
		})
	}
	// The genuine bundle still passes both, and leaves nothing behind.
	p := filepath.Join(dir, "genuine.tar.gz")
	os.WriteFile(p, craft(t, ms), 0o600)
	bs, err := OpenBundle(p)
	if err != nil {
		t.Fatal(err)
	}
	var c1 bytes.Buffer
	if err := bs.WriteContent(context.Background(), "c1", 0, &c1); err != nil || !strings.Contains(c1.String(), "Ada") {
		t.Fatalf("c1 from the bundle: %v %q", err, c1.String())
	}
	// What review shows of c1's copies is the bundle's redacted file, not
	// the origin's copies, which cannot be checked from here.
	caps, _ := bs.Captures("")
	if sum := sha256.Sum256(c1.Bytes()); len(caps) == 0 || len(caps[0].Copies) != 1 || caps[0].Copies[0].Kind != "bundle" || caps[0].SHA256 != hex.EncodeToString(sum[:]) || caps[0].Copies[0].SHA256 != caps[0].SHA256 {
		t.Fatalf("c1 under review: %+v", caps)
	}
	if rep, err := bs.Verify(context.Background(), ""); err != nil || rep.Bundle != p || len(rep.Problems) != 0 {
		t.Fatalf("verify of the bundle under review: %+v, %v", rep, err)
	}
	// A reader that has gone (a review quit) reads nothing more.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bs.WriteContent(gone, "c1", 0, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("c1 from the bundle after its context ended: %v", err)
	}
	if _, err := bs.Verify(gone, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("verify of the bundle after its context ended: %v", err)
	}
	bs.Close()
	if _, err := os.Stat(bs.dir.Name()); !os.IsNotExist(err) {
		t.Fatalf("Close left the unpacked files: %v", err)
	}
	// A manifest listing a name twice, or a name written another way, is refused.
	for _, sums := range []string{"dup", "dot"} {
		s := sumsOf(ms, root)
		first, _, _ := strings.Cut(string(s), "\n")
		switch sums {
		case "dup":
			s = append(s, first+"\n"...)
		case "dot":
			s = append(s, strings.Replace(first, "  ", "  ./", 1)+"\n"...)
		}
		var ms2 []member
		for _, m := range ms {
			if strings.HasSuffix(m.name, "/SHA256SUMS") {
				m.data = s
			}
			ms2 = append(ms2, m)
		}
		if _, _, err := VerifyBundle(bytes.NewReader(craft(t, ms2))); err == nil || !strings.Contains(err.Error(), "SHA256SUMS") {
			t.Fatalf("manifest %s: %v", sums, err)
		}
	}
}

// zeroBomb writes a bundle whose one capture is size bytes of zeros (about
// a thousandth of that, compressed), with a manifest that matches.
//
// Compressing 1 GiB took seconds of CPU. A MiB of zeros is compressed once
// between two sync flushes instead: its deflate blocks start on a byte and
// refer only to the zeros before them, so the same bytes stand for every
// MiB of zeros after the first. The gzip header and trailer (CRC-32 and
// size of the whole) are written here (RFC 1952).
func zeroBomb(t *testing.T, path string, size int64) {
	root := "calm-20261130-bomb"
	var head, tail bytes.Buffer
	tar.NewWriter(&head).WriteHeader(&tar.Header{Name: root + "/captures/c1.txt", Typeflag: tar.TypeReg, Mode: 0o600, Size: size})
	zeros := make([]byte, 1<<20)
	h := sha256.New()
	for n := int64(0); n < size; n += int64(len(zeros)) {
		h.Write(zeros[:min(int64(len(zeros)), size-n)])
	}
	record := []byte(`{"incident": {"id": "20261130-bomb"}, "captures": [{"id": "c1"}]}`)
	recordSum := sha256.Sum256(record)
	sums := fmt.Sprintf("%s  captures/c1.txt\n%s  incident.json\n", hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(recordSum[:]))
	tw := tar.NewWriter(&tail)
	tw.WriteHeader(&tar.Header{Name: root + "/incident.json", Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(record))})
	tw.Write(record)
	tw.WriteHeader(&tar.Header{Name: root + "/SHA256SUMS", Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(sums))})
	tw.Write([]byte(sums))
	tw.Close()

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	zw, _ := flate.NewWriter(&out, flate.BestCompression)
	crc := crc32.NewIEEE()
	var total int64
	compress := func(p []byte) {
		zw.Write(p)
		crc.Write(p)
		total += int64(len(p))
	}
	flush := func() []byte {
		zw.Flush()
		b := bytes.Clone(out.Bytes())
		f.Write(b)
		out.Reset()
		return b
	}
	f.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}) // gzip, deflate, no name, unknown OS
	compress(head.Bytes())
	left := size + (512-size%512)%512 // the capture and tar's padding after it
	first := min(left, int64(len(zeros)))
	compress(zeros[:first]) // the window is zeros from here on
	left -= first
	flush()
	if left >= int64(len(zeros)) {
		compress(zeros)
		left -= int64(len(zeros))
		mib := flush()
		for ; left >= int64(len(zeros)); left -= int64(len(zeros)) {
			f.Write(mib)
			crc.Write(zeros)
			total += int64(len(zeros))
		}
	}
	compress(zeros[:left])
	compress(tail.Bytes())
	zw.Close()
	f.Write(out.Bytes())
	binary.Write(f, binary.LittleEndian, [2]uint32{crc.Sum32(), uint32(total)})
}

// TestBundleOfAFloodVerifiesAndOneBiggerThanItsDiskIsRefused: a valid
// bundle that expands a thousand times (128 MiB of zeros in under 1 MB, as
// a capture of a flood compresses) verifies in a child process, and
// unpacking it onto a 32 MiB disk is refused in one line that says what to
// do; the child's peak RSS stays under 100 MiB throughout.
func TestBundleOfAFloodVerifiesAndOneBiggerThanItsDiskIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	t.Parallel() // its child does the work, beside the browser test
	if p := os.Getenv("CALM_TEST_BOMB"); p != "" {
		// The child: verify, then open, as calm verify and calm review do.
		f, _ := os.Open(p)
		ok, problems, verr := VerifyBundle(f)
		f.Close()
		_, oerr := OpenBundle(p)
		status, _ := os.ReadFile("/proc/self/status")
		_, peak, _ := strings.Cut(string(status), "VmHWM:")
		fmt.Printf("verify: %d ok, %d problems, %v\nopen: %v\npeak: %s\n", ok, len(problems), verr, oerr, strings.Fields(peak + " ?")[0])
		return
	}
	p := filepath.Join(t.TempDir(), "bomb.tar.gz")
	zeroBomb(t, p, 128<<20)
	fi, _ := os.Stat(p)
	if fi.Size() > 1<<20 {
		t.Fatalf("the bomb is %d bytes compressed", fi.Size())
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	cmd := exec.Command(os.Args[0], "-test.run=^TestBundleOfAFloodVerifiesAndOneBiggerThanItsDiskIsRefused$")
	cmd.Env = append(os.Environ(), "CALM_TEST_BOMB="+p, "TMPDIR="+disk)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// The child's own peak, which it reads from /proc: its rusage's maxrss
	// counts the parent's too (the child shares the parent's memory until
	// exec), which the other tests running beside this one make large.
	var rss int
	if _, peak, ok := strings.Cut(string(out), "peak: "); ok {
		rss, _ = strconv.Atoi(strings.Fields(peak)[0]) // KiB
	}
	if rss == 0 {
		t.Fatalf("the child did not say its peak RSS: %s", out)
	}
	if !strings.Contains(string(out), "verify: 2 ok, 0 problems, <nil>") {
		t.Fatalf("a valid bundle that compresses well did not verify: %s", out)
	}
	_, open, _ := strings.Cut(string(out), "open: ")
	open, _, _ = strings.Cut(open, "\n")
	if !strings.Contains(open, "free in "+disk) || !strings.Contains(open, "TMPDIR") {
		t.Fatalf("unpacking onto a disk too small was not refused for it: %s", open)
	}
	if leftover, _ := os.ReadDir(disk); len(leftover) != 0 {
		t.Fatalf("the refused unpacking left %d entries on the disk", len(leftover))
	}
	t.Logf("peak RSS %d MiB; %s", rss>>10, out)
	if rss > 100<<10 {
		t.Fatalf("peak RSS %d MiB, over 100 MiB", rss>>10)
	}
}

// FuzzBundle feeds random tar members to the one bundle reader: it never
// panics, and whatever it accepts is one folder of plainly named files,
// the same whether it only verifies or also unpacks.
func FuzzBundle(f *testing.F) {
	f.Add("calm-x/incident.json", "{}", "calm-x/SHA256SUMS", "", byte(tar.TypeReg))
	f.Add("calm-x/./incident.json", "{}", "calm-x//SHA256SUMS", "x", byte(tar.TypeReg))
	f.Add("calm-x/captures/c1.txt", "data", "calm-y/SHA256SUMS", "", byte(tar.TypeDir))
	f.Add("calm-x/../x", "", "calm-x/SHA256SUMS", "0000  x\n", byte(tar.TypeSymlink))
	f.Fuzz(func(t *testing.T, name1, data1, name2, data2 string, typ byte) {
		sum := sha256.Sum256([]byte(data1))
		manifest := hex.EncodeToString(sum[:]) + "  " + strings.TrimPrefix(name1, "calm-x/") + "\n" + data2
		data, err := tarOf([]member{{name: name1, data: []byte(data1), typ: typ}, {name: name2, data: []byte(manifest)}, {name: "calm-x/SHA256SUMS", data: []byte(manifest)}})
		if err != nil {
			return // no tar file can hold these members
		}
		b, err := readBundle(bytes.NewReader(data), "")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("a refusal of two lines: %q", err)
			}
			return
		}
		for name := range b.files {
			if !canonical(name) || !canonical(b.root+"/"+name) {
				t.Fatalf("accepted %q under %q", name, b.root)
			}
		}
		dir := t.TempDir()
		b2, err := readBundle(bytes.NewReader(data), dir)
		if err != nil {
			t.Fatalf("verified but cannot be unpacked: %v", err)
		}
		ok1, p1 := b.check()
		ok2, p2 := b2.check()
		if ok1 != ok2 || len(p1) != len(p2) {
			t.Fatalf("verify and unpack disagree: %d %v / %d %v", ok1, p1, ok2, p2)
		}
		for name, f := range b2.files {
			got, _ := os.ReadFile(f.path)
			if s := sha256.Sum256(got); hex.EncodeToString(s[:]) != b.files[name].sum {
				t.Fatalf("%s unpacked is not what was verified", name)
			}
		}
	})
}

// TestBundleMissingACaptureWithItsManifestLineFailsVerify: a capture taken
// out of a bundle together with its SHA256SUMS line left a manifest that
// every file matched; incident.json still names it, and verify says so.
func TestBundleMissingACaptureWithItsManifestLineFailsVerify(t *testing.T) {
	ms, root := genuine(t)
	var kept []member
	var gone string
	for _, m := range ms {
		if gone == "" && strings.HasPrefix(m.name, root+"/captures/") && m.typ != tar.TypeDir {
			gone = strings.TrimPrefix(m.name, root+"/")
			continue
		}
		if !strings.HasSuffix(m.name, "/SHA256SUMS") {
			kept = append(kept, m)
		}
	}
	if gone == "" {
		t.Fatal("the genuine bundle holds no capture")
	}
	kept = append(kept, member{name: root + "/SHA256SUMS", data: sumsOf(kept, root)})
	ok, problems, err := VerifyBundle(bytes.NewReader(craft(t, kept)))
	if err != nil || len(problems) != 1 || problems[0] != gone+": named in incident.json, not in SHA256SUMS" {
		t.Fatalf("verify of a bundle without %s: %d ok, problems %q, %v", gone, ok, problems, err)
	}
	// The genuine bundle has no such problem.
	if _, problems, err := VerifyBundle(bytes.NewReader(craft(t, ms))); err != nil || len(problems) != 0 {
		t.Fatalf("the genuine bundle: %q, %v", problems, err)
	}
}

// TestBundleTimesAreNeverAhead: tar keeps whole seconds; a bundle made
// late in a second had its times rounded up, and tar x warned that every
// file's time stamp was in the future.
func TestBundleTimesAreNeverAhead(t *testing.T) {
	db, r := scriptedIncident(t)
	red, _ := NewRedactor(nil)
	now := time.Date(2026, 12, 3, 15, 8, 5, 900_000_000, time.UTC)
	var buf bytes.Buffer
	if _, err := Bundle(context.Background(), db, r, &buf, red, now); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(now.Truncate(time.Second)) {
			t.Fatalf("%s is dated %v, want %v (the second it was made in)", h.Name, h.ModTime, now.Truncate(time.Second))
		}
	}
}
