package runtime

import (
	"encoding/binary"
	"errors"
	"strings"
)

// HeaderMap is one Proxy-Wasm header map (request or response headers or
// trailers) as the host holds it. Keys are lower-case; pseudo-headers
// (":method", ":path", ":authority", ":scheme", ":status") are part of the
// map. The edge implements it over its own request and response so a filter
// edits them in place, with no copy.
//
// A HeaderMap may also have a Len() int method (its pair count) and a
// Size() (bytes, pairs int) method (its names plus values, in bytes, and
// its pair count), as Pairs does: the runtime then uses them instead of a
// Range, to count the pairs for a callback and to check a filter's
// changes against Limits.HeaderBytes and Limits.HeaderPairs.
type HeaderMap interface {
	// Get returns the first value of key.
	Get(key string) (string, bool)
	// Range calls fn for every pair in order until fn returns false.
	Range(fn func(key, value string) bool)
	// Add appends a value to key.
	Add(key, value string)
	// Set replaces every value of key with value.
	Set(key, value string)
	// Del removes key.
	Del(key string)
}

// Pairs is a HeaderMap backed by an ordered list of pairs. It is what the
// runtime uses for local responses and HTTP call responses, and is handy
// in tests.
type Pairs [][2]string

// Len returns the number of pairs; a HeaderMap may implement it to spare
// the runtime a Range to count them.
func (p *Pairs) Len() int { return len(*p) }

// Size returns the names plus values of the pairs, in bytes, and the
// number of pairs; see HeaderMap.
func (p *Pairs) Size() (bytes, pairs int) {
	for _, kv := range *p {
		bytes += len(kv[0]) + len(kv[1])
	}
	return bytes, len(*p)
}

// Get implements HeaderMap.
func (p *Pairs) Get(key string) (string, bool) {
	for _, kv := range *p {
		if strings.EqualFold(kv[0], key) {
			return kv[1], true
		}
	}
	return "", false
}

// Range implements HeaderMap.
func (p *Pairs) Range(fn func(key, value string) bool) {
	for _, kv := range *p {
		if !fn(kv[0], kv[1]) {
			return
		}
	}
}

// Add implements HeaderMap.
func (p *Pairs) Add(key, value string) { *p = append(*p, [2]string{key, value}) }

// Set implements HeaderMap.
func (p *Pairs) Set(key, value string) {
	p.Del(key)
	p.Add(key, value)
}

// Del implements HeaderMap.
func (p *Pairs) Del(key string) {
	out := (*p)[:0]
	for _, kv := range *p {
		if !strings.EqualFold(kv[0], key) {
			out = append(out, kv)
		}
	}
	*p = out
}

// serializedSize is the byte length of m in the ABI's map encoding.
func serializedSize(m HeaderMap) (n int, count int) {
	n = 4
	m.Range(func(k, v string) bool {
		n += 8 + len(k) + 1 + len(v) + 1
		count++
		return true
	})
	return n, count
}

// serializeMap appends m in the ABI's map encoding to dst: a u32 count, a
// (u32 key length, u32 value length) per pair, then each key and value
// followed by a NUL. It ranges over m once: a map need not list its pairs
// in the same order twice (the edge's maps range over Go maps), so sizes
// and data written in two passes could disagree. count is m's pair count,
// from serializedSize.
func serializeMap(dst []byte, m HeaderMap, count int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(count))
	sizes := len(dst)
	dst = append(dst, make([]byte, 8*count)...)
	i := 0
	m.Range(func(k, v string) bool {
		if i == count {
			return false
		}
		binary.LittleEndian.PutUint32(dst[sizes+8*i:], uint32(len(k)))
		binary.LittleEndian.PutUint32(dst[sizes+8*i+4:], uint32(len(v)))
		i++
		dst = append(dst, k...)
		dst = append(dst, 0)
		dst = append(dst, v...)
		dst = append(dst, 0)
		return true
	})
	return dst
}

var errBadMap = errors.New("runtime: malformed serialized header map")

// parseMap decodes the ABI's map encoding, calling fn for each pair. The
// strings it passes are copies, safe to keep. An empty input or a single
// zero byte is the empty map.
func parseMap(b []byte, fn func(k, v string)) error {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return nil
	}
	if len(b) < 4 {
		return errBadMap
	}
	n := uint64(le32(b, 0))
	// Each pair needs at least 8 bytes of sizes and 2 NULs, after the
	// count.
	if 4+n*10 > uint64(len(b)) {
		return errBadMap
	}
	sizes := 4
	data := uint64(4 + 8*n)
	for i := uint64(0); i < n; i++ {
		kl, vl := uint64(le32(b, sizes)), uint64(le32(b, sizes+4))
		sizes += 8
		if data+kl+1+vl+1 > uint64(len(b)) {
			return errBadMap
		}
		k := b[data : data+kl]
		if b[data+kl] != 0 {
			return errBadMap
		}
		data += kl + 1
		v := b[data : data+vl]
		if b[data+vl] != 0 {
			return errBadMap
		}
		data += vl + 1
		fn(string(k), string(v))
	}
	return nil
}
