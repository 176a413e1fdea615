package cli

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// TestConfigTakesIdleTimeLimit: the replay's idle limit is a known config
// key (an unknown one is refused), in seconds as asciinema's.
func TestConfigTakesIdleTimeLimit(t *testing.T) {
	t.Parallel()
	var c Config
	md, err := toml.Decode("idle_time_limit = 0.5\n", &c)
	if err != nil || len(md.Undecoded()) != 0 {
		t.Fatalf("idle_time_limit: %v, undecoded %v", err, md.Undecoded())
	}
	if c.IdleTimeLimit != 0.5 {
		t.Fatalf("idle_time_limit read as %v", c.IdleTimeLimit)
	}
}
