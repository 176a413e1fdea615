package checklist

import (
	"os/exec"
	"strings"
	"testing"
)

// The checklist needs the data model, not the store: building it must not
// build bbolt or the S3 client.
func TestChecklistDoesNotBuildTheStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "bbolt") || strings.Contains(p, "smithy-go") || p == "calm/storage" {
			t.Errorf("checklist depends on %s", p)
		}
	}
}
