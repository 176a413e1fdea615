// Package s3 is a bucket (and prefix) in S3-compatible storage that keeps a
// copy of every capture: the few S3 calls the store makes, over net/http,
// signed by AWS's own SigV4 signer.
//
// It was minio-go, whose package inits (regexps, CPUID probes, a machine ID)
// every calm command paid at start, S3 mirror or not.
package s3

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/aws/smithy-go/aws-http-auth/sigv4"
	v4 "github.com/aws/smithy-go/aws-http-auth/v4"
)

// attempts is how often a request is tried: calm's uploader retries with its
// own back-off and shows the error meanwhile, which many quiet retries per
// request would hide.
const attempts = 2

// maxSinglePut is the largest object S3 takes in one PUT; larger files go
// up in parts.
const maxSinglePut = 5 << 30

// Options say how to reach S3-compatible storage.
type Options struct {
	Endpoint string // host:port, or http(s)://host:port; default s3.amazonaws.com
	Region   string // empty: AWS_REGION, AWS_DEFAULT_REGION, else asked of the bucket (AWS), else us-east-1
	// PartsOver, when not 0, is the size above which a file is uploaded in
	// parts (tests); 0: S3's limit for one PUT, 5 GiB.
	PartsOver int64
	// Stall, when not 0, is how long a request may go without a byte sent
	// or received before it is given up (tests); 0: 30 s.
	Stall time.Duration
}

// defaultStall bounds a request that makes no progress: a server (or a
// proxy) that takes the connection and never answers must not hold a copy,
// a verify or a doctor for the whole of its deadline, saying nothing.
const defaultStall = 30 * time.Second

// Bucket is a bucket (and prefix) that gets a verified copy of every capture.
type Bucket struct {
	URL       string // s3://bucket/prefix
	bucket    string
	prefix    string
	scheme    string
	host      string // the endpoint
	aws       bool
	virtual   bool // the bucket in the host name (AWS), not in the path
	partsOver int64
	stall     time.Duration
	defaulted bool // no endpoint was given: AWS is asked
	client    *http.Client
	signer    *sigv4.Signer

	regionMu sync.Mutex
	region   string

	silentMu    sync.Mutex
	silentSince time.Time // when a request was last given up for want of progress
	silentErr   error
}

// New parses s3://bucket/prefix. Credentials come from the standard
// AWS environment (AWS_ACCESS_KEY_ID, ...) or profile files (~/.aws,
// AWS_PROFILE).
func New(s3url string, o Options) (*Bucket, error) {
	u, err := url.Parse(s3url)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("mirror %q: an S3 mirror looks like s3://bucket/prefix", s3url)
	}
	endpoint, scheme := o.Endpoint, "https"
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	if e, err := url.Parse(endpoint); err == nil && e.Host != "" {
		endpoint, scheme = e.Host, e.Scheme
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("mirror %s: the endpoint %q is neither http:// nor https://", s3url, o.Endpoint)
	}
	b := &Bucket{
		URL: strings.TrimSuffix(s3url, "/"), bucket: u.Host, prefix: strings.Trim(u.Path, "/"),
		scheme: scheme, host: endpoint, partsOver: o.PartsOver, stall: o.Stall, defaulted: o.Endpoint == "",
		// The configured region, else the one the AWS tools would use.
		region: cmp.Or(o.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		client: &http.Client{Transport: http.DefaultTransport},
		signer: sigv4.New(func(o *v4.SignerOptions) {
			o.DisableDoublePathEscape = true // S3 signs the path as sent
			o.AddPayloadHashHeader = true
		}),
	}
	if b.partsOver == 0 {
		b.partsOver = maxSinglePut
	}
	if b.stall == 0 {
		b.stall = defaultStall
	}
	hostname := strings.ToLower(endpoint)
	if h, _, err := splitPort(hostname); err == nil {
		hostname = h
	}
	b.aws = hostname == "amazonaws.com" || strings.HasSuffix(hostname, ".amazonaws.com")
	// As AWS asks: the bucket in the host name, where the name allows it (a
	// dot in it breaks the TLS certificate's wildcard).
	b.virtual = b.aws && dnsName(b.bucket) && !(scheme == "https" && strings.Contains(b.bucket, "."))
	return b, nil
}

func splitPort(host string) (string, string, error) {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.Contains(host[i:], "]") {
		return host, "", errors.New("no port")
	}
	return host[:i], host[i+1:], nil
}

// dnsName: a bucket name that can be a host name's first label(s).
func dnsName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return b[0] != '-' && b[0] != '.' && b[len(b)-1] != '-' && b[len(b)-1] != '.' && !strings.Contains(b, "..")
}

// Key is where a file of an incident goes in the bucket.
func (r *Bucket) Key(incident, file string) string { return path.Join(r.prefix, incident, file) }

// Location is the copy's address as calm shows it.
func (r *Bucket) Location(key string) string { return "s3://" + r.bucket + "/" + key }

func (r *Bucket) String() string { return r.URL }

// Device names the bucket as a place copies are kept: copies in one bucket
// share its fate.
func (r *Bucket) Device() string { return "s3:" + r.bucket }

// Error is what S3 answered to a request it refused.
type Error struct {
	Status  int
	Code    string // NoSuchKey, AccessDenied, ...
	Message string
	// Unsigned: the request went without credentials, none being found.
	Unsigned bool
}

func (e *Error) Error() string {
	var msg string
	switch {
	case e.Code != "" && e.Message != "":
		msg = fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
	case e.Code != "":
		msg = fmt.Sprintf("%d %s", e.Status, e.Code)
	default:
		msg = fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Unsigned {
		profile := cmp.Or(os.Getenv("AWS_PROFILE"), "default")
		msg += "; no AWS credentials were found, so the request went unsigned: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile [" + profile + "] in ~/.aws/credentials (AWS_PROFILE names another)"
	}
	return msg
}

// isNotFound reports an object or bucket that does not exist.
func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == "NoSuchKey" || e.Code == "NoSuchBucket" || e.Status == http.StatusNotFound)
}

// notFound says an object that does not exist as fs.ErrNotExist, which
// callers test for without knowing S3's errors.
func (r *Bucket) notFound(key string, err error) error {
	if err != nil && isNotFound(err) {
		return fmt.Errorf("%s: %w", r.Location(key), fs.ErrNotExist)
	}
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// request is one S3 call: a method on the bucket (key "") or an object.
type request struct {
	method, key string
	query       url.Values
	header      http.Header
	body        func() io.Reader // each attempt reads it anew
	size        int64
	sum         []byte // the body's SHA-256 (nil: empty)
}

// emptySum is the SHA-256 of no bytes, which signs a request without a body.
var emptySum = sha256.New().Sum(nil)

// escapeKey encodes a key for a URL path as S3 signs it: every byte but
// the unreserved ones and '/'.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (r *Bucket) newRequest(ctx context.Context, q request, region string) (*http.Request, error) {
	u := &url.URL{Scheme: r.scheme, Host: r.host}
	if r.aws && r.host == "s3.amazonaws.com" && region != "us-east-1" {
		// The global endpoint sends a bucket of another region elsewhere.
		u.Host = "s3." + region + ".amazonaws.com"
	}
	p := "/" + q.key
	if r.virtual {
		u.Host = r.bucket + "." + u.Host
	} else {
		p = "/" + r.bucket + "/" + q.key
		if q.key == "" {
			p = "/" + r.bucket
		}
	}
	u.Path, u.RawPath = p, escapeKey(p)
	if q.query != nil {
		// S3 wants "?uploads", not "?uploads=", for a bare key.
		u.RawQuery = strings.ReplaceAll(q.query.Encode(), "=&", "&")
		u.RawQuery = strings.TrimSuffix(u.RawQuery, "=")
	}
	var body io.Reader
	if q.body != nil && q.size > 0 {
		body = q.body()
	} else if q.body != nil {
		body = http.NoBody // a body of 0 bytes, not one of unknown length
	}
	req, err := http.NewRequestWithContext(ctx, q.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = q.size
	for k, v := range q.header {
		req.Header[k] = v
	}
	creds, ok, err := lookupCredentials()
	if err != nil {
		return nil, err
	}
	if !ok {
		return req, nil // anonymous, as for a public bucket
	}
	sum := q.sum
	if sum == nil {
		sum = emptySum
	}
	err = r.signer.SignRequest(&sigv4.SignRequestInput{
		Request: req, PayloadHash: sum, Credentials: creds,
		Service: "s3", Region: region, Time: time.Now(),
	})
	return req, err
}

// do sends a request (try) and, when no endpoint was configured, says that
// a network error came on the way to AWS.
func (r *Bucket) do(ctx context.Context, q request) (*http.Response, error) {
	resp, err := r.try(ctx, q)
	var refused *Error
	if err != nil && r.defaulted && ctx.Err() == nil && !errors.As(err, &refused) {
		// The network failed on the way to AWS, which no one may have meant.
		err = fmt.Errorf("%w (no S3 endpoint is configured, so AWS was asked: set endpoint under [s3] in the config file for another server)", err)
	}
	return resp, err
}

// try sends a request, again once after a network error or a 5xx (not
// after a stall), and returns the response of a 2xx; any other answer is
// an *Error.
func (r *Bucket) try(ctx context.Context, q request) (*http.Response, error) {
	if err := r.stillSilent(); err != nil {
		return nil, err
	}
	region, err := r.bucketRegion(ctx)
	if err != nil {
		return nil, err
	}
	var last error
	for try := range attempts {
		if try > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
		resp, err := r.send(ctx, q, region)
		if _, stalled := errors.AsType[*stalledError](err); stalled {
			// A stall has waited long enough: no second wait now, and the
			// requests of the next moments (a verify's other copies) fail
			// at once, saying so.
			r.silentMu.Lock()
			r.silentSince, r.silentErr = time.Now(), err
			r.silentMu.Unlock()
			return nil, err
		}
		if err != nil {
			last = err
			if ctx.Err() != nil {
				return nil, err
			}
			continue
		}
		r.silentMu.Lock()
		r.silentErr = nil
		r.silentMu.Unlock()
		if resp.StatusCode < 300 {
			return resp, nil
		}
		last = readError(resp)
		if e := last.(*Error); (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) && resp.Request.Header.Get("Authorization") == "" {
			e.Unsigned = true
		}
		if resp.StatusCode < 500 {
			return nil, last
		}
	}
	return nil, last
}

// stalledError is a request given up for want of progress.
type stalledError struct{ msg string }

func (e *stalledError) Error() string { return e.msg }

// stillSilent is the error of the last request given up for want of
// progress, for a stall's time after it; nil otherwise.
func (r *Bucket) stillSilent() error {
	r.silentMu.Lock()
	defer r.silentMu.Unlock()
	if r.silentErr != nil && time.Since(r.silentSince) < r.stall {
		return r.silentErr // the same words: a verify's list of reasons says it once
	}
	return nil
}

// send makes one request, given up when r.stall passes with no byte of it
// sent or of its answer received; the answer's body is watched until closed.
func (r *Bucket) send(ctx context.Context, q request, region string) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{stall: r.stall, ctx: ctx}
	w.timer = time.AfterFunc(r.stall, func() {
		cancel(&stalledError{fmt.Sprintf("%s answered nothing for %v: is the endpoint right, and its network up?", r.host, r.stall)})
	})
	req, err := r.newRequest(ctx, q, region)
	if err != nil {
		w.timer.Stop()
		cancel(nil)
		return nil, err
	}
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watched{ReadCloser: req.Body, w: w}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		w.timer.Stop()
		if stalled := w.stalled(); stalled != nil {
			err = stalled
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = &watched{ReadCloser: resp.Body, w: w, done: func() { w.timer.Stop(); cancel(nil) }}
	return resp, nil
}

// watchdog gives a request up after stall with no progress.
type watchdog struct {
	timer *time.Timer
	stall time.Duration
	ctx   context.Context
}

// stalled is the watchdog's error once it gave the request up, else nil
// (the caller's own cancel or deadline stays as it is).
func (w *watchdog) stalled() error {
	cause := context.Cause(w.ctx)
	if w.ctx.Err() == nil || cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		return nil
	}
	return cause
}

// watched is a body whose every read is progress.
type watched struct {
	io.ReadCloser
	w    *watchdog
	done func()
}

func (b *watched) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.timer.Reset(b.w.stall)
	}
	if err != nil && err != io.EOF {
		if stalled := b.w.stalled(); stalled != nil {
			err = stalled
		}
	}
	return n, err
}

func (b *watched) Close() error {
	err := b.ReadCloser.Close()
	if b.done != nil {
		b.done()
	}
	return err
}

// readError reads S3's <Error> document (none for HEAD) and closes the body.
func readError(resp *http.Response) error {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &Error{Status: resp.StatusCode, Code: xmlValue(data, "Code"), Message: xmlValue(data, "Message")}
}

var namedEntities = map[string]rune{"lt": '<', "gt": '>', "quot": '"', "apos": '\'', "amp": '&'}

// unescapeXML reads the five named entities and numeric ones (&#34;,
// &#x22;), which servers use in their messages.
func unescapeXML(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexByte(s, ';')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[1:end]
		r, ok := namedEntities[name]
		if !ok && strings.HasPrefix(name, "#") {
			base, digits := 10, name[1:]
			if strings.HasPrefix(digits, "x") || strings.HasPrefix(digits, "X") {
				base, digits = 16, digits[1:]
			}
			if n, err := strconv.ParseUint(digits, base, 21); err == nil && utf8.ValidRune(rune(n)) {
				r, ok = rune(n), true
			}
		}
		if !ok {
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		b.WriteRune(r)
		s = s[end+1:]
	}
}

// xmlValue is the text of the first <name> element in doc: S3's answers are
// flat enough for that, and encoding/xml would cost every command its init.
func xmlValue(doc []byte, name string) string {
	open, end := []byte("<"+name+">"), []byte("</"+name+">")
	i := bytes.Index(doc, open)
	if i < 0 {
		return ""
	}
	rest := doc[i+len(open):]
	j := bytes.Index(rest, end)
	if j < 0 {
		return ""
	}
	return unescapeXML(string(rest[:j]))
}

// bucketRegion is the region requests are signed for: the one configured,
// else the one AWS says the bucket is in, else us-east-1.
func (r *Bucket) bucketRegion(ctx context.Context) (string, error) {
	r.regionMu.Lock()
	defer r.regionMu.Unlock()
	if r.region != "" {
		return r.region, nil
	}
	if !r.aws {
		r.region = "us-east-1"
		return r.region, nil
	}
	// AWS names the bucket's region in every answer to a HEAD of it, a
	// refusal or a redirect included.
	resp, err := r.send(ctx, request{method: http.MethodHead}, "us-east-1")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	r.region = resp.Header.Get("X-Amz-Bucket-Region")
	if r.region == "" {
		r.region = "us-east-1"
	}
	return r.region, nil
}

// Put uploads a local file. The request is signed with the payload's
// SHA-256, which the server checks; the SHA-256 calm sealed the capture
// with also goes along as metadata.
func (r *Bucket) Put(ctx context.Context, key, file, sum string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	header := http.Header{"Content-Type": {"application/octet-stream"}, "X-Amz-Meta-Calm-Sha256": {sum}}
	if fi.Size() > r.partsOver {
		err = r.putParts(ctx, key, f, fi.Size(), header)
	} else {
		err = r.putPart(ctx, request{method: http.MethodPut, key: key, header: header}, f, 0, fi.Size(), nil)
	}
	if err != nil {
		return fmt.Errorf("upload to %s: %w", r.Location(key), err)
	}
	return nil
}

// putPart sends size bytes of f from off with q, signed with their
// SHA-256, and hands the answer's ETag to etag.
func (r *Bucket) putPart(ctx context.Context, q request, f *os.File, off, size int64, etag *string) error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, size)); err != nil {
		return err
	}
	q.sum, q.size = h.Sum(nil), size
	q.body = func() io.Reader { return io.NewSectionReader(f, off, size) }
	resp, err := r.do(ctx, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if etag != nil {
		*etag = resp.Header.Get("ETag")
	}
	return nil
}

// putParts uploads a file larger than one PUT takes as a multipart upload,
// each part signed with its SHA-256; a failed upload is aborted.
func (r *Bucket) putParts(ctx context.Context, key string, f *os.File, size int64, header http.Header) error {
	resp, err := r.do(ctx, request{method: http.MethodPost, key: key, query: url.Values{"uploads": {""}}, header: header})
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	id := xmlValue(data, "UploadId")
	if err != nil || id == "" {
		return fmt.Errorf("S3 began a multipart upload without saying its id (%v)", err)
	}
	// S3 takes at most 10,000 parts; a part's size is the larger of what
	// that needs and the size above which a file goes in parts.
	part := max(r.partsOver, (size+9999)/10000)
	var done strings.Builder
	done.WriteString("<CompleteMultipartUpload>")
	for n, off := 1, int64(0); off < size; n, off = n+1, off+part {
		var etag string
		q := request{method: http.MethodPut, key: key, query: url.Values{"partNumber": {strconv.Itoa(n)}, "uploadId": {id}}}
		if err = r.putPart(ctx, q, f, off, min(part, size-off), &etag); err != nil {
			break
		}
		fmt.Fprintf(&done, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, escapeXML(etag))
	}
	done.WriteString("</CompleteMultipartUpload>")
	if err == nil {
		body := []byte(done.String())
		sum := sha256.Sum256(body)
		resp, err = r.do(ctx, request{method: http.MethodPost, key: key, query: url.Values{"uploadId": {id}},
			body: func() io.Reader { return bytes.NewReader(body) }, size: int64(len(body)), sum: sum[:]})
		if err == nil {
			// S3 may answer 200 and still fail the upload in its body.
			data, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if err == nil && bytes.Contains(data, []byte("<Error>")) {
				err = &Error{Status: resp.StatusCode, Code: xmlValue(data, "Code"), Message: xmlValue(data, "Message")}
			}
		}
	}
	if err != nil {
		if abort, e := r.do(context.WithoutCancel(ctx), request{method: http.MethodDelete, key: key, query: url.Values{"uploadId": {id}}}); e == nil {
			abort.Body.Close()
		}
	}
	return err
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// Hash reads an object back and returns its SHA-256 and size.
func (r *Bucket) Hash(ctx context.Context, key string) (string, int64, error) {
	h := sha256.New()
	n, err := r.get(ctx, key, h)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Get downloads an object into w.
func (r *Bucket) Get(ctx context.Context, key string, w io.Writer) error {
	_, err := r.get(ctx, key, w)
	return err
}

func (r *Bucket) get(ctx context.Context, key string, w io.Writer) (int64, error) {
	resp, err := r.do(ctx, request{method: http.MethodGet, key: key})
	if err != nil {
		return 0, r.notFound(key, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("%s: %d of its %d bytes came", r.Location(key), n, resp.ContentLength)
	}
	return n, err
}

// ErrNoBucket is a bucket the server says it does not have.
var ErrNoBucket = errors.New("the bucket does not exist, or these credentials cannot see it: check its name in the config file's mirrors")

// Reachable checks that the bucket answers and exists.
func (r *Bucket) Reachable(ctx context.Context) error {
	resp, err := r.do(ctx, request{method: http.MethodHead})
	if isNotFound(err) {
		return fmt.Errorf("%s: %w", r.URL, ErrNoBucket)
	}
	if err != nil {
		return fmt.Errorf("%s: %s", r.URL, oneLine(err.Error()))
	}
	resp.Body.Close()
	return nil
}

// CopyObject makes a copy of the object at from under to, inside the
// bucket: the bytes stay on the server (and keep their calm-sha256).
func (r *Bucket) CopyObject(ctx context.Context, from, to string) error {
	resp, err := r.do(ctx, request{method: http.MethodPut, key: to,
		header: http.Header{"X-Amz-Copy-Source": {escapeKey("/" + r.bucket + "/" + from)}}})
	if err == nil {
		// S3 may answer 200 and still fail the copy in its body.
		var data []byte
		data, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err == nil && bytes.Contains(data, []byte("<Error>")) {
			err = &Error{Status: resp.StatusCode, Code: xmlValue(data, "Code"), Message: xmlValue(data, "Message")}
		}
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", r.Location(from), r.Location(to), err)
	}
	return nil
}

// Remove deletes an object; one that is not there is not an error.
func (r *Bucket) Remove(ctx context.Context, key string) error {
	resp, err := r.do(ctx, request{method: http.MethodDelete, key: key})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove %s: %w", r.Location(key), err)
	}
	if err == nil {
		resp.Body.Close()
	}
	return nil
}

// lookupCredentials finds AWS credentials as the AWS tools do: the
// environment, then the shared credentials file's profile. None found
// means anonymous requests.
func lookupCredentials() (credentials.Credentials, bool, error) {
	env := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	id, secret := env("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), env("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	if id != "" && secret != "" {
		return credentials.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN")}, true, nil
	}
	file := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return credentials.Credentials{}, false, nil
		}
		file = filepath.Join(home, ".aws", "credentials")
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return credentials.Credentials{}, false, nil
	}
	if err != nil {
		return credentials.Credentials{}, false, fmt.Errorf("AWS credentials: %w", err)
	}
	profile := env("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	keys := profileKeys(data, profile)
	c := credentials.Credentials{AccessKeyID: keys["aws_access_key_id"], SecretAccessKey: keys["aws_secret_access_key"], SessionToken: keys["aws_session_token"]}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return credentials.Credentials{}, false, nil
	}
	return c, true, nil
}

// EnvCredentials is a fingerprint of the AWS credentials in this process's
// environment, "" for none: a running agent started with other ones (a
// secret since fixed in the shell) is told apart, and no secret is said.
// Credentials from a profile file are read at each request, by both alike.
func EnvCredentials() string {
	id, secret := cmp.Or(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_ACCESS_KEY")), cmp.Or(os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SECRET_KEY"))
	if id == "" || secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id + "\x00" + secret + "\x00" + os.Getenv("AWS_SESSION_TOKEN")))
	return hex.EncodeToString(sum[:6])
}

// profileKeys reads one [profile] of an INI credentials file.
func profileKeys(data []byte, profile string) map[string]string {
	keys := map[string]string{}
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			in = strings.TrimSpace(line[1:len(line)-1]) == profile
			continue
		}
		if k, v, ok := strings.Cut(line, "="); in && ok {
			keys[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return keys
}
