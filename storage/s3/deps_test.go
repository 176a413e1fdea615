package s3

import (
	"os/exec"
	"strings"
	"testing"
)

// Every calm command pays for the package inits of what the binary builds:
// minio-go's (regexps, CPUID probes, a machine ID) were a quarter of calm's
// start. It stays a test dependency only, as a second client to check this
// one against.
func TestCalmDoesNotBuildMinio(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "calm").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "minio") {
			t.Errorf("calm builds %s", p)
		}
	}
}
