package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits that keep a hostile or broken file from exhausting the stack.
const (
	maxDepth        = 64 // nested blocks and arrays
	maxIncludeDepth = 10 // nested includes (a cycle hits this)
)

// Source is how the parser reaches the outside world.
type Source struct {
	// ReadFile reads an included file; nil refuses `include`.
	ReadFile func(name string) ([]byte, error)
	// LookupEnv resolves a $NAME not defined earlier in the file; nil means
	// the environment is empty.
	LookupEnv func(name string) (string, bool)
}

// OS reads includes from disk and variables from the process environment.
var OS = Source{ReadFile: os.ReadFile, LookupEnv: os.LookupEnv}

// ParseFile reads and parses the file at path with OS.
func ParseFile(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, OS)
}

// Parse parses data, named name in positions and errors. Includes are
// resolved relative to name's directory. Errors are *Error.
func Parse(name string, data []byte, src Source) (*Map, error) {
	m := &Map{}
	p := &parser{src: src, file: name, data: data, line: 1, scopes: []*Map{m}}
	if err := p.body(m, "", false, 0); err != nil {
		return nil, err
	}
	return m, nil
}

// parser is a recursive-descent parser straight over the bytes: the
// format is small enough that a separate lexer would only add a layer.
type parser struct {
	src  Source
	file string
	data []byte
	pos  int
	line int
	// scopes are the enclosing blocks, outermost first, for $variables.
	scopes   []*Map
	includes int // include nesting of this file
}

func (p *parser) errf(key, format string, args ...any) error {
	return &Error{Pos: Pos{p.file, p.line}, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.data) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.data[p.pos]
}

// skip passes blanks and comments, and newlines too when nl is set. A
// comment runs to the end of its line; the newline itself is left.
func (p *parser) skip(nl bool) {
	for !p.eof() {
		switch c := p.data[p.pos]; {
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case c == '\n' && nl:
			p.pos++
			p.line++
		case c == '#' || c == '/' && p.pos+1 < len(p.data) && p.data[p.pos+1] == '/':
			for !p.eof() && p.data[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// atComment reports whether a comment starts here.
func (p *parser) atComment() bool {
	c := p.peek()
	return c == '#' || c == '/' && p.pos+1 < len(p.data) && p.data[p.pos+1] == '/'
}

// body parses `key value` fields into m until EOF, or until `}` when
// inBlock. prefix is the key path of m.
func (p *parser) body(m *Map, prefix string, inBlock bool, depth int) error {
	startLine := p.line
	for {
		p.skip(true)
		if p.eof() {
			if inBlock {
				return &Error{Pos: Pos{p.file, startLine}, Key: prefix, Msg: "block is not closed with }"}
			}
			return nil
		}
		switch p.peek() {
		case '}':
			if !inBlock {
				return p.errf(prefix, "unexpected }")
			}
			p.pos++
			return nil
		case ';', ',':
			p.pos++
			continue
		}
		if err := p.field(m, prefix, depth); err != nil {
			return err
		}
		// A field ends at a newline, ;, ,, } or EOF (comments allowed).
		p.skip(false)
		if c := p.peek(); !p.eof() && c != '\n' && c != ';' && c != ',' && c != '}' {
			return p.errf(prefix, "unexpected %q after a value; fields are separated by newlines", c)
		}
	}
}

// field parses one `key [=:] value` or `include file` into m.
func (p *parser) field(m *Map, prefix string, depth int) error {
	pos := Pos{p.file, p.line}
	key, quoted, err := p.key(prefix)
	if err != nil {
		return err
	}
	path := joinKey(prefix, key)
	p.skip(false)
	if !quoted && key == "include" && p.peek() != '=' && p.peek() != ':' {
		return p.include(m, prefix, depth)
	}
	if c := p.peek(); c == '=' || c == ':' {
		p.pos++
		p.skip(false)
	}
	v, err := p.value(path, depth)
	if err != nil {
		return err
	}
	m.set(&Field{Key: key, Pos: pos, Value: v})
	return nil
}

// key reads a bare or quoted key.
func (p *parser) key(prefix string) (key string, quoted bool, err error) {
	if c := p.peek(); c == '"' || c == '\'' {
		key, err = p.quoted(prefix)
		if err == nil && key == "" {
			err = p.errf(prefix, "empty key")
		}
		return key, true, err
	}
	start := p.pos
	for !p.eof() && !endsKey(p.data[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", false, p.errf(prefix, "want a key, got %q", p.peek())
	}
	key = string(p.data[start:p.pos])
	if !utf8.ValidString(key) {
		return "", false, p.errf(prefix, "key is not valid UTF-8")
	}
	return key, false, nil
}

func endsKey(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '=', ':', '{', '}', '[', ']', ',', ';', '#', '"', '\'':
		return true
	}
	return false
}

// endsBare reports whether c ends a bare value.
func endsBare(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ';', ']', '}':
		return true
	}
	return false
}

// value parses one value of any kind; path is its key path.
func (p *parser) value(path string, depth int) (*Value, error) {
	if depth >= maxDepth {
		return nil, p.errf(path, "nested deeper than %d", maxDepth)
	}
	pos := Pos{p.file, p.line}
	if p.eof() || p.peek() == '\n' || p.atComment() {
		return nil, p.errf(path, "missing value")
	}
	switch p.peek() {
	case '{':
		p.pos++
		m := &Map{}
		p.scopes = append(p.scopes, m)
		err := p.body(m, path, true, depth+1)
		p.scopes = p.scopes[:len(p.scopes)-1]
		if err != nil {
			return nil, err
		}
		return &Value{Kind: Block, Pos: pos, Key: path, Map: m}, nil
	case '[':
		return p.array(path, depth)
	case '"', '\'':
		s, err := p.quoted(path)
		if err != nil {
			return nil, err
		}
		return &Value{Kind: String, Pos: pos, Key: path, Str: s, Raw: s}, nil
	case ',', ';', ']', '}':
		return nil, p.errf(path, "missing value before %q", p.peek())
	}
	start := p.pos
	for !p.eof() && !endsBare(p.data[p.pos]) {
		p.pos++
	}
	raw := string(p.data[start:p.pos])
	if !utf8.ValidString(raw) {
		return nil, p.errf(path, "value is not valid UTF-8")
	}
	if raw[0] == '$' && !isBcrypt(raw) {
		return p.variable(raw[1:], pos, path)
	}
	return scalar(raw, pos, path)
}

// array parses `[v, v ...]`; elements are separated by commas or newlines.
func (p *parser) array(path string, depth int) (*Value, error) {
	v := &Value{Kind: Array, Pos: Pos{p.file, p.line}, Key: path, Array: []*Value{}}
	p.pos++ // [
	for {
		p.skip(true)
		if p.eof() {
			return nil, &Error{Pos: v.Pos, Key: path, Msg: "array is not closed with ]"}
		}
		switch p.peek() {
		case ']':
			p.pos++
			return v, nil
		case ',':
			p.pos++
			continue
		}
		e, err := p.value(indexKey(path, len(v.Array)), depth+1)
		if err != nil {
			return nil, err
		}
		v.Array = append(v.Array, e)
		p.skip(false)
		if c := p.peek(); !p.eof() && c != ',' && c != '\n' && c != ']' {
			return nil, p.errf(path, "unexpected %q in array; elements are separated by commas or newlines", c)
		}
	}
}

// quoted reads a "..." string (with escapes) or a '...' string (raw).
// Neither may span lines.
func (p *parser) quoted(path string) (string, error) {
	q := p.data[p.pos]
	p.pos++
	var b strings.Builder
	for {
		if p.eof() || p.data[p.pos] == '\n' {
			return "", p.errf(path, "string is not closed with %c", q)
		}
		c := p.data[p.pos]
		p.pos++
		switch {
		case c == q:
			s := b.String()
			if !utf8.ValidString(s) {
				return "", p.errf(path, "string is not valid UTF-8")
			}
			return s, nil
		case c == '\\' && q == '"':
			if err := p.escape(&b, path); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
		}
	}
}

func (p *parser) escape(b *strings.Builder, path string) error {
	if p.eof() {
		return p.errf(path, "string is not closed with \"")
	}
	c := p.data[p.pos]
	p.pos++
	switch c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case '"', '\\', '/':
		b.WriteByte(c)
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if p.pos+n > len(p.data) {
			return p.errf(path, "short \\%c escape", c)
		}
		r, err := strconv.ParseUint(string(p.data[p.pos:p.pos+n]), 16, 32)
		if err != nil || !utf8.ValidRune(rune(r)) {
			return p.errf(path, "bad \\%c escape %q", c, p.data[p.pos:p.pos+n])
		}
		p.pos += n
		b.WriteRune(rune(r))
	default:
		return p.errf(path, "unknown escape \\%c", c)
	}
	return nil
}

// include parses `include file` (quoted or bare) into m, as if the
// included file's fields were written here.
func (p *parser) include(m *Map, prefix string, depth int) error {
	key := joinKey(prefix, "include")
	var name string
	if c := p.peek(); c == '"' || c == '\'' {
		var err error
		if name, err = p.quoted(key); err != nil {
			return err
		}
	} else {
		start := p.pos
		for !p.eof() && !endsBare(p.data[p.pos]) {
			p.pos++
		}
		name = string(p.data[start:p.pos])
	}
	if name == "" {
		return p.errf(key, "missing file name")
	}
	if p.src.ReadFile == nil {
		return p.errf(key, "includes are not allowed here")
	}
	if p.includes >= maxIncludeDepth {
		return p.errf(key, "includes nested deeper than %d (a cycle?)", maxIncludeDepth)
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(p.file), name)
	}
	data, err := p.src.ReadFile(path)
	if err != nil {
		return p.errf(key, "%v", err)
	}
	sub := &parser{src: p.src, file: path, data: data, line: 1, scopes: p.scopes, includes: p.includes + 1}
	return sub.body(m, prefix, false, depth)
}

// variable resolves $name: the nearest enclosing block that already
// defines name, else the environment (whose value is parsed as a value).
func (p *parser) variable(name string, pos Pos, path string) (*Value, error) {
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isLetter(r) && (r < '0' || r > '9') && r != '_' }) >= 0 {
		return nil, &Error{Pos: pos, Key: path, Msg: fmt.Sprintf("bad variable name $%s", name)}
	}
	for i := len(p.scopes) - 1; i >= 0; i-- {
		if f := p.scopes[i].Get(name); f != nil {
			f.Used = true
			return f.Value.clone(pos, path), nil
		}
	}
	if p.src.LookupEnv != nil {
		if s, ok := p.src.LookupEnv(name); ok {
			// The environment's value is parsed on its own: no includes,
			// no further variables (so it cannot recurse).
			env := &parser{file: "$" + name, data: []byte(s), line: 1}
			env.skip(false)
			v, err := env.value(path, 0)
			if err == nil {
				if env.skip(true); !env.eof() {
					err = env.errf(path, "trailing text after the value")
				}
			}
			if err != nil {
				return nil, &Error{Pos: pos, Key: path, Msg: fmt.Sprintf("environment variable $%s: %v", name, err)}
			}
			return v.clone(pos, path), nil
		}
	}
	return nil, &Error{Pos: pos, Key: path, Msg: fmt.Sprintf("variable $%s is not defined", name)}
}

// isBcrypt reports whether a bare $-value is a bcrypt hash ($2a$...),
// which nats-server accepts unquoted.
func isBcrypt(s string) bool {
	return len(s) > 4 && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$'
}

// sizes are nats-server's integer suffixes: k, m, g, t decimal; kb/ki/kib
// and so on binary. Case does not matter.
var sizes = map[string]int64{
	"k": 1e3, "kb": 1 << 10, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1 << 20, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1 << 30, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1 << 40, "ti": 1 << 40, "tib": 1 << 40,
}

// scalar types a bare value: boolean, integer (with a size suffix), decimal
// number, or else a string.
func scalar(raw string, pos Pos, path string) (*Value, error) {
	v := &Value{Pos: pos, Key: path, Raw: raw}
	switch strings.ToLower(raw) {
	case "true", "yes", "on":
		v.Kind, v.Bool = Bool, true
		return v, nil
	case "false", "no", "off":
		v.Kind, v.Bool = Bool, false
		return v, nil
	}
	digits := raw
	if digits[0] == '-' {
		digits = digits[1:]
	}
	n := 0
	for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	if n == 0 {
		v.Kind, v.Str = String, raw
		return v, nil
	}
	rest := digits[n:]
	if mult, ok := sizes[strings.ToLower(rest)]; ok || rest == "" {
		i, err := strconv.ParseInt(raw[:len(raw)-len(rest)], 10, 64)
		if err != nil {
			return nil, &Error{Pos: pos, Key: path, Msg: fmt.Sprintf("integer %s is out of range", raw)}
		}
		if ok {
			if i > math.MaxInt64/mult || i < math.MinInt64/mult {
				return nil, &Error{Pos: pos, Key: path, Msg: fmt.Sprintf("integer %s is out of range", raw)}
			}
			i *= mult
		}
		v.Kind, v.Int = Int, i
		return v, nil
	}
	if isDecimal(rest) {
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			v.Kind, v.Float = Float, f
			return v, nil
		}
	}
	v.Kind, v.Str = String, raw
	return v, nil
}

// isDecimal reports whether rest (after the integer digits) is a
// fraction with an optional exponent: ".5", ".5e3". "127.0.0.1" is not.
func isDecimal(rest string) bool {
	if len(rest) < 2 || rest[0] != '.' {
		return false
	}
	i := 1
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 1 {
		return false
	}
	if i < len(rest) && (rest[i] == 'e' || rest[i] == 'E') {
		i++
		if i < len(rest) && (rest[i] == '+' || rest[i] == '-') {
			i++
		}
		j := i
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(rest)
}

// ParseSize reads an integer with nats-server's size suffixes ("2MB",
// "64k"), as the file does, for flags that take sizes.
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	v, err := scalar(s, Pos{}, "")
	if err != nil {
		return 0, err
	}
	if v.Kind != Int {
		return 0, fmt.Errorf("%q is not a size (an integer, optionally with a suffix such as KB or MB)", s)
	}
	return v.Int, nil
}
