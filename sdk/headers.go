package sdk

import (
	"strings"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// Header is one header (or trailer) field. Proxy-Wasm hosts give names in
// lower case, HTTP/2 style, with pseudo-headers such as ":path".
type Header struct {
	Name  string
	Value string
}

// HeaderMap is one of a stream's header or trailer maps. The zero value is
// not usable; get one from a Stream.
type HeaderMap struct {
	s    *Stream
	kind abi.MapType
}

// Get returns the value of the header name, and whether it is present (a
// deleted stream has no headers).
func (h HeaderMap) Get(name string) (string, bool) {
	if !h.s.enter() {
		return "", false
	}
	b, st := host().GetHeaderMapValue(h.kind, name)
	if st != abi.StatusOK {
		return "", false
	}
	return bytesString(b), true
}

// Set sets the header name to value, replacing every value it had.
func (h HeaderMap) Set(name, value string) error {
	if !h.s.enter() {
		return ErrStreamDone
	}
	return check("set header", host().ReplaceHeaderMapValue(h.kind, name, value))
}

// Add adds a value for the header name, keeping those it had.
func (h HeaderMap) Add(name, value string) error {
	if !h.s.enter() {
		return ErrStreamDone
	}
	return check("add header", host().AddHeaderMapValue(h.kind, name, value))
}

// Remove removes the header name; removing an absent header is not an
// error.
func (h HeaderMap) Remove(name string) error {
	if !h.s.enter() {
		return ErrStreamDone
	}
	return check("remove header", host().RemoveHeaderMapValue(h.kind, name))
}

// All returns every field, in order.
func (h HeaderMap) All() ([]Header, error) {
	if !h.s.enter() {
		return nil, ErrStreamDone
	}
	return getPairs(h.kind, "get headers")
}

// SetAll replaces every field with fields.
func (h HeaderMap) SetAll(fields []Header) error {
	if !h.s.enter() {
		return ErrStreamDone
	}
	scratch = appendHeaders(scratch[:0], fields)
	return check("set headers", host().SetHeaderMapPairs(h.kind, scratch))
}

// getPairs reads and parses the map m of the current context.
func getPairs(m abi.MapType, op string) ([]Header, error) {
	b, st := host().GetHeaderMapPairs(m)
	if st != abi.StatusOK {
		return nil, check(op, st)
	}
	return parseHeaders(b, op)
}

func parseHeaders(b []byte, op string) ([]Header, error) {
	n := abi.CountPairs(b)
	if n == 0 {
		return nil, nil
	}
	out := make([]Header, 0, n)
	if err := abi.ParsePairs(b, func(k, v string) { out = append(out, Header{k, v}) }); err != nil {
		return nil, check(op, abi.StatusSerializationFailure)
	}
	return out, nil
}

func appendHeaders(dst []byte, fields []Header) []byte {
	return abi.AppendPairs(dst, len(fields), func(i int) (string, string) {
		return fields[i].Name, fields[i].Value
	})
}

// IsTokenChar reports whether c may appear in an RFC 9110 token, such as
// a header field name or a method. Filters use it to check names in their
// configuration.
func IsTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
