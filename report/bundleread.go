package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"calm/model"
)

// Limits of what a bundle may hold. calm's own bundles stay far inside
// them; a crafted one (a few MB of gzip that expand to gigabytes) is
// refused before it fills memory or the disk. Its ratio says nothing: a
// capture of a flood (yes, log spam) compresses as well as zeros do, and
// gzip cannot expand more than about a thousand times anyway. What counts
// is what the expansion would take: memory (the reader streams, so none),
// the disk it is unpacked on, and the total.
const (
	maxRecordSize   = 64 << 20 // incident.json, read whole
	maxManifestSize = 4 << 20  // SHA256SUMS
	maxBundleSize   = 64 << 30 // everything, expanded
	maxFiles        = 100000
	// unpackReserve is the free space unpacking leaves on its disk (a
	// tenth of a smaller disk).
	unpackReserve = 256 << 20
)

// errBomb says why a bundle was refused for its size.
var errBomb = errors.New("refused")

// bundleRootName is what calm names a bundle's one folder.
var bundleRootName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^calm-[A-Za-z0-9][A-Za-z0-9._-]*$`) })

// bundleFile is one file of a bundle as the one reader saw it.
type bundleFile struct {
	sum  string
	size int64
	path string // its extracted copy, when extracting
}

// bundleContents is a bundle read once: its files and its manifest.
type bundleContents struct {
	root     string
	files    map[string]bundleFile // by name under the root
	manifest []manifestLine
	record   []byte // incident.json, which names the files the bundle must hold
}

type manifestLine struct{ sum, name string }

// canonical reports whether name (under the root) is written exactly one
// way: no "./", "//", "..", leading or trailing slash.
func canonical(name string) bool {
	return name != "" && name != "." && path.Clean(name) == name && !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "../") && name != ".."
}

// readBundle is the one reader of bundles: verifying and opening both go
// through it, so what is verified is what is read. It refuses (with an
// error) anything but one folder of regular files with names written one
// way each, and stops a bundle that expands beyond the limits; extractDir,
// if set, receives a copy of each file.
func readBundle(r io.Reader, extractDir string) (*bundleContents, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a calm bundle: it is no gzip file (%s)", strings.TrimPrefix(err.Error(), "gzip: "))
	}
	gz.Multistream(false)
	tr := tar.NewReader(gz)
	b := &bundleContents{files: map[string]bundleFile{}}
	var manifest []byte
	var total int64
	dirs := map[string]bool{}
	room := int64(maxBundleSize)
	if extractDir != "" {
		var st unix.Statfs_t
		if err := unix.Statfs(extractDir, &st); err == nil {
			reserve := min(unpackReserve, int64(st.Blocks)*st.Bsize/10)
			room = min(room, int64(st.Bavail)*st.Bsize-reserve)
		}
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bundle is damaged: %v", err)
		}
		name := h.Name
		isDir := h.Typeflag == tar.TypeDir
		if isDir {
			name = strings.TrimSuffix(name, "/")
		}
		root, rest, _ := strings.Cut(name, "/")
		switch {
		case !canonical(name):
			return nil, fmt.Errorf("bundle member %q is not a plain path under one folder: do not trust this bundle", h.Name)
		case b.root == "" && !bundleRootName().MatchString(root):
			return nil, fmt.Errorf("bundle member %q is not under a calm-INCIDENT folder: do not trust this bundle", h.Name)
		case b.root != "" && root != b.root:
			return nil, fmt.Errorf("bundle member %q is outside the bundle's folder %s: do not trust this bundle", h.Name, b.root)
		}
		b.root = root
		switch h.Typeflag {
		case tar.TypeDir:
			if dirs[name] {
				return nil, fmt.Errorf("bundle holds the folder %q twice: do not trust this bundle", h.Name)
			}
			dirs[name] = true
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("bundle member %q is not a regular file (type %q): do not trust this bundle", h.Name, h.Typeflag)
		}
		if rest == "" {
			return nil, fmt.Errorf("bundle member %q is a file where the bundle's folder should be: do not trust this bundle", h.Name)
		}
		if _, dup := b.files[rest]; dup || (rest == SumsFile && manifest != nil) {
			return nil, fmt.Errorf("bundle holds %s twice: do not trust this bundle", rest)
		}
		if len(b.files) >= maxFiles {
			return nil, fmt.Errorf("bundle holds more than %d files: %w", maxFiles, errBomb)
		}
		if h.Size < 0 || total+h.Size > maxBundleSize {
			return nil, fmt.Errorf("bundle expands to more than %s: %w", humanBytes(maxBundleSize), errBomb)
		}
		limit := func(n int64) error {
			if total+n > room {
				return fmt.Errorf("bundle expands to more than %s, more than there is free in %s: %w; make room there, or set TMPDIR to a folder on a roomier disk, and open it again", humanBytes(total+n), extractDir, errBomb)
			}
			return nil
		}
		if rest == SumsFile {
			if h.Size > maxManifestSize {
				return nil, fmt.Errorf("bundle's %s is %s, more than %s: %w", SumsFile, humanBytes(h.Size), humanBytes(maxManifestSize), errBomb)
			}
			manifest, err = io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("bundle is damaged at %s: %v", SumsFile, err)
			}
			total += int64(len(manifest))
			if err := limit(0); err != nil {
				return nil, err
			}
			continue
		}
		if rest == "incident.json" && h.Size > maxRecordSize {
			return nil, fmt.Errorf("bundle's incident.json is %s, more than %s: %w", humanBytes(h.Size), humanBytes(maxRecordSize), errBomb)
		}
		f := bundleFile{}
		hash := sha256.New()
		var w io.Writer = hash
		var record *bytes.Buffer
		if rest == "incident.json" {
			record = &bytes.Buffer{}
			w = io.MultiWriter(hash, record)
		}
		var out *os.File
		if extractDir != "" {
			f.path = filepath.Join(extractDir, fmt.Sprintf("%d", len(b.files)))
			out, err = os.OpenFile(f.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, fmt.Errorf("unpack the bundle: %w", err)
			}
			w = io.MultiWriter(w, out)
		}
		n, err := copyLimited(w, tr, limit)
		if out != nil {
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		total += n
		if err != nil {
			if errors.Is(err, errBomb) {
				return nil, err
			}
			return nil, fmt.Errorf("bundle is damaged at %s: %v", rest, err)
		}
		f.sum, f.size = hex.EncodeToString(hash.Sum(nil)), n
		b.files[rest] = f
		if record != nil {
			b.record = record.Bytes()
		}
	}
	if b.root == "" {
		return nil, fmt.Errorf("the bundle is empty: it was not made by calm export --format bundle")
	}
	if manifest == nil {
		return nil, fmt.Errorf("the bundle has no %s: it was not made by calm export --format bundle", SumsFile)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		sum, name, found := strings.Cut(line, "  ")
		if !found || !canonical(name) || len(sum) != 64 || listed[name] {
			return nil, fmt.Errorf("bundle's %s has a line that is not \"SHA-256  NAME\" once for a plain name (%q): do not trust this bundle", SumsFile, line)
		}
		listed[name] = true
		b.manifest = append(b.manifest, manifestLine{sum, name})
	}
	return b, nil
}

// copyLimited copies while check approves the bytes copied so far.
func copyLimited(w io.Writer, r io.Reader, check func(int64) error) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(k)
			if cerr := check(n); cerr != nil {
				return n, cerr
			}
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// check compares the files with the manifest: how many match, and one
// problem per file that is missing, differs or is not listed.
func (b *bundleContents) check() (ok int, problems []string) {
	listed := map[string]bool{}
	for _, m := range b.manifest {
		listed[m.name] = true
		switch f, present := b.files[m.name]; {
		case !present:
			problems = append(problems, m.name+": missing")
		case f.sum != m.sum:
			problems = append(problems, m.name+": differs from its SHA-256 in "+SumsFile)
		default:
			ok++
		}
	}
	var extra []string
	for name := range b.files {
		if !listed[name] {
			extra = append(extra, name+": not in "+SumsFile)
		}
	}
	sort.Strings(extra)
	problems = append(problems, extra...)
	// A file taken out with its manifest line leaves a manifest that
	// matches: incident.json says what the bundle must hold.
	for _, name := range b.named() {
		if !listed[name] {
			problems = append(problems, name+": named in incident.json, not in "+SumsFile)
		}
	}
	return ok, problems
}

// named is every file incident.json says the bundle holds (none if it
// cannot be read: the manifest's check, or the opening, says why).
func (b *bundleContents) named() []string {
	var rec struct {
		Captures []model.Capture `json:"captures"`
	}
	if b.record == nil || json.Unmarshal(b.record, &rec) != nil {
		if _, there := b.files["incident.json"]; !there {
			return []string{"incident.json"}
		}
		return nil
	}
	names := []string{"incident.json"}
	for _, c := range rec.Captures {
		names = append(names, bundleName(c))
	}
	return names
}

// VerifyBundle reads a bundle and checks every file against its manifest. It
// returns how many files matched and one problem per file that is missing,
// differs or is not listed; a bundle that is not plainly one folder of
// files, or too big, is an error.
func VerifyBundle(r io.Reader) (ok int, problems []string, err error) {
	b, err := readBundle(r, "")
	if err != nil {
		return 0, nil, err
	}
	ok, problems = b.check()
	return ok, problems, nil
}
