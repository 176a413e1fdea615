package report

import (
	"strings"
	"testing"
)

func TestEachRedactionRuleCatchesARealisticSecret(t *testing.T) {
	cases := []struct {
		kind, in, want string
	}{
		{"private key", "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\nend",
			"key:\n[REDACTED private key]\nend"},
		{"aws access key", "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "export AWS_ACCESS_KEY_ID=[REDACTED aws access key]"},
		{"aws secret key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED aws secret key]"},
		{"google api key", "?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&x=1", "?key=[REDACTED google api key]&x=1"},
		{"github token", "GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a", "GITHUB_TOKEN=[REDACTED github token]"},
		{"slack token", "SLACK=xoxb-2222222222-4444444444444-AbCdEfGhIjKlMnOpQrStUvWx", "SLACK=[REDACTED slack token]"},
		{"stripe key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "[REDACTED stripe key]"},
		{"jwt", "cookie: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "cookie: [REDACTED jwt]"},
		{"bearer token", "curl -H 'Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c' https://api", "curl -H 'Authorization: Bearer [REDACTED bearer token]' https://api"},
		{"url password", "mongodb://admin:s3cr3t-Pa55@db1.prod:27017/users", "mongodb://admin:[REDACTED url password]@db1.prod:27017/users"},
		{"password", `db.auth("admin", "x") ; PGPASSWORD=hunter2 psql ; {"password": "correct horse"}`, `db.auth("admin", "x") ; PGPASSWORD=[REDACTED password] psql ; {"password": [REDACTED password]}`},
	}
	r, _ := NewRedactor(nil)
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			got, n := r.Redact([]byte(c.in))
			if string(got) != c.want || n == 0 {
				t.Fatalf("redacted %d:\n got %q\nwant %q", n, got, c.want)
			}
		})
	}
}

func TestConfiguredPatternsAndCleanTextUntouched(t *testing.T) {
	r, err := NewRedactor([]string{`(?i)x-api-key:\s*\S+`})
	if err != nil {
		t.Fatal(err)
	}
	got, n := r.Redact([]byte("X-Api-Key: abc123\nplain { \"_id\": ObjectId(\"5f1d\") }\n"))
	if n != 1 || string(got) != "[REDACTED configured pattern]\nplain { \"_id\": ObjectId(\"5f1d\") }\n" {
		t.Fatalf("%d: %q", n, got)
	}
	if _, err := NewRedactor([]string{"("}); err == nil || !strings.Contains(err.Error(), `redact pattern "("`) {
		t.Fatalf("bad pattern: %v", err)
	}
}
