package sdk

import (
	"encoding/binary"
	"fmt"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// Property returns the value of a host property (an Envoy attribute) in
// the current context: inside a Filter callback, or an HTTPCall callback
// made by a stream, that stream; elsewhere the plugin. The path is given as
// segments, e.g. Property("request", "path") or Property("plugin_name").
// Missing properties return an error matching ErrNotFound.
func Property(path ...string) ([]byte, error) {
	p := appendPath(pathBuf[:0], path)
	pathBuf = p
	b, st := host().GetProperty(p)
	if st != abi.StatusOK {
		return nil, check("get property", st)
	}
	return b, nil
}

// PropertyString returns a property as a string.
func PropertyString(path ...string) (string, error) {
	b, err := Property(path...)
	return bytesString(b), err
}

// PropertyInt returns an integer property (such as "response.code" or
// "request.size"), which hosts encode as 8 bytes little-endian.
func PropertyInt(path ...string) (int64, error) {
	b, err := Property(path...)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("sdk: property %q is %d bytes, not an 8-byte integer: %w", path, len(b), ErrSerializationFailure)
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

// SetProperty sets a host property in the current context.
func SetProperty(value []byte, path ...string) error {
	p := appendPath(pathBuf[:0], path)
	pathBuf = p
	return check("set property", host().SetProperty(p, value))
}

// pathBuf is reused for property paths, which the host copies.
var pathBuf []byte

// appendPath appends the segments of path joined by NUL bytes.
func appendPath(dst []byte, path []string) []byte {
	for i, seg := range path {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, seg...)
	}
	return dst
}
