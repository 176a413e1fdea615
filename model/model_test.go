package model

import (
	"errors"
	"os/exec"
	"os/user"
	"strings"
	"testing"
	"time"
)

// The model is what every package may import without building the store:
// it must stay on the standard library.
func TestModelImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "calm/model" {
		t.Fatalf("model depends on %v beyond the standard library", got)
	}
}

func TestCopiesOnOneDeviceCountOnce(t *testing.T) {
	c := Capture{State: CaptureSealed, Copies: []Copy{
		{Kind: CopyStore, Location: "/s/calm.db", State: CopyVerified, Device: "dev:8:1"},
		{Kind: CopyEvidence, Location: "/s/evidence/i/c1.txt", State: CopyVerified, Device: "dev:8:1"},
		{Kind: CopyMirror, Location: "/m/i/c1.txt", State: CopyMissing, Device: "dev:8:2"},
		{Kind: CopyRemote, Location: "s3://b/i/c1.txt", State: CopyPending},
	}}
	if c.VerifiedCopies() != 2 || c.Devices() != 1 {
		t.Fatalf("VerifiedCopies %d, Devices %d; want 2 on 1 device", c.VerifiedCopies(), c.Devices())
	}
	if got, want := c.StateLine(), "2 of 4 copies verified, on 1 device"; got != want {
		t.Fatalf("StateLine %q, want %q", got, want)
	}
	// A copy whose device is unknown (an older record, a store file gone
	// from its path at seal) may be on the same disk: it never counts as
	// one more device, which would satisfy devices_required falsely.
	c.Copies[2] = Copy{Location: "/m/i/c1.txt", State: CopyVerified}
	if got, want := c.CopiesSummary(), "3 of 4 copies verified, on 1 device"; got != want {
		t.Fatalf("CopiesSummary %q, want %q", got, want)
	}
	c.Copies[0].Device = ""
	if got := c.Devices(); got != 1 {
		t.Fatalf("a store copy of no known device beside an evidence copy: on %d devices, want 1", got)
	}
	unknown := Capture{Copies: []Copy{{Location: "/s/calm.db", State: CopyVerified}, {Location: "/s/evidence/i/c1.txt", State: CopyVerified}}}
	if got := unknown.Devices(); got != 1 {
		t.Fatalf("copies of no known device: on %d devices, want 1", got)
	}
	c.Copies[2].Device = "dev:8:2"
	if got := c.Devices(); got != 2 {
		t.Fatalf("copies on two known devices: on %d, want 2", got)
	}
}

func TestStateLineWarnsBeforeTheCopies(t *testing.T) {
	open := Capture{State: CaptureOpen}
	if !strings.HasPrefix(open.StateLine(), "UNSEALED") {
		t.Errorf("an open capture reads %q", open.StateLine())
	}
	cut := Capture{State: CaptureSealed, Interrupted: "SIGTERM", Copies: []Copy{{Location: "a", State: CopyVerified}}}
	if got, want := cut.StateLine(), "INTERRUPTED: SIGTERM; partial, 1 of 1 copies verified, on 1 device"; !cut.Partial() || got != want {
		t.Errorf("an interrupted capture reads %q, want %q", got, want)
	}
}

func TestIncidentIsOpenUntilClosed(t *testing.T) {
	inc := Incident{ID: "i", Opened: time.Now()}
	if !inc.IsOpen() {
		t.Fatal("a new incident reads as closed")
	}
	inc.Closed = inc.Opened.Add(time.Hour)
	if inc.IsOpen() {
		t.Fatal("a closed incident reads as open")
	}
}

func TestSearchQueryRegexp(t *testing.T) {
	re, err := SearchQuery{Pattern: "a.b", Literal: true, IgnoreCase: true}.Regexp()
	if err != nil || !re.MatchString("xA.By") || re.MatchString("axb") {
		t.Fatalf("-F -i a.b: %v, %v", re, err)
	}
	if _, err := (SearchQuery{Pattern: "("}).Regexp(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "-F") {
		t.Fatalf("a bad pattern: %v, want ErrInvalid with the -F hint", err)
	}
}

// TestWhoNamesTheAccountWithoutUSER: a tick made where $USER and $LOGNAME
// are unset (a cron job, sudo -i) names the account, not "someone".
func TestWhoNamesTheAccountWithoutUSER(t *testing.T) {
	t.Setenv("USER", "")
	t.Setenv("LOGNAME", "")
	u, err := user.Current()
	if err != nil {
		t.Skipf("this machine has no account for its uid: %v", err)
	}
	if got := Who(); !strings.HasPrefix(got, u.Username+"@") {
		t.Fatalf("Who() = %q, want %s@host", got, u.Username)
	}
}
