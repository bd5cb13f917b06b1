// Package config parses the nats-server configuration file format, the
// subset operators write: `key: value`, `key = value` and `key value`;
// blocks `name { ... }`; arrays `[a, b]`; `#` and `//` comments; quoted
// and bare strings; integers with size suffixes; booleans; `include`; and
// `$NAME` variables. It is pure: files and the environment are reached only
// through Source, so tests and the fuzzer run without either.
//
// The parser builds a tree of Values, each carrying the file, line and key
// path it came from, so that whoever maps the tree onto options (see
// cmd/broker) reports every error as "file:line: key: reason".
package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds of value the format has.
const (
	String Kind = iota + 1
	Int
	Float
	Bool
	Block // a `{ ... }` map of keys to values
	Array
)

var kindNames = [...]string{String: "a string", Int: "an integer", Float: "a number", Bool: "a boolean", Block: "a block", Array: "an array"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Pos is where something was written.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// Value is one parsed value. Only the field that matches Kind is set.
type Value struct {
	Kind Kind
	// Pos is where the value was written; for a variable reference, where
	// the reference was.
	Pos Pos
	// Key is the dotted path of the value in the tree, e.g.
	// "authorization.users[0].user", for error messages.
	Key string
	// Raw is a scalar as written, before suffixes are applied ("64KB").
	Raw string

	Str   string
	Int   int64
	Float float64
	Bool  bool
	Map   *Map
	Array []*Value
}

// Map is a block's fields in the order written. A key written twice keeps
// its first position in the order and its last value, as in nats-server.
type Map struct {
	Fields []*Field
}

// Field is one `key: value` of a Map.
type Field struct {
	Key string
	// Pos is where the key was written.
	Pos   Pos
	Value *Value
	// Used is set when the field was referenced as a $variable. A mapper
	// should not refuse such a field as an unknown key: it is how a file
	// names a value once and uses it twice (nats-server does the same).
	Used bool
}

// Get returns the field with exactly this key, or nil.
func (m *Map) Get(key string) *Field {
	if m == nil {
		return nil
	}
	for _, f := range m.Fields {
		if f.Key == key {
			return f
		}
	}
	return nil
}

func (m *Map) set(f *Field) {
	if old := m.Get(f.Key); old != nil {
		old.Pos, old.Value = f.Pos, f.Value
		return
	}
	m.Fields = append(m.Fields, f)
}

// Error is a configuration error: where, which key, what.
type Error struct {
	Pos Pos
	Key string // may be empty for a syntax error outside any key
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Key + ": " + e.Msg
}

// Errorf returns an *Error at v's position naming v's key.
func (v *Value) Errorf(format string, args ...any) error {
	return &Error{Pos: v.Pos, Key: v.Key, Msg: fmt.Sprintf(format, args...)}
}

func (v *Value) want(k Kind) error {
	if v.Kind == k {
		return nil
	}
	return v.Errorf("want %s, got %s", k, v.Kind)
}

// AsString returns a string value; any other kind is an error.
func (v *Value) AsString() (string, error) {
	if err := v.want(String); err != nil {
		return "", err
	}
	return v.Str, nil
}

// AsInt returns an integer value (size suffixes applied).
func (v *Value) AsInt() (int64, error) {
	if err := v.want(Int); err != nil {
		return 0, err
	}
	return v.Int, nil
}

// AsIntRange returns an integer value that must lie in [lo, hi].
func (v *Value) AsIntRange(lo, hi int64) (int, error) {
	n, err := v.AsInt()
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi || n > math.MaxInt || n < math.MinInt {
		return 0, v.Errorf("%d out of range %d..%d", n, lo, hi)
	}
	return int(n), nil
}

// AsBool returns a boolean value (true/false, yes/no, on/off).
func (v *Value) AsBool() (bool, error) {
	if err := v.want(Bool); err != nil {
		return false, err
	}
	return v.Bool, nil
}

// AsDuration reads a duration as nats-server does: a string in Go syntax
// ("2m", "1.5s"), or a number of seconds (integer or decimal). A bare
// value such as 2m lexes as an integer with a size suffix; it is read as
// the duration it was written as, not as 2,000,000 seconds.
func (v *Value) AsDuration() (time.Duration, error) {
	var d time.Duration
	switch v.Kind {
	case String:
		var err error
		if d, err = time.ParseDuration(v.Str); err != nil {
			return 0, v.Errorf("%q is not a duration (e.g. \"2m\", \"10s\")", v.Str)
		}
	case Int:
		if strings.IndexFunc(v.Raw, isLetter) >= 0 {
			var err error
			if d, err = time.ParseDuration(v.Raw); err != nil {
				return 0, v.Errorf("%q is not a duration (e.g. \"2m\", \"10s\")", v.Raw)
			}
			break
		}
		if v.Int > math.MaxInt64/int64(time.Second) || v.Int < math.MinInt64/int64(time.Second) {
			return 0, v.Errorf("%d seconds is out of range", v.Int)
		}
		d = time.Duration(v.Int) * time.Second
	case Float:
		f := v.Float * float64(time.Second)
		if math.IsNaN(f) || f > math.MaxInt64 || f < math.MinInt64 {
			return 0, v.Errorf("%v seconds is out of range", v.Float)
		}
		d = time.Duration(f)
	default:
		return 0, v.Errorf("want a duration, got %s", v.Kind)
	}
	if d < 0 {
		return 0, v.Errorf("duration %v is negative", d)
	}
	return d, nil
}

// AsStrings returns a string as a one-element list, or an array of strings.
func (v *Value) AsStrings() ([]string, error) {
	switch v.Kind {
	case String:
		return []string{v.Str}, nil
	case Array:
		out := make([]string, 0, len(v.Array))
		for _, e := range v.Array {
			s, err := e.AsString()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, v.Errorf("want a string or an array of strings, got %s", v.Kind)
}

// AsMap returns a block's fields.
func (v *Value) AsMap() (*Map, error) {
	if err := v.want(Block); err != nil {
		return nil, err
	}
	return v.Map, nil
}

// AsArray returns an array's elements.
func (v *Value) AsArray() ([]*Value, error) {
	if err := v.want(Array); err != nil {
		return nil, err
	}
	return v.Array, nil
}

// clone copies v deeply, placing every copy at pos under key (a variable
// reference takes the reference's position and key path).
func (v *Value) clone(pos Pos, key string) *Value {
	c := *v
	c.Pos, c.Key = pos, key
	if v.Map != nil {
		c.Map = &Map{Fields: make([]*Field, len(v.Map.Fields))}
		for i, f := range v.Map.Fields {
			c.Map.Fields[i] = &Field{Key: f.Key, Pos: pos, Value: f.Value.clone(pos, joinKey(key, f.Key))}
		}
	}
	if v.Array != nil {
		c.Array = make([]*Value, len(v.Array))
		for i, e := range v.Array {
			c.Array[i] = e.clone(pos, indexKey(key, i))
		}
	}
	return &c
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func indexKey(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
