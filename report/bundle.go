package report

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"calm/model"
	"calm/scratch"
)

// SumsFile is the bundle's manifest, in the format sha256sum -c reads.
const SumsFile = "SHA256SUMS"

// BundleStats says what went into a bundle.
type BundleStats struct {
	Files    int
	Redacted int
}

// Bundle writes one gzipped tar with everything about the incident under
// calm-INCIDENT/: the postmortem draft, the record as JSON, every capture
// and every session (as asciicast), the HTML report that replays them, all
// redacted, and a SHA256SUMS manifest of them. Files are staged in a private temporary folder, since captures
// may be far larger than memory.
func Bundle(ctx context.Context, s model.Store, r Record, w io.Writer, red *Redactor, now time.Time) (BundleStats, error) {
	var st BundleStats
	staging, err := scratch.MkdirTempSwept("", "calm-bundle-")
	if err != nil {
		return st, fmt.Errorf("stage the bundle: %w", err)
	}
	defer staging.Remove()
	stage := staging.Name()

	type member struct{ name, path, sum string }
	var members []member
	add := func(name string, write func(io.Writer) (int, error)) error {
		p := filepath.Join(stage, fmt.Sprintf("%d", len(members)))
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		h := sha256.New()
		bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
		n, err := write(bw)
		st.Redacted += n
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		members = append(members, member{name, p, hex.EncodeToString(h.Sum(nil))})
		return nil
	}

	md, n := Markdown(r, red)
	st.Redacted += n
	if err := add("postmortem.md", func(w io.Writer) (int, error) { _, err := w.Write(md); return 0, err }); err != nil {
		return st, err
	}
	count := 0
	rec := r.redacted(red, &count)
	st.Redacted += count
	if err := add("incident.json", func(w io.Writer) (int, error) {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(struct {
			Incident model.Incident  `json:"incident"`
			Captures []model.Capture `json:"captures"`
			Events   []model.Event   `json:"events"`
		}{rec.Incident, rec.Captures, rec.Events})
	}); err != nil {
		return st, err
	}
	staged := map[string]string{}
	for _, c := range r.Captures {
		name := bundleName(c)
		if err := add(name, func(w io.Writer) (int, error) { return Content(ctx, s, c, w, red) }); err != nil {
			return st, err
		}
		staged[c.ID] = members[len(members)-1].path
	}
	// The page shows the very files the bundle holds.
	fromStage := func(c model.Capture) (io.ReadCloser, error) { return os.Open(staged[c.ID]) }
	if err := add("report.html", func(w io.Writer) (int, error) {
		return HTML(ctx, s, r, w, red, now, HTMLOptions{Redacted: fromStage})
	}); err != nil {
		return st, err
	}
	var sums bytes.Buffer
	for _, m := range members {
		fmt.Fprintf(&sums, "%s  %s\n", m.sum, m.name)
	}

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	// tar keeps whole seconds, rounded: half a second up, tar x said each
	// file's time stamp was in the future.
	mtime := now.Truncate(time.Second)
	root := "calm-" + r.Incident.ID
	dirs := map[string]bool{}
	writeDir := func(dir string) error {
		if dirs[dir] {
			return nil
		}
		dirs[dir] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o700, ModTime: mtime})
	}
	if err := writeDir(root); err != nil {
		return st, err
	}
	for _, m := range members {
		if d := path.Dir(m.name); d != "." {
			if err := writeDir(root + "/" + d); err != nil {
				return st, err
			}
		}
		fi, err := os.Stat(m.path)
		if err != nil {
			return st, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: root + "/" + m.name, Mode: 0o600, Size: fi.Size(), ModTime: mtime}); err != nil {
			return st, err
		}
		f, err := os.Open(m.path)
		if err != nil {
			return st, err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return st, fmt.Errorf("bundle %s: %w", m.name, err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: root + "/" + SumsFile, Mode: 0o600, Size: int64(sums.Len()), ModTime: mtime}); err != nil {
		return st, err
	}
	tw.Write(sums.Bytes())
	if err := tw.Close(); err != nil {
		return st, err
	}
	st.Files = len(members)
	return st, gz.Close()
}

// bundleName is where a bundle holds capture c.
func bundleName(c model.Capture) string {
	if c.Recording != nil {
		return "sessions/" + c.ID + ".cast"
	}
	return "captures/" + c.ID + ".txt"
}
