package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that the parser never panics, that every error is an
// *Error pointing into the input, that every value knows its line and key,
// and that printing a parsed tree and parsing it again gives the same tree.
// The seed corpus is in testdata/fuzz/FuzzParse; run
//
//	go test ./config -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	f.Add([]byte("port: 4222\nauthorization { users: [ {user: a, password: $P} ] }\n"))
	f.Add([]byte("P = x\ninclude 'inc.conf'\ns: [1k, 2MB, \"\\u00e9\", 0.5, on]"))
	src := Source{
		ReadFile: func(name string) ([]byte, error) {
			if strings.HasSuffix(name, "inc.conf") {
				return []byte("inc_key: 1\nP: from_include\n"), nil
			}
			return nil, errors.New("no such file")
		},
		LookupEnv: func(name string) (string, bool) {
			if name == "ENV" {
				return "[1, {a: b}]", true
			}
			return "", false
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("f.conf", data, src)
		lines := strings.Count(string(data), "\n") + 1
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("%T is not *Error: %v", err, err)
			}
			if ce.Pos.Line < 1 || ce.Pos.File == "f.conf" && ce.Pos.Line > lines {
				t.Fatalf("error line %d outside 1..%d: %v", ce.Pos.Line, lines, err)
			}
			return
		}
		checkTree(t, m, lines)
		text := print(m)
		m2, err := Parse("g.conf", []byte(text), Source{})
		if err != nil {
			t.Fatalf("reparse of\n%s\nfailed: %v", text, err)
		}
		if a, b := plainMap(m), plainMap(m2); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip differs:\n%#v\n%#v\ntext:\n%s", a, b, text)
		}
	})
}

func checkTree(t *testing.T, m *Map, lines int) {
	for _, fl := range m.Fields {
		if fl.Key == "" || fl.Value == nil {
			t.Fatalf("empty key or nil value: %+v", fl)
		}
		checkValue(t, fl.Value, lines)
	}
}

func checkValue(t *testing.T, v *Value, lines int) {
	if v.Pos.Line < 1 || v.Pos.File == "f.conf" && v.Pos.Line > lines || v.Key == "" {
		t.Fatalf("value %+v: bad position or key", v)
	}
	if v.Kind == String && !utf8.ValidString(v.Str) {
		t.Fatalf("invalid UTF-8 string %q", v.Str)
	}
	switch v.Kind {
	case Block:
		checkTree(t, v.Map, lines)
	case Array:
		for _, e := range v.Array {
			checkValue(t, e, lines)
		}
	}
}

// print writes a tree back in the format, quoting every string and key.
func print(m *Map) string {
	var b strings.Builder
	printMap(&b, m)
	return b.String()
}

func printMap(b *strings.Builder, m *Map) {
	for _, f := range m.Fields {
		b.WriteString(quote(f.Key))
		b.WriteString(": ")
		printValue(b, f.Value)
		b.WriteByte('\n')
	}
}

func printValue(b *strings.Builder, v *Value) {
	switch v.Kind {
	case String:
		b.WriteString(quote(v.Str))
	case Int:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case Float:
		fmt.Fprintf(b, "%.17e", v.Float)
	case Bool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case Array:
		b.WriteByte('[')
		for i, e := range v.Array {
			if i > 0 {
				b.WriteString(", ")
			}
			printValue(b, e)
		}
		b.WriteByte(']')
	case Block:
		b.WriteString("{\n")
		printMap(b, v.Map)
		b.WriteByte('}')
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
