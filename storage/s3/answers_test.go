package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

// Servers write quotes in their messages as &#34; (versitygw) or &quot;.
func TestErrorMessagesReadXMLEntities(t *testing.T) {
	for in, want := range map[string]string{
		"the region &#34;eu-west-1&#34; is wrong; expecting &#x22;us-east-1&#x22;": `the region "eu-west-1" is wrong; expecting "us-east-1"`,
		"a &lt;b&gt; &amp; &apos;c&apos; &quot;d&quot;":                            `a <b> & 'c' "d"`,
		"no entity & here; &unknown; &#xZZ; &#1114112; &":                          "no entity & here; &unknown; &#xZZ; &#1114112; &",
	} {
		if got := xmlValue([]byte("<Error><Message>"+in+"</Message></Error>"), "Message"); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// answering serves every request with status and an S3 error document,
// and hands each request's head to heads.
func answering(t *testing.T, status int, code string, heads chan<- string) string {
	return server(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		n, _ := c.Read(buf)
		select {
		case heads <- string(buf[:n]):
		default:
		}
		body := fmt.Sprintf("<Error><Code>%s</Code><Message>refused</Message></Error>", code)
		fmt.Fprintf(c, "HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, len(body), body)
	})
}

// With no credentials anywhere a refusal says that the request went
// unsigned and where credentials are looked for, not only "403".
func TestARefusalOfAnUnsignedRequestSaysNoCredentialsWereFound(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	b, _ := New("s3://calm/p", Options{Endpoint: answering(t, 403, "AccessDenied", nil)})
	err := b.Reachable(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials were found") || !strings.Contains(err.Error(), "[default]") {
		t.Fatalf("an unsigned request refused: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	if err := b.Reachable(context.Background()); err == nil || strings.Contains(err.Error(), "no AWS credentials") {
		t.Fatalf("a signed request refused: %v", err)
	}
}

// The region the AWS tools use (AWS_REGION) signs requests when the
// configuration names none; the configured one comes first.
func TestRegionFromTheEnvironment(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_DEFAULT_REGION", "")
	for _, c := range []struct{ env, configured, want string }{
		{"eu-west-3", "", "/eu-west-3/s3/aws4_request"},
		{"eu-west-3", "ap-south-1", "/ap-south-1/s3/aws4_request"},
		{"", "", "/us-east-1/s3/aws4_request"},
	} {
		t.Setenv("AWS_REGION", c.env)
		heads := make(chan string, 1)
		b, _ := New("s3://calm/p", Options{Endpoint: answering(t, 404, "NoSuchKey", heads), Region: c.configured})
		b.Hash(context.Background(), "c1.txt")
		if head := <-heads; !strings.Contains(head, c.want) {
			t.Errorf("AWS_REGION=%q, region %q: signed as %q", c.env, c.configured, head)
		}
	}
}

// With no endpoint configured AWS is asked; when the network fails on the
// way, the error says so (a pull on a machine whose config names no
// endpoint went to s3.amazonaws.com and said only "no such host").
func TestANetworkErrorWithNoEndpointConfiguredSaysAWSWasAsked(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String()
	l.Close()
	b, _ := New("s3://calm/p", Options{Endpoint: closed, Region: "us-east-1"})
	if err := b.Reachable(context.Background()); err == nil || strings.Contains(err.Error(), "AWS was asked") {
		t.Fatalf("an endpoint configured: %v", err)
	}
	b.defaulted = true // as New leaves it for no endpoint, here on a closed port
	if err := b.Reachable(context.Background()); err == nil || !strings.Contains(err.Error(), "no S3 endpoint is configured, so AWS was asked") {
		t.Fatalf("no endpoint configured: %v", err)
	}
	missing, _ := New("s3://calm/p", Options{Endpoint: answering(t, 404, "NoSuchBucket", nil)})
	if err := missing.Reachable(context.Background()); !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), "check its name in the config file's mirrors") {
		t.Fatalf("a missing bucket: %v", err)
	}
}
