// Package report turns an incident into what leaves the machine: the
// postmortem draft in Markdown, the team message, asciicast exports and the
// bundle with its manifest, all passed through redaction first. The store
// keeps the originals: recovery needs them.
package report

import (
	"fmt"
	"regexp"
)

// rule is one kind of secret and how to find it. Groups named "keep" are
// kept around the redacted part, so a reader still sees what it was.
type rule struct {
	kind string
	re   *regexp.Regexp
}

// builtinRules find the secrets that most often reach a production shell.
var builtinRules = []rule{
	{"private key", regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----`)},
	{"aws access key", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"aws secret key", regexp.MustCompile(`(?i)(?P<keep>aws_secret_access_key\s*[=:]\s*["']?)[A-Za-z0-9/+=]{40}`)},
	{"google api key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"github token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b`)},
	{"slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"stripe key", regexp.MustCompile(`\b[sr]k_live_[A-Za-z0-9]{20,}\b`)},
	{"jwt", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
	{"bearer token", regexp.MustCompile(`(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}`)},
	{"url password", regexp.MustCompile(`(?P<keep>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?P<keep2>@)`)},
	{"password", regexp.MustCompile(`(?i)(?P<keep>\b[a-z_]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)["']?\s*[=:]\s*)(?:"[^"\n]*"|'[^'\n]*'|[^\s,;&"'\[][^\s,;&"']*)`)},
}

// Redactor replaces secrets with [REDACTED kind].
type Redactor struct {
	rules []rule
}

// NewRedactor returns a redactor with the built-in rules and extra patterns
// (RE2) from the configuration, whose whole match is redacted.
func NewRedactor(extra []string) (*Redactor, error) {
	// A team's own patterns go first: they know their secrets' shapes best,
	// and a built-in rule must not cut one in half.
	r := &Redactor{}
	for _, p := range extra {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact pattern %q: %v", p, err)
		}
		r.rules = append(r.rules, rule{"configured pattern", re})
	}
	r.rules = append(r.rules, builtinRules...)
	return r, nil
}

// Redact returns text with every secret replaced, and how many it replaced.
func (r *Redactor) Redact(text []byte) ([]byte, int) {
	total := 0
	for _, ru := range r.rules {
		keep, keep2 := ru.re.SubexpIndex("keep"), ru.re.SubexpIndex("keep2")
		n := 0
		text = ru.re.ReplaceAllFunc(text, func(m []byte) []byte {
			n++
			sub := ru.re.FindSubmatchIndex(m)
			var out []byte
			if keep > 0 && sub[2*keep] >= 0 {
				out = append(out, m[sub[2*keep]:sub[2*keep+1]]...)
			}
			out = append(out, "[REDACTED "+ru.kind+"]"...)
			if keep2 > 0 && sub[2*keep2] >= 0 {
				out = append(out, m[sub[2*keep2]:sub[2*keep2+1]]...)
			}
			return out
		})
		total += n
	}
	return text, total
}
