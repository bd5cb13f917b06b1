package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// plain turns a parsed tree into Go values for comparison.
func plain(v *Value) any {
	switch v.Kind {
	case String:
		return v.Str
	case Int:
		return v.Int
	case Float:
		return v.Float
	case Bool:
		return v.Bool
	case Array:
		out := []any{}
		for _, e := range v.Array {
			out = append(out, plain(e))
		}
		return out
	case Block:
		return plainMap(v.Map)
	}
	return fmt.Sprintf("?%d", v.Kind)
}

func plainMap(m *Map) map[string]any {
	out := map[string]any{}
	for _, f := range m.Fields {
		out[f.Key] = plain(f.Value)
	}
	return out
}

type files map[string]string

func (f files) src(env map[string]string) Source {
	return Source{
		ReadFile: func(name string) ([]byte, error) {
			if s, ok := f[filepath.ToSlash(name)]; ok {
				return []byte(s), nil
			}
			return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
		},
		LookupEnv: func(name string) (string, bool) { s, ok := env[name]; return s, ok },
	}
}

func TestParseForms(t *testing.T) {
	type m = map[string]any
	type a = []any
	cases := []struct {
		name, in string
		want     m
	}{
		{"colon", "port: 4222", m{"port": int64(4222)}},
		{"equals", "port = 4222", m{"port": int64(4222)}},
		{"space", "port 4222", m{"port": int64(4222)}},
		{"tabs and semicolons", "a\t1; b: 2;\nc = 3", m{"a": int64(1), "b": int64(2), "c": int64(3)}},
		{"negative", "port: -1", m{"port": int64(-1)}},
		{"float", "t: 0.5\nu: 1.5e3", m{"t": 0.5, "u": 1500.0}},
		{"host:port bare", "listen: 127.0.0.1:4222", m{"listen": "127.0.0.1:4222"}},
		{"ip bare", "host: 127.0.0.1", m{"host": "127.0.0.1"}},
		{"url bare keeps //", "url: nats://h:4222 # c", m{"url": "nats://h:4222"}},
		{"double quoted", `s: "a b\t\"c\" \u00e9 \\"`, m{"s": "a b\t\"c\" é \\"}},
		{"single quoted raw", `s: 'a\tb "c"'`, m{"s": `a\tb "c"`}},
		{"quoted key", `"a b": 1`, m{"a b": int64(1)}},
		{"bools", "a: true\nb: FALSE\nc: yes\nd: no\ne: on\nf: Off", m{"a": true, "b": false, "c": true, "d": false, "e": true, "f": false}},
		{"sizes", "a: 1k\nb: 1KB\nc: 2mb\nd: 1G\ne: 1gb\nf: 3Ki\ng: 1m", m{"a": int64(1000), "b": int64(1024), "c": int64(2 << 20), "d": int64(1e9), "e": int64(1 << 30), "f": int64(3072), "g": int64(1e6)}},
		{"not a size", "d: 10s\ne: 2h30m", m{"d": "10s", "e": "2h30m"}},
		{"comments", "# top\n// also\na: 1 # after\nb: 2 // after\n", m{"a": int64(1), "b": int64(2)}},
		{"block", "auth { user: a\n password: b }", m{"auth": m{"user": "a", "password": "b"}}},
		{"block colon", "auth: {\n user = a\n}", m{"auth": m{"user": "a"}}},
		{"block equals one line", "a = {x: 1, y: 2}", m{"a": m{"x": int64(1), "y": int64(2)}}},
		{"nested", "a { b { c { d: 1 } } }", m{"a": m{"b": m{"c": m{"d": int64(1)}}}}},
		{"array commas", "s: [a, 'b', \"c\", 1]", m{"s": a{"a", "b", "c", int64(1)}}},
		{"array newlines", "s: [\n  a\n  b # c\n  // d\n]", m{"s": a{"a", "b"}}},
		{"array trailing comma", "s: [a, b,]", m{"s": a{"a", "b"}}},
		{"array empty", "s: []", m{"s": a{}}},
		{"array of blocks", "u: [ {user: a}, {user: b} ]", m{"u": a{m{"user": "a"}, m{"user": "b"}}}},
		{"nested arrays", "x: [[1], [2, 3]]", m{"x": a{a{int64(1)}, a{int64(2), int64(3)}}}},
		{"last wins", "a: 1\na: 2", m{"a": int64(2)}},
		{"bcrypt bare", "p: $2a$11$abcdefghijk", m{"p": "$2a$11$abcdefghijk"}},
		{"crlf", "a: 1\r\nb: 2\r\n", m{"a": int64(1), "b": int64(2)}},
		{"empty", "", m{}},
		{"only comments", "# nothing\n// here", m{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("x.conf", []byte(tc.in), Source{})
			if err != nil {
				t.Fatal(err)
			}
			if p := plainMap(got); !reflect.DeepEqual(p, tc.want) {
				t.Fatalf("got %#v\nwant %#v", p, tc.want)
			}
		})
	}
}

func TestPositionsAndKeys(t *testing.T) {
	in := "a: 1\n\nauth {\n  users: [\n    {user: x}\n  ]\n}\n"
	m, err := Parse("dir/x.conf", []byte(in), Source{})
	if err != nil {
		t.Fatal(err)
	}
	auth := m.Get("auth").Value
	u := auth.Map.Get("users").Value.Array[0].Map.Get("user").Value
	if u.Pos != (Pos{"dir/x.conf", 5}) || u.Key != "auth.users[0].user" {
		t.Fatalf("user at %v key %q", u.Pos, u.Key)
	}
	if f := m.Get("auth"); f.Pos.Line != 3 || auth.Key != "auth" {
		t.Fatalf("auth at %v", f.Pos)
	}
	if a := m.Get("a").Value; a.Pos.Line != 1 || a.Key != "a" {
		t.Fatalf("a at %v key %q", a.Pos, a.Key)
	}
}

func TestVariables(t *testing.T) {
	src := files{}.src(map[string]string{"ENV_PORT": "4333", "ENV_LIST": "[a, b]"})
	in := "PASS: secret\nport: $ENV_PORT\nauth {\n  user: a\n  password: $PASS\n  LOCAL: 5\n  n: $LOCAL\n}\nl: $ENV_LIST\n"
	m, err := Parse("v.conf", []byte(in), src)
	if err != nil {
		t.Fatal(err)
	}
	got := plainMap(m)
	if got["port"] != int64(4333) || got["auth"].(map[string]any)["password"] != "secret" ||
		got["auth"].(map[string]any)["n"] != int64(5) || !reflect.DeepEqual(got["l"], []any{"a", "b"}) {
		t.Fatalf("got %#v", got)
	}
	if !m.Get("PASS").Used || m.Get("port").Used {
		t.Fatal("PASS should be marked used, port not")
	}
	pw := m.Get("auth").Value.Map.Get("password").Value
	if pw.Pos.Line != 5 || pw.Key != "auth.password" {
		t.Fatalf("variable value at %v %q, want the reference's place", pw.Pos, pw.Key)
	}
}

func TestIncludes(t *testing.T) {
	fsys := files{
		"etc/main.conf":     "port: 1\ninclude auth.conf\nsub {\n  include 'inc/more.conf'\n}\nx: $FROM_INC\n",
		"etc/auth.conf":     "authorization {\n  token: t\n}\nFROM_INC: 7\n",
		"etc/inc/more.conf": "y: 2\n",
		"etc/loop.conf":     "include loop.conf\n",
		"etc/bad.conf":      "a: 1\nb: [\n",
		"etc/inc_bad.conf":  "ok: 1\ninclude bad.conf\n",
	}
	src := fsys.src(nil)
	m, err := Parse("etc/main.conf", []byte(fsys["etc/main.conf"]), src)
	if err != nil {
		t.Fatal(err)
	}
	got := plainMap(m)
	want := map[string]any{"port": int64(1), "authorization": map[string]any{"token": "t"}, "FROM_INC": int64(7), "sub": map[string]any{"y": int64(2)}, "x": int64(7)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	tok := m.Get("authorization").Value.Map.Get("token").Value
	if tok.Pos != (Pos{"etc/auth.conf", 2}) || tok.Key != "authorization.token" {
		t.Fatalf("included value at %v %q", tok.Pos, tok.Key)
	}
	if y := m.Get("sub").Value.Map.Get("y").Value; y.Key != "sub.y" || y.Pos.File != filepath.Join("etc", "inc", "more.conf") {
		t.Fatalf("nested include at %v %q", y.Pos, y.Key)
	}

	for name, want := range map[string]string{
		"etc/loop.conf":    "etc/loop.conf:1: include: includes nested deeper than 10",
		"etc/inc_bad.conf": "etc/bad.conf:2: b: array is not closed",
	} {
		_, err := Parse(name, []byte(fsys[name]), src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
	_, err = Parse("etc/x.conf", []byte("\ninclude nope.conf"), src)
	var ce *Error
	if !errors.As(err, &ce) || ce.Pos.Line != 2 || !errors.Is(err, err) || !strings.Contains(err.Error(), "nope.conf") {
		t.Fatalf("missing include: %v", err)
	}
	if _, err := Parse("x.conf", []byte("include a.conf"), Source{}); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("include without ReadFile: %v", err)
	}
}

func TestErrors(t *testing.T) {
	env := map[string]string{"BAD": "[1", "TWO": "a b"}
	cases := []struct{ in, want string }{
		{"a: 1\nb:", "e.conf:2: b: missing value"},
		{"a: 1\nb\n", "e.conf:2: b: missing value"},
		{"a {\n b: 1\n", "e.conf:1: a: block is not closed with }"},
		{"a: 1\n}", "e.conf:2: unexpected }"},
		{"a: [1,\n 2", "e.conf:1: a: array is not closed with ]"},
		{"a: [1 2]", "e.conf:1: a: unexpected '2' in array"},
		{"a: \"abc\nb: 1", "e.conf:1: a: string is not closed with \""},
		{"a: 'abc", "e.conf:1: a: string is not closed with '"},
		{`a: "\q"`, `e.conf:1: a: unknown escape \q`},
		{`a: "\u12"`, `e.conf:1: a: short \u escape`},
		{"a: 1 2", "e.conf:1: unexpected '2' after a value"},
		{"x {\n y: $NOPE\n}", "e.conf:2: x.y: variable $NOPE is not defined"},
		{"y: $", "e.conf:1: y: bad variable name $"},
		{"y: $a-b", "e.conf:1: y: bad variable name $a-b"},
		{"y: $BAD", "e.conf:1: y: environment variable $BAD"},
		{"y: $TWO", "e.conf:1: y: environment variable $TWO: $TWO:1: y: trailing text"},
		{"n: 99999999999999999999", "e.conf:1: n: integer 99999999999999999999 is out of range"},
		{"n: 9000000000000gb", "e.conf:1: n: integer 9000000000000gb is out of range"},
		{"= 1", "e.conf:1: want a key, got '='"},
		{"\"\": 1", "e.conf:1: empty key"},
		{"a: ,", "e.conf:1: a: missing value before ','"},
		{"a: # c", "e.conf:1: a: missing value"},
	}
	for _, tc := range cases {
		_, err := Parse("e.conf", []byte(tc.in), files{}.src(env))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v\n want prefix %q", tc.in, err, tc.want)
		}
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("%q: %T is not *Error", tc.in, err)
		}
	}
	deep := strings.Repeat("a {", maxDepth+1)
	if _, err := Parse("e.conf", []byte(deep), Source{}); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestAccessors(t *testing.T) {
	m, err := Parse("a.conf", []byte("s: x\nd1: \"2m\"\nd2: 10\nd3: 0.5\nd4: 2m\nd5: 1kb\nd6: -1\nl: [a, b]\nbad: [a, 1]\nb: on\nn: 70000"), Source{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(k string) *Value { return m.Get(k).Value }
	for k, want := range map[string]time.Duration{"d1": 2 * time.Minute, "d2": 10 * time.Second, "d3": 500 * time.Millisecond, "d4": 2 * time.Minute} {
		if d, err := get(k).AsDuration(); err != nil || d != want {
			t.Errorf("%s: %v %v, want %v", k, d, err, want)
		}
	}
	for k, want := range map[string]string{
		"d5": `a.conf:6: d5: "1kb" is not a duration`,
		"d6": "a.conf:7: d6: duration -1s is negative",
		"s":  `a.conf:1: s: "x" is not a duration`,
	} {
		if _, err := get(k).AsDuration(); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", k, err, want)
		}
	}
	if l, err := get("l").AsStrings(); err != nil || !reflect.DeepEqual(l, []string{"a", "b"}) {
		t.Errorf("l: %v %v", l, err)
	}
	if l, err := get("s").AsStrings(); err != nil || !reflect.DeepEqual(l, []string{"x"}) {
		t.Errorf("s as list: %v %v", l, err)
	}
	if _, err := get("bad").AsStrings(); err == nil || err.Error() != "a.conf:9: bad[1]: want a string, got an integer" {
		t.Errorf("bad: %v", err)
	}
	if _, err := get("b").AsInt(); err == nil || err.Error() != "a.conf:10: b: want an integer, got a boolean" {
		t.Errorf("b: %v", err)
	}
	if _, err := get("n").AsIntRange(0, 65535); err == nil || err.Error() != "a.conf:11: n: 70000 out of range 0..65535" {
		t.Errorf("n: %v", err)
	}
	if _, err := get("s").AsMap(); err == nil {
		t.Error("string as map accepted")
	}
}
