package ui

import (
	"os/exec"
	"strings"
	"testing"
)

// The TUI reads and writes through the Store interface (the agent's client
// or a bundle): building it must not build the store, bbolt or the S3 client.
func TestUIDoesNotBuildTheStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "bbolt") || strings.Contains(p, "smithy-go") || p == "calm/storage" {
			t.Errorf("ui depends on %s", p)
		}
	}
}
