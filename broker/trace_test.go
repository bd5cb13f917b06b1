package broker

import "testing"

// The CONNECT fields nats-server keeps out of a trace: keys starting
// with pass or auth_token, and exactly sig, proxy_sig and nkey.
func TestRedactSecrets(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"user":"u","pass":"s3cret","name":"app"}`, `{"user":"u","pass":"[REDACTED]","name":"app"}`},
		{`{"password":"a\"b,c}","x":1}`, `{"password":"[REDACTED]","x":1}`},
		{`{"auth_token":"tok"}`, `{"auth_token":"[REDACTED]"}`},
		{`{"nkey":"UABC","sig":"c2ln","proxy_sig":"cA"}`, `{"nkey":"[REDACTED]","sig":"[REDACTED]","proxy_sig":"[REDACTED]"}`},
		{`{"pass": 1234}`, `{"pass": "[REDACTED]"}`},
		{`{"design":"kept","jwt":"eyJ.kept","user":"kept"}`, `{"design":"kept","jwt":"eyJ.kept","user":"kept"}`},
		{`{"verbose":false}`, `{"verbose":false}`},
		{`{"pass":"unterminated`, `{"pass":"[REDACTED]"`},
		{`{"PASS":"s3cret","Auth_Token":"t"}`, `{"PASS":"[REDACTED]","Auth_Token":"[REDACTED]"}`},
		{`{"p\u0061ss":"s3cret","user":"u"}`, `{"[REDACTED]":"a secret key spelled with escapes"}`},
	} {
		if got := string(redactSecrets([]byte(c.in))); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// A CONNECT with nothing to redact is traced as it came, without a copy.
func TestRedactSecretsNoCopy(t *testing.T) {
	in := []byte(`{"verbose":false,"user":"u"}`)
	if out := redactSecrets(in); &out[0] != &in[0] {
		t.Fatal("copied an argument with no secret")
	}
}
