package mcpmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of the strict decoder. They bound the work an unauthenticated body can cause.
const (
	// MaxDepth is the deepest nesting of objects and arrays accepted.
	MaxDepth = 64
	// maxNumberLen bounds a number literal; longer ones are a DoS vector for big-number code.
	maxNumberLen = 64
	// smallObject is the key count up to which duplicate keys are found by pairwise
	// comparison; larger objects use a map of case-folded keys.
	smallObject = 16
)

// SyntaxError is a body that is not one strict JSON value.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

var errDepth = errors.New("nesting deeper than the limit")

// decodeStrict parses exactly one JSON value. Unlike encoding/json it rejects what would
// let the authz service and an adapter read one body two ways: duplicate keys, keys equal
// under case folding (Go's struct decoding matches names case-insensitively), invalid
// UTF-8 and lone surrogates (silently replaced by encoding/json), a leading BOM, and
// trailing data. Objects decode to map[string]any, arrays to []any and numbers to
// json.Number, so integers keep their exact text.
func decodeStrict(data []byte) (any, error) {
	d := decoder{data: data}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.fail("unexpected data after the JSON value")
	}
	return v, nil
}

type decoder struct {
	data []byte
	pos  int
}

func (d *decoder) fail(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.fail("unexpected end of input (truncated body?)")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		if depth >= MaxDepth {
			return nil, &SyntaxError{Offset: d.pos, Msg: errDepth.Error()}
		}
		return d.object(depth + 1)
	case c == '[':
		if depth >= MaxDepth {
			return nil, &SyntaxError{Offset: d.pos, Msg: errDepth.Error()}
		}
		return d.array(depth + 1)
	case c == '"':
		return d.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return nil, d.fail("unexpected character %q", c)
	}
}

func (d *decoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.fail("invalid literal")
	}
	d.pos += len(word)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.pos++ // {
	obj := map[string]any{}
	var keys []string    // insertion order, for the pairwise duplicate check
	var folded foldIndex // for larger objects
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return obj, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.fail("unexpected end of input in object (truncated body?)")
		}
		if d.data[d.pos] != '"' {
			return nil, d.fail("object key must be a string")
		}
		keyStart := d.pos
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		key := k.(string)
		if len(keys) < smallObject {
			for _, prev := range keys {
				if prev == key {
					return nil, &SyntaxError{Offset: keyStart, Msg: fmt.Sprintf("duplicate key %q", key)}
				}
				if strings.EqualFold(prev, key) {
					return nil, &SyntaxError{Offset: keyStart, Msg: fmt.Sprintf("keys %q and %q differ only in case", prev, key)}
				}
			}
			keys = append(keys, key)
			if len(keys) == smallObject {
				for _, prev := range keys {
					folded.add(prev)
				}
			}
		} else if prev, dup := folded.add(key); dup {
			// An exact duplicate folds to the same key as its twin: one index finds both.
			if prev == key {
				return nil, &SyntaxError{Offset: keyStart, Msg: fmt.Sprintf("duplicate key %q", key)}
			}
			return nil, &SyntaxError{Offset: keyStart, Msg: fmt.Sprintf("key %q repeats another key up to case", key)}
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.fail("expected ':' after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.fail("unexpected end of input in object (truncated body?)")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return obj, nil
		default:
			return nil, d.fail("expected ',' or '}' in object")
		}
	}
}

// foldIndex finds keys equal up to case folding in a large object without allocating a
// folded copy of every key: keys are indexed by a 64-bit hash of their folded form, and only
// keys whose hashes meet (a twin, or a rare collision) are compared, exactly, by folded form.
type foldIndex struct {
	hash   func(string) uint64 // foldHash; tests force collisions
	byHash map[uint64]string
	exact  map[string]string // folded form → key, for keys whose hash collided
}

// add records key and returns an earlier key that folds to the same form, if any.
func (x *foldIndex) add(key string) (string, bool) {
	if x.byHash == nil {
		x.byHash = make(map[uint64]string, 4*smallObject)
	}
	hash := x.hash
	if hash == nil {
		hash = foldHash
	}
	h := hash(key)
	prev, hit := x.byHash[h]
	if !hit {
		x.byHash[h] = key
		return "", false
	}
	f := foldKey(key)
	if foldKey(prev) == f {
		return prev, true
	}
	// A hash collision between different keys: fall back to comparing folded forms.
	if x.exact == nil {
		x.exact = map[string]string{}
	}
	if p, dup := x.exact[f]; dup {
		return p, true
	}
	x.exact[f] = key
	return "", false
}

// foldHash is FNV-1a over the folded form of s (upper-cased ASCII; other keys through
// foldKey).
func foldHash(s string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			h = offset
			f := foldKey(s)
			for j := 0; j < len(f); j++ {
				h = (h ^ uint64(f[j])) * prime
			}
			return h
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// foldKey maps a key to a representative of its case-folding class, consistent with
// strings.EqualFold (which the pairwise path uses).
func foldKey(s string) string {
	if k, ok := foldASCII(s); ok {
		return k
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldASCII folds an all-ASCII key without walking Unicode case orbits: the smallest member
// of an ASCII letter's orbit is its upper case (the non-ASCII partners of K and S, the Kelvin
// sign and the long s, are larger), so upper-casing gives what foldRune would.
func foldASCII(s string) (string, bool) {
	lower := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return "", false
		}
		lower = lower || (c >= 'a' && c <= 'z')
	}
	if !lower {
		return s, true
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b), true
}

// foldRune returns the smallest rune in r's simple case-folding orbit.
func foldRune(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}

func (d *decoder) array(depth int) (any, error) {
	d.pos++ // [
	arr := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return arr, nil
	}
	for {
		d.skipSpace()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.fail("unexpected end of input in array (truncated body?)")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return arr, nil
		default:
			return nil, d.fail("expected ',' or ']' in array")
		}
	}
}

func (d *decoder) string() (any, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := d.data[start:d.pos]
			if !utf8.Valid(s) {
				return nil, &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
			}
			d.pos++
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, d.fail("control character in string")
		}
		d.pos++
	}
	buf := make([]byte, 0, d.pos-start+16)
	buf = append(buf, d.data[start:d.pos]...)
	for {
		if d.pos >= len(d.data) {
			return nil, d.fail("unterminated string (truncated body?)")
		}
		c := d.data[d.pos]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return nil, &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
			}
			d.pos++
			return string(buf), nil
		case c < 0x20:
			return nil, d.fail("control character in string")
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		// escape
		if d.pos+1 >= len(d.data) {
			return nil, d.fail("unterminated escape (truncated body?)")
		}
		e := d.data[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				// Must be a high surrogate followed by an escaped low surrogate.
				if r >= 0xDC00 || d.pos+1 >= len(d.data) || d.data[d.pos] != '\\' || d.data[d.pos+1] != 'u' {
					return nil, d.fail("lone UTF-16 surrogate in string")
				}
				d.pos += 2
				r2, err := d.hex4()
				if err != nil {
					return nil, err
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return nil, d.fail("invalid UTF-16 surrogate pair in string")
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, d.fail("invalid escape \\%c", e)
		}
	}
}

func (d *decoder) hex4() (rune, error) {
	if len(d.data)-d.pos < 4 {
		return 0, d.fail("truncated \\u escape")
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, d.fail("invalid \\u escape")
		}
	}
	d.pos += 4
	return r, nil
}

func (d *decoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.pos >= len(d.data) {
		return nil, d.fail("truncated number")
	}
	if d.data[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return nil, d.fail("invalid number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, d.fail("invalid number: no digits after '.'")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.fail("invalid number: no digits in exponent")
		}
	}
	if d.pos-start > maxNumberLen {
		return nil, &SyntaxError{Offset: start, Msg: "number literal too long"}
	}
	return json.Number(d.data[start:d.pos]), nil
}
