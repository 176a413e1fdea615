package report

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// gitleaksConfig is gitleaks' default rule set (config/gitleaks.toml of
// github.com/gitleaks/gitleaks at b58d3f1, MIT licence: gitleaks/LICENSE),
// kept verbatim so that an update is a copy of the newer file. It knows the
// field's token formats far better than a hand-grown list would.
//
//go:embed gitleaks/gitleaks.toml
var gitleaksConfig string

type gitleaksAllowlist struct {
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Stopwords   []string `toml:"stopwords"`
	Paths       []string `toml:"paths"`
	Condition   string   `toml:"condition"`
}

type gitleaksFile struct {
	Allowlist gitleaksAllowlist `toml:"allowlist"`
	Rules     []struct {
		ID          string              `toml:"id"`
		Regex       string              `toml:"regex"`
		SecretGroup int                 `toml:"secretGroup"`
		Entropy     float64             `toml:"entropy"`
		Keywords    []string            `toml:"keywords"`
		Path        string              `toml:"path"`
		Allowlists  []gitleaksAllowlist `toml:"allowlists"`
	} `toml:"rules"`
}

var (
	gitleaksOnce   sync.Once
	gitleaksParsed []rule
	gitleaksErr    error
)

// gitleaksRules compiles the rule set once. Rules that apply to one kind
// of file (a path) and allowlists of paths or whole lines have nothing to
// go by in a terminal's output and are left out; so is private-key, whose
// block without an END line runs on to the next key's: calm's own key
// rules stop where the block does.
func gitleaksRules() ([]rule, error) {
	gitleaksOnce.Do(func() {
		var f gitleaksFile
		if _, err := toml.Decode(gitleaksConfig, &f); err != nil {
			gitleaksErr = fmt.Errorf("gitleaks rules: %v", err)
			return
		}
		global, err := compileAll(f.Allowlist.Regexes)
		if err != nil {
			gitleaksErr = err
			return
		}
		for _, gr := range f.Rules {
			if gr.Path != "" || gr.Regex == "" || gr.ID == "private-key" {
				continue
			}
			re, err := regexp.Compile(gr.Regex)
			if err != nil {
				gitleaksErr = fmt.Errorf("gitleaks rule %s: %v", gr.ID, err)
				return
			}
			ru := newRule(strings.ReplaceAll(gr.ID, "-", " "), re, "", lower(gr.Keywords)...)
			ru.secret, ru.firstGroup = gr.SecretGroup, gr.SecretGroup == 0
			ru.entropy = gr.Entropy
			ru.allowSecret = global
			ru.stopwords = lower(f.Allowlist.Stopwords)
			for _, al := range gr.Allowlists {
				if len(al.Paths) > 0 || al.RegexTarget == "line" {
					continue
				}
				res, err := compileAll(al.Regexes)
				if err != nil {
					gitleaksErr = fmt.Errorf("gitleaks rule %s: %v", gr.ID, err)
					return
				}
				if al.RegexTarget == "match" {
					ru.allowMatch = append(ru.allowMatch, res...)
				} else {
					ru.allowSecret = append(ru.allowSecret[:len(ru.allowSecret):len(ru.allowSecret)], res...)
				}
				ru.stopwords = append(ru.stopwords[:len(ru.stopwords):len(ru.stopwords)], lower(al.Stopwords)...)
			}
			gitleaksParsed = append(gitleaksParsed, ru)
		}
	})
	return gitleaksParsed, gitleaksErr
}

func compileAll(patterns []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("gitleaks allowlist %q: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func lower(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = strings.ToLower(w)
	}
	return out
}
