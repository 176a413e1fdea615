// Package report turns an incident into what leaves the machine: the
// postmortem draft in Markdown, the team message, asciicast exports and the
// bundle with its manifest, all passed through redaction first. The store
// keeps the originals: recovery needs them.
package report

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// rule is one kind of secret and how to find it. The secret is the group
// named "s", else the rule's first group, else the whole match: a reader
// still sees what surrounded it. Quotes around a value stay outside the
// secret: a redacted JSON document is still JSON.
type rule struct {
	kind     string
	re       *regexp.Regexp
	keywords []string // lower case; the rule runs only on text holding one (none: always)
	entropy  float64  // a secret less random than this is not one
	// allowlists from gitleaks: a secret (or whole match) matching one is
	// not a secret; nor is one holding a stopword.
	allowSecret, allowMatch []*regexp.Regexp
	stopwords               []string
	// sample is a realistic line holding the secret between « and »; the
	// tests check every rule against its own.
	sample string
	secret int // the group index of the secret
	// multiline rules (key blocks) run on the whole text once a keyword
	// is in it.
	multiline bool
	// firstGroup: the secret is the first group that matched (gitleaks'
	// rules, which have alternatives, each with its group).
	firstGroup bool
}

func mustRule(kind, pattern, sample string, keywords ...string) rule {
	return newRule(kind, regexp.MustCompile(pattern), sample, keywords...)
}

func newRule(kind string, re *regexp.Regexp, sample string, keywords ...string) rule {
	ru := rule{kind: kind, re: re, sample: sample, multiline: strings.HasPrefix(re.String(), "-----BEGIN")}
	for _, kw := range keywords {
		ru.keywords = append(ru.keywords, strings.ToLower(kw))
	}
	if i := re.SubexpIndex("s"); i > 0 {
		ru.secret = i
	} else if re.NumSubexp() > 0 {
		ru.secret = 1
	}
	return ru
}

// builtinRules find the secrets that most often reach a production shell:
// command lines, config files, connection strings and notes. gitleaks'
// rules (gitleaks.go) come after them for the long tail of token formats.
var builtinRules = sync.OnceValue(func() []rule {
	return []rule{
		mustRule("pgp private key", `-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\r?\n(?:[A-Za-z0-9+/=]+|[ \t]*|[A-Za-z][A-Za-z-]*: [^\r\n]*)\r?)*?\r?\n-----END PGP PRIVATE KEY BLOCK-----`,
			"gpg --export-secret-keys -a ops\n«-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGVhZ3QBCAC7o1dGRN9ZkOe2Jn3sy2DFpEyPj9QH0Xz5m1m9YkR3xq3QeQjS\nAl8Xx3d1pQ2xQ==\n=Qn8v\n-----END PGP PRIVATE KEY BLOCK-----»\n$ ", "-----begin pgp private"),
		// A block cut short (a scrollback that starts or stops inside it)
		// loses its base64 lines, and nothing after them.
		mustRule("pgp private key", `-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\r?\n(?:[A-Za-z0-9+/=]{16,}|[A-Za-z][A-Za-z-]*: [^\r\n]*|)\r?)*(?:\r?\n=[A-Za-z0-9+/]{4})?`,
			"«-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBGVhZ3QBCAC7o1dGRN9ZkOe2Jn3sy2DFpEyPj9QH0Xz5m1m9YkR3xq3QeQjS»\n^C\n$ ls -la\ntotal 8", "-----begin pgp private"),
		mustRule("private key", `-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:\r?\n(?:[A-Za-z0-9+/=]+|[ \t]*|[A-Za-z][A-Za-z-]*: [^\r\n]*)\r?)*?\r?\n-----END [A-Z0-9 ]*PRIVATE KEY-----`,
			"$ cat id_ed25519\n«-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDb0fPxk2QbS0x5cmWnH8BqCw9lc7sZ8bd5oQ5VzRkcxgAAAJiS2g3Zktod\n-----END OPENSSH PRIVATE KEY-----»\n$ ", "private key-----"),
		mustRule("private key", `-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:\r?\n(?:[A-Za-z0-9+/=]{16,}|[A-Za-z][A-Za-z-]*: [^\r\n]*)\r?)*`,
			"$ head -4 server.key\n«-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK»\n$ ls -la\ndrwx------ 2 root root 4096 .\n-rw-r--r-- 1 root root  412 notes.txt\nok done", "private key-----"),
		// A private key's body without its BEGIN line (grep, sed -n, a paste):
		// its DER starts with a version 0 INTEGER, which base64 spells IBAAK
		// (RSA), IBADAN (PKCS#8) or CAQEE (EC) within the first few characters.
		// Certificates, which are public, start otherwise (MIID...CCA).
		mustRule("private key body", `\bM[HI][A-Za-z0-9+/]{1,4}(?:IBAAK|IBADAN|CAQEE)[A-Za-z0-9+/=]{30,}`,
			"$ grep -h MII backup/*.pem\n«MIIEowIBAAKCAQEA7bq9Lx0m3d2TQd8lE0wq1n5nX2r3QZpO7b3p0f2Q9uHnYq1c0xQw»\n$ ", "ibaak", "ibadan", "caqee"),
		mustRule("private key body", `\bM[HI][A-Za-z0-9+/]{1,4}(?:IBAAK|IBADAN|CAQEE)[A-Za-z0-9+/=]{30,}`,
			"key (pkcs8): «MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7o1dGRN9ZkOe2Jn3s»\n", "ibaak", "ibadan", "caqee"),
		// A Kubernetes secret holds keys base64-encoded: "-----BEGIN" is LS0tLS1CRUdJTi.
		mustRule("encoded private key", `LS0tLS1CRUdJTi[A-Za-z0-9+/=]{20,}`,
			"  tls.key: «LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktnd2dnU2tBZ0VBQW9JQkFRQ3k=»\n", "ls0tls1crudjti"),
		// No word boundary around it: a key with text glued on (a \r
		// rewrite's leftovers, KEY_AKIA..., a name before it) is still a
		// key, and its prefix and length are rare enough.
		mustRule("aws access key", `(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}`, "export AWS_ACCESS_KEY_ID=«AKIAIOSFODNN7EXAMPLE»", "akia", "asia", "abia", "acca"),
		mustRule("aws secret key", `(?i)aws_?secret_?access_?key["']?[ \t]*[=:][ \t]*["']?(?P<s>[A-Za-z0-9/+=]{40})`, "aws_secret_access_key = «wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY»", "secret"),
		mustRule("google api key", `\bAIza[0-9A-Za-z_-]{35}\b`, "?key=«AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY»&x=1", "aiza"),
		mustRule("github token", `\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b`, "GITHUB_TOKEN=«ghp_16C7e42F292c6912E7710c838347Ae178B4a»", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
		mustRule("gitlab token", `\bgl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|oas)-[0-9A-Za-z_.-]{20,}`, "git clone https://oauth2:«glpat-Xk9_2mQv7RtZpLw4NcYb»@gitlab.example.com/ops/db.git", "glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glsoat-", "glft-", "glimt-", "gloas-"),
		mustRule("slack token", `\bxox[abposr]-[A-Za-z0-9-]{10,}`, "SLACK=«xoxb-2222222222-4444444444444-AbCdEfGhIjKlMnOpQrStUvWx»", "xox"),
		mustRule("slack webhook", `https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}`, "curl -X POST «https://hooks.slack.com/services/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» -d @msg.json", "hooks.slack.com"),
		mustRule("stripe key", `\b[sr]k_live_[A-Za-z0-9]{20,}\b`, "«sk_live_4eC39HqLyjWDarjtT1zdp7dc»", "k_live_"),
		mustRule("azure key", `(?i)(?:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=(?P<s>[A-Za-z0-9+/%]{20,}={0,2})`, "DefaultEndpointsProtocol=https;AccountName=prodlogs;AccountKey=«Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==»;EndpointSuffix=core.windows.net", "accountkey", "sharedaccess", "sig="),
		mustRule("jwt", `\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`, "cookie: «eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U»", "eyj"),
		mustRule("bearer token", `(?i)\bbearer[ \t]+(?P<s>[A-Za-z0-9._~+/=-]{8,})`, "curl -H 'Authorization: Bearer «9f8e7d6c5b4a3f2e1d0c»' https://api", "bearer"),
		mustRule("basic auth", `(?i)\bauthorization:\s*basic\s+(?P<s>[A-Za-z0-9+/=]{8,})`, "> Authorization: Basic «YWRtaW46aHVudGVyMg==»", "basic"),
		// user:password@host, the password holding @ or / too: it runs to the
		// last @ before the host.
		mustRule("url password", `\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'"]*:(?P<s>[^\s'"]+)@[^\s@/'"]+`, "mongosh 'mongodb://admin:«p@ss/w0rd:9»@db1.prod:27017/users'", "://"),
		mustRule("mysql password", `\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mariadb|mariadb-dump)\b[^\n]*?\s(?:-p|--password=)(?:"(?P<s>[^"\n]*)"|'([^'\n]*)'|([^\s'"]+))`, "mysql -h db1 -u root -p«S3cr3t!x» -e 'select 1'", "mysql", "mariadb"),
		mustRule("curl password", `\bcurl\b[^\n]*?\s(?:-u|--user)[ =]?["']?[^\s:'"]*:(?P<s>[^\s'"]+)`, "curl -fsS -u deploy:«Tr0ub4dor&3» https://ci.internal/api/json", "curl"),
		mustRule("redis password", `\bredis-cli\b[^\n]*?\s(?:-a|--pass)\s+(?:"(?P<s>[^"\n]*)"|'([^'\n]*)'|(\S+))`, "redis-cli -h cache1 -a «9zXq!mPw2» --no-auth-warning info", "redis-cli"),
		mustRule("command line password", `(?i)(?:^|\s)(?:-{1,2}[a-z-]*(?:pass(?:word|wd)?|secret|token|api-?key)|sshpass\s+-p)[= ](?:"(?P<s>[^"\n]*)"|'([^'\n]*)'|([^\s'"-][^\s'"]*))`, "pg_dump --password=«Zq7-hunter» -h db1 orders; sshpass -p «w3lcome1» ssh ops@bastion", "pass", "secret", "token", "key"),
		mustRule("netrc password", `(?m)(?:\b(?:login|machine)\s+\S+\s+|^[ \t]*)password[ \t]+(?P<s>\S+)`, "machine api.internal login deploy password «s3cr3tNetrc»\n  password «OtherLine9»", "password"),
		// KEY: value and KEY=value with a name that says secret; Kubernetes
		// secrets (DB_PASS: base64) and .env files included.
		mustRule("password", `(?i)\b[a-z0-9_.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)["']?[ \t]*(?:=|:|=>)[ \t]*(?:"(?P<s>[^"\n]*)"|'([^'\n]*)'|([^\s,;&"'\[{][^\s,;&"']*))`,
			"data:\n  DB_PASS: «cGFzc3dvcmQxMjM=»\n  PGPASSWORD=«hunter2» psql ; {\"password\": \"«correct horse»\"}", "pass", "pwd", "secret", "token", "key", "credential"),
		// A note or a chat line: "the password is X".
		mustRule("password", `(?i)\b(?:password|passphrase|passwd|pwd|pin|secret|token)\s+(?:is|was|are|remains|:)\s*:?\s+(?:"(?P<s>[^"\n]*)"|'([^'\n]*)'|([^\s,;"']+))`, "note: root password is «Winter2026!» until rotation", "pass", "pwd", "pin", "secret", "token"),
	}
})

// Redactor replaces secrets with [REDACTED kind].
type Redactor struct {
	rules    []rule
	keywords *keywordIndex
}

// NewRedactor returns a redactor with the built-in rules, gitleaks' rules
// and extra patterns (RE2) from the configuration, whose whole match is
// redacted.
func NewRedactor(extra []string) (*Redactor, error) {
	// A team's own patterns go first: where two rules find overlapping
	// secrets the first one names them.
	r := &Redactor{}
	for _, p := range extra {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact pattern %q: %v", p, err)
		}
		r.rules = append(r.rules, rule{kind: "configured pattern", re: re})
	}
	r.rules = append(r.rules, builtinRules()...)
	g, err := gitleaksRules()
	if err != nil {
		return nil, err
	}
	r.rules = append(r.rules, g...)
	r.keywords = newKeywordIndex(r.rules)
	return r, nil
}

// minRepeatedSecret is the shortest secret whose every copy in a text is
// redacted, not only the one a rule found: a shorter one could be a word.
const minRepeatedSecret = 6

// span is a secret found in a text: [start, end), and the rule that found it.
type span struct {
	start, end int
	rule       int
}

// find returns the secrets in text, sorted and merged where they overlap.
// A rule with keywords runs only around the lines that hold one of them
// (the line and the few after it that a rule may reach), which keeps a
// few hundred rules near the speed of one.
func (r *Redactor) find(text []byte) []span {
	windows := r.keywords.windows(text, len(r.rules))
	var found []span
	for ri := range r.rules {
		ru := &r.rules[ri]
		if len(ru.keywords) > 0 && !ru.multiline {
			for _, w := range windows[ri] {
				found = ru.findIn(text, w[0], w[1], ri, found)
			}
			continue
		}
		if ru.multiline && len(windows[ri]) == 0 {
			continue
		}
		found = ru.findIn(text, 0, len(text), ri, found)
	}
	if len(found) == 0 {
		return nil
	}
	// A secret a rule found is one wherever else the text holds it: the
	// same password given again where no rule sees it (redis-cli -a S3cret
	// -p S3cret), or echoed back.
	seen := map[string]bool{}
	for _, sp := range found[:len(found):len(found)] {
		secret := text[sp.start:sp.end]
		if len(secret) < minRepeatedSecret || seen[string(secret)] {
			continue
		}
		seen[string(secret)] = true
		for at := 0; ; {
			i := bytes.Index(text[at:], secret)
			if i < 0 {
				break
			}
			found = append(found, span{at + i, at + i + len(secret), sp.rule})
			at += i + len(secret)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].start != found[j].start {
			return found[i].start < found[j].start
		}
		return found[i].rule < found[j].rule
	})
	merged := found[:1]
	for _, sp := range found[1:] {
		last := &merged[len(merged)-1]
		if sp.start < last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// findIn appends the secrets the rule finds in text[from:to].
func (ru *rule) findIn(text []byte, from, to, ri int, found []span) []span {
	for _, m := range ru.re.FindAllSubmatchIndex(text[from:to], -1) {
		s, e := m[0], m[1]
		if g := ru.secret; g > 0 && m[2*g] >= 0 {
			s, e = m[2*g], m[2*g+1]
		} else if ru.firstGroup || g > 0 {
			// The secret's group is one of several alternatives (a
			// quoted value's inside, or a bare one): the one that matched.
			for g := 1; 2*g < len(m); g++ {
				if m[2*g+1] > m[2*g] {
					s, e = m[2*g], m[2*g+1]
					break
				}
			}
		}
		s, e = s+from, e+from
		// Whitespace around a secret is no part of it.
		for e > s && isSpace(text[e-1]) {
			e--
		}
		if e <= s || !ru.accepts(text[s:e], text[from+m[0]:from+m[1]]) || bytes.HasPrefix(text[s:], []byte("[REDACTED ")) {
			// Redacted already (text that went through an export once, a
			// note quoting one): "the password is [REDACTED password]" is
			// no secret to take again into "[REDACTED password] password]".
			continue
		}
		found = append(found, span{s, e, ri})
	}
	return found
}

// accepts applies gitleaks' entropy threshold and allowlists.
func (ru *rule) accepts(secret, match []byte) bool {
	if ru.entropy > 0 && shannon(secret) < ru.entropy {
		return false
	}
	for _, a := range ru.allowSecret {
		if a.Match(secret) {
			return false
		}
	}
	for _, a := range ru.allowMatch {
		if a.Match(match) {
			return false
		}
	}
	if len(ru.stopwords) > 0 {
		low := bytes.ToLower(secret)
		for _, w := range ru.stopwords {
			if bytes.Contains(low, []byte(w)) {
				return false
			}
		}
	}
	return true
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// shannon is the entropy of b in bits per byte.
func shannon(b []byte) float64 {
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	h := 0.0
	for _, n := range counts {
		if n > 0 {
			p := float64(n) / float64(len(b))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// edit replaces stored bytes [start, end) with repl.
type edit struct {
	start, end int
	repl       []byte
}

// edits finds the secrets in stored bytes as a person reads them and maps
// each back onto the stored form. A secret coloured in parts keeps its
// colour changes after the marker, so the styles around it stay as they
// were; string sequences (a window title) are read on their own.
func (r *Redactor) edits(stored []byte) []edit {
	rd := read(stored)
	eds := r.mapEdits(stored, &rd, rd.text, rd.at, true)
	if len(rd.strings) > 0 {
		text, at := rd.payloads(stored)
		inner := r.mapEdits(stored, &rd, text, at, false)
		if len(inner) > 0 {
			// A title inside a secret went with the secret.
			kept := inner[:0]
			for _, e := range inner {
				i := sort.Search(len(eds), func(i int) bool { return eds[i].end > e.start })
				if i == len(eds) || eds[i].start >= e.end {
					kept = append(kept, e)
				}
			}
			eds = append(eds, kept...)
			sort.Slice(eds, func(i, j int) bool { return eds[i].start < eds[j].start })
		}
	}
	eds = withWholeLines(eds, r.literalEscapeEdits(rd.text, rd.at))
	eds = withWholeLines(eds, r.overwriteEdits(stored))
	eds = withWholeLines(eds, r.acrossLinesEdits(stored, rd.text))
	return withWholeLines(eds, clipboardWrites(stored, &rd))
}

// literalEscape is an escape sequence written out as text: printf's and
// echo -e's \033[31m, \e[K, \x1b[0m, JSON's \u001b[1m, cat -v's ^[[K.
// Glued to a secret, its last letter hides the secret's start from every
// rule that wants a word boundary there (\033[31mAKIA...).
var literalEscape = regexp.MustCompile(`^(?:\\(?:0?33|[eE]|[xX]1[bB]|u001[bB]|x\{1[bB]\})|\^\[)\[[0-?]*[ -/]*[@-~]`)

// literalEscapeEdits finds the secrets in text (the reading, mapped to
// the stored bytes by at) once each escape written out as text is read
// as a space, as the escape it spells would not show.
func (r *Redactor) literalEscapeEdits(text []byte, at offsets) []edit {
	// The regexp runs only where a \ or a ^ is: scanning every byte with it
	// would cost more than every rule together.
	var locs [][2]int
	for i := 0; i < len(text); {
		k := bytes.IndexAny(text[i:], `\^`)
		if k < 0 {
			break
		}
		i += k
		if i+1 < len(text) && strings.IndexByte("03eExXu[", text[i+1]) < 0 {
			i++ // \" or \n: no escape spelled out
			continue
		}
		if m := literalEscape.FindIndex(text[i:min(len(text), i+64)]); m != nil {
			locs = append(locs, [2]int{i, i + m[1]})
			i += m[1]
			continue
		}
		i++
	}
	if len(locs) == 0 {
		return nil
	}
	// Read twice: each escape as a space (a secret after one), and as
	// nothing (a secret coloured in parts, AKIA\033[0mIOSF...).
	var eds []edit
	for _, sep := range []string{" ", ""} {
		spelled := make([]byte, 0, len(text))
		var in offsets // spelled's bytes in text
		prev := 0
		for _, l := range locs {
			in = in.add(len(spelled), prev)
			spelled = append(spelled, text[prev:l[0]]...)
			if sep != "" {
				in = in.add(len(spelled), l[0])
				spelled = append(spelled, sep...)
			}
			prev = l[1]
		}
		in = in.add(len(spelled), prev)
		spelled = append(spelled, text[prev:]...)
		var found []edit
		for _, sp := range r.find(spelled) {
			found = append(found, edit{at.of(in.of(sp.start)), at.of(in.of(sp.end-1)) + 1, []byte("[REDACTED " + r.rules[sp.rule].kind + "]")})
		}
		eds = withWholeLines(eds, found)
	}
	return eds
}

// clipboardWrites returns an edit taking out each OSC 52 (a clipboard
// write) whole: its payload is base64, where no rule sees a secret, and an
// export replayed on a terminal must not set its reader's clipboard.
func clipboardWrites(stored []byte, rd *reading) []edit {
	var eds []edit
	for _, st := range rd.strings {
		if bytes.HasPrefix(stored[st.payStart:st.payEnd], []byte("52;")) && (stored[st.start] == 0x1b && stored[st.start+1] == ']' || bytes.HasPrefix(stored[st.start:], []byte("\u009d"))) {
			eds = append(eds, edit{st.start, st.end, nil})
		}
	}
	return eds
}

func (r *Redactor) mapEdits(stored []byte, rd *reading, text []byte, at offsets, keepStyles bool) []edit {
	var eds []edit
	for _, sp := range r.find(text) {
		// Line ends between payloads map nowhere: trim them off.
		for sp.start < sp.end && at.of(sp.start) < 0 {
			sp.start++
		}
		for sp.end > sp.start && at.of(sp.end-1) < 0 {
			sp.end--
		}
		if sp.start == sp.end {
			continue
		}
		repl := []byte("[REDACTED " + r.rules[sp.rule].kind + "]")
		if keepStyles {
			for j := sp.start; at != nil && j+1 < sp.end; j++ {
				a, b := at.of(j)+1, at.of(j+1)
				if b > a && !rd.inString(a, b) {
					repl = append(repl, stored[a:b]...)
				}
			}
		}
		eds = append(eds, edit{at.of(sp.start), at.of(sp.end-1) + 1, repl})
	}
	return eds
}

// apply writes stored with the edits made.
func apply(dst, stored []byte, eds []edit) []byte {
	pos := 0
	for _, e := range eds {
		dst = append(dst, stored[pos:e.start]...)
		dst = append(dst, e.repl...)
		pos = e.end
	}
	return append(dst, stored[pos:]...)
}

// Redact returns text with every secret replaced, and how many it replaced.
// Escape sequences in text do not hide a secret.
func (r *Redactor) Redact(text []byte) ([]byte, int) {
	eds := r.edits(text)
	if len(eds) == 0 {
		return text, 0
	}
	return apply(make([]byte, 0, len(text)), text, eds), len(eds)
}

// Secrets returns where the secrets in text are: [start, end) byte ranges,
// in order, not overlapping.
func (r *Redactor) Secrets(text []byte) [][2]int {
	var out [][2]int
	for _, sp := range r.find(text) {
		out = append(out, [2]int{sp.start, sp.end})
	}
	return out
}

// RedactString is Redact for a title, a note or a command line.
func (r *Redactor) RedactString(s string) (string, int) {
	out, n := r.Redact([]byte(s))
	return string(out), n
}
