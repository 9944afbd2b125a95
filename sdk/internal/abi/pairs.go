package abi

import (
	"encoding/binary"
	"errors"
	"unsafe"
)

// ErrBadPairs reports a serialized map that does not follow the spec's
// format (counts or lengths past the end, missing NUL separators).
var ErrBadPairs = errors.New("abi: malformed serialized map")

// SerializedSize is the size of the wire form of n pairs whose keys and
// values total kvBytes.
func SerializedSize(n, kvBytes int) int { return 4 + n*8 + kvBytes + n*2 }

// AppendPairs appends the wire form of the pairs [k0, v0, k1, v1, ...] given
// by at(i) for i < n: a 32-bit count, then 32-bit key and value lengths for
// every pair, then each key and value followed by a NUL byte. An empty map
// is appended as nothing.
func AppendPairs(dst []byte, n int, at func(i int) (string, string)) []byte {
	if n == 0 {
		return dst
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	for i := 0; i < n; i++ {
		k, v := at(i)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(k)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
	}
	for i := 0; i < n; i++ {
		k, v := at(i)
		dst = append(dst, k...)
		dst = append(dst, 0)
		dst = append(dst, v...)
		dst = append(dst, 0)
	}
	return dst
}

// ParsePairs calls fn for every pair in the wire form b. The strings alias b
// (no copy): b must not be changed afterwards. An empty b or a single 0x00
// byte is the empty map.
func ParsePairs(b []byte, fn func(k, v string)) error {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return nil
	}
	if len(b) < 4 {
		return ErrBadPairs
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n == 0 {
		return nil
	}
	if n > uint64(len(b)-4)/10 { // each pair needs 8 length bytes + 2 NULs
		return ErrBadPairs
	}
	lens := b[4 : 4+n*8]
	data := b[4+n*8:]
	off := uint64(0)
	for i := uint64(0); i < n; i++ {
		kl := uint64(binary.LittleEndian.Uint32(lens[i*8:]))
		vl := uint64(binary.LittleEndian.Uint32(lens[i*8+4:]))
		if off+kl+vl+2 > uint64(len(data)) || data[off+kl] != 0 || data[off+kl+1+vl] != 0 {
			return ErrBadPairs
		}
		k := bytesString(data[off : off+kl])
		v := bytesString(data[off+kl+1 : off+kl+1+vl])
		off += kl + vl + 2
		fn(k, v)
	}
	return nil
}

// CountPairs returns the number of pairs the wire form b claims to hold,
// bounded by what b could hold, for sizing a slice before ParsePairs.
func CountPairs(b []byte) int {
	if len(b) < 4 {
		return 0
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if maxN := uint64(len(b)-4) / 10; n > maxN {
		n = maxN
	}
	return int(n)
}

// bytesString returns a string sharing b's memory.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
