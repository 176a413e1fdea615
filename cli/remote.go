package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"calm/model"
	"calm/report"
	"calm/scratch"
	"calm/storage"
	"calm/storage/agent"
	"calm/storage/s3"
)

// objectOf splits s3://bucket/key into a remote for the bucket and the key.
func (e *env) objectOf(s3url string) (*s3.Bucket, string, error) {
	u, err := url.Parse(s3url)
	if err != nil || u.Scheme != "s3" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, "", usageError("%q is not an object address like s3://bucket/prefix/bundles/INCIDENT.tar.gz", s3url)
	}
	r, err := s3.New("s3://"+u.Host, s3.Options{Endpoint: e.cfg.S3.Endpoint, Region: e.cfg.S3.Region})
	return r, strings.Trim(u.Path, "/"), err
}

// cmdPush uploads an incident's bundle next to the incident's mirror copies
// and reads it back.
func cmdPush(e *env, args []string) error {
	fs := e.flags("push", "INCIDENT [--to s3://bucket/prefix]")
	to := fs.String("to", "", "where to push (default: the first s3:// mirror)")
	var ref string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ref, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		if len(e.cfg.remotes) == 0 {
			return usageError("no s3:// mirror is configured: add one to mirrors in the config, or say --to s3://bucket/prefix")
		}
		*to = e.cfg.remotes[0]
	}
	red, err := report.NewRedactor(e.cfg.Redact)
	if err != nil {
		return err
	}
	lists := e.checklists(false)
	rec, err := report.Load(e.store, ref, lists)
	if err != nil {
		return err
	}
	dir, err := scratch.MkdirTempSwept("", "calm-push-")
	if err != nil {
		return err
	}
	defer dir.Remove()
	file := filepath.Join(dir.Name(), "bundle.tar.gz")
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	store, bar := e.readingCaptures("bundling "+rec.Incident.ID, rec.Captures)
	st, err := report.Bundle(context.Background(), store, rec, bw, red, time.Now())
	bar.done()
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bundle %s: %w", rec.Incident.ID, err)
	}
	r, err := s3.New(*to, s3.Options{Endpoint: e.cfg.S3.Endpoint, Region: e.cfg.S3.Region})
	if err != nil {
		return err
	}
	key := r.Key("bundles", rec.Incident.ID+".tar.gz")
	sum, _, err := hashLocal(file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	fmt.Fprintf(e.stderr, "calm: uploading %s (%s, %s redacted)\n", r.Location(key), plural(st.Files, "file"), plural(st.Redacted, "secret"))
	up := e.progress("uploading", -1, false)
	err = r.Put(ctx, key, file, sum)
	up.done()
	if err != nil {
		return fmt.Errorf("%w: check the endpoint and credentials (calm doctor), then push again", err)
	}
	back, _, err := r.Hash(ctx, key)
	if err != nil || back != sum {
		return fmt.Errorf("pushed %s, but reading it back gave %q (%v): push again", r.Location(key), back, err)
	}
	e.store.AddEvent(rec.Incident.ID, model.EventExport, "", "pushed to "+r.Location(key))
	fmt.Fprintf(e.stdout, "pushed %s, sha256 %s, read back and verified\npull it with: calm pull %s\n", r.Location(key), sum[:16], r.Location(key))
	return nil
}

// cmdPull fetches a pushed bundle, checks it against its manifest, and keeps
// it for review.
func cmdPull(e *env, args []string) error {
	fs := e.flags("pull", "s3://bucket/prefix/bundles/INCIDENT.tar.gz")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("say which bundle: calm pull s3://bucket/prefix/bundles/INCIDENT.tar.gz")
	}
	r, key, err := e.objectOf(fs.Arg(0))
	if err != nil {
		return err
	}
	dir := filepath.Join(filepath.Dir(e.cfg.Store), "pulled")
	if err := agent.EnsurePrivateDir(dir); err != nil {
		return err
	}
	final := filepath.Join(dir, filepath.Base(key))
	tmp, download, err := scratch.CreateTemp(dir, ".pull-*")
	if err != nil {
		return err
	}
	defer download.Remove()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	down := e.progress("downloading", -1, true)
	err = r.Get(ctx, key, down.writer(tmp))
	down.done()
	if err != nil {
		tmp.Close()
		return fmt.Errorf("download %s: %w", fs.Arg(0), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	bs, err := report.OpenBundle(tmp.Name())
	if err != nil {
		return err
	}
	defer bs.Close()
	if err := os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	download.Keep()
	inc, _ := bs.CurrentIncident()
	caps, _ := bs.Captures("")
	fmt.Fprintf(e.stdout, "pulled %s into %s: every file matches its SHA256SUMS\nincident %s %q, %s\nreview it: calm review %s\n", fs.Arg(0), final, printable(inc.ID), printable(inc.Title), plural(len(caps), "capture"), final)
	return nil
}

// pulledBundle finds the bundle a review names: a path, or an incident
// pulled earlier.
func (e *env) pulledBundle(ref string) string {
	// Any file named: a bundle exported with -o X.bundle is one too.
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return ref
	}
	p := filepath.Join(filepath.Dir(e.cfg.Store), "pulled", ref+".tar.gz")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

func hashLocal(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return storage.HashReader(f)
}
