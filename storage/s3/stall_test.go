package s3

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server listens on loopback and gives each connection to serve.
func server(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// readRequest reads a request's head (and no body).
func readRequest(c net.Conn) {
	buf := make([]byte, 1)
	var head []byte
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := c.Read(buf); err != nil {
			return
		}
		head = append(head, buf[0])
	}
}

const stall = 300 * time.Millisecond

// A server that takes the connection and never answers, or answers part of
// an object and stops, is given up after Stall without progress, with an
// error that says so: not held until the copy's deadline, minutes later.
func TestAServerThatStopsAnsweringIsGivenUp(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	file := filepath.Join(t.TempDir(), "c1.txt")
	os.WriteFile(file, []byte("hello\n"), 0o600)
	// The test's own bound: without the watchdog each call would wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var asked atomic.Int64
	silent := server(t, func(c net.Conn) { asked.Add(1); io.Copy(io.Discard, c) })
	for name, call := range map[string]func(b *Bucket) error{
		"reachable": func(b *Bucket) error { return b.Reachable(ctx) },
		"put":       func(b *Bucket) error { return b.Put(ctx, "c1.txt", file, "") },
		"hash":      func(b *Bucket) error { _, _, err := b.Hash(ctx, "c1.txt"); return err },
	} {
		b, err := New("s3://calm/p", Options{Endpoint: silent, Stall: stall})
		if err != nil {
			t.Fatal(err)
		}
		if err := call(b); err == nil || !strings.Contains(err.Error(), "answered nothing for 300ms") {
			t.Errorf("%s against a server that never answers: %v", name, err)
		}
		// The next request, a moment later, is not made to wait again: it
		// fails with the same words, and the server is not asked.
		before := asked.Load()
		if err := b.Reachable(ctx); err == nil || !strings.Contains(err.Error(), "answered nothing for 300ms") || asked.Load() != before {
			t.Errorf("a request right after %s stalled: %v (the server asked %d more times)", name, err, asked.Load()-before)
		}
	}

	halfway := server(t, func(c net.Conn) {
		readRequest(c)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nthe first bytes")
		io.Copy(io.Discard, c)
	})
	b, _ := New("s3://calm/p", Options{Endpoint: halfway, Stall: stall})
	if _, _, err := b.Hash(ctx, "c1.txt"); err == nil || !strings.Contains(err.Error(), "answered nothing for 300ms") {
		t.Errorf("hash of an object whose bytes stop coming: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the test's own deadline passed: a request waited for it")
	}
}

// A slow server that keeps sending is not given up: the stall is the time
// without progress, not the time a request takes.
func TestASlowServerThatKeepsSendingIsNotGivenUp(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	body := strings.Repeat("x", 20)
	slow := server(t, func(c net.Conn) {
		readRequest(c)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
		for i := range len(body) { // 20 x stall/4: longer than the stall, in all
			time.Sleep(stall / 4)
			c.Write([]byte{body[i]})
		}
	})
	b, _ := New("s3://calm/p", Options{Endpoint: slow, Stall: stall})
	var got strings.Builder
	if err := b.Get(context.Background(), "c1.txt", &got); err != nil || got.String() != body {
		t.Fatalf("a slow download: %q, %v", got.String(), err)
	}
}
