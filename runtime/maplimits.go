package runtime

import "strings"

// Header map accounting: a filter may grow a header map only within the
// plugin's Limits.HeaderBytes (names plus values) and Limits.HeaderPairs.
//
// The host cannot keep a running count across callbacks: between them
// the edge changes the maps itself (the origin's response headers
// arrive, trailers appear). So each map's size is measured once per
// top-level guest call, at the first change that could grow it, and
// then kept as an upper bound: an add or replace adds its pair, a remove
// changes nothing. Only when that bound says no is the map measured
// again, exactly, with what a replace takes out. The common case, a few
// adds per callback, costs one Range (or Size) per map and callback and
// allocates nothing.

// mapUse is what the host knows of one header map's size within one
// top-level guest call: upper bounds of its bytes and pairs, valid while
// gen is the instance's call generation.
type mapUse struct {
	gen          uint64
	bytes, pairs int
}

// mapSizer is the optional method a HeaderMap may have to give its size
// without a Range (Pairs has it).
type mapSizer interface {
	Size() (bytes, pairs int)
}

// headerSizer counts, in one Range, a map's bytes and pairs and those of
// the pairs named key (when key is not ""). The instance binds its count
// method once (instance.sizeFn), so a Range allocates nothing.
type headerSizer struct {
	key            string
	bytes, pairs   int
	kbytes, kpairs int
}

func (z *headerSizer) count(k, v string) bool {
	n := len(k) + len(v)
	z.bytes += n
	z.pairs++
	if z.key != "" && strings.EqualFold(k, z.key) {
		z.kbytes += n
		z.kpairs++
	}
	return true
}

// measure returns m's exact size and, when key is not "", the size of
// key's pairs in it.
func (in *instance) measure(m HeaderMap, key string) headerSizer {
	if key == "" {
		if sz, ok := m.(mapSizer); ok {
			b, p := sz.Size()
			return headerSizer{bytes: b, pairs: p}
		}
	}
	in.sizer = headerSizer{key: key}
	m.Range(in.sizeFn)
	z := in.sizer
	in.sizer = headerSizer{}
	return z
}

// withinLimits reports whether a map changed from (bytes, pairs) to
// (after, afterPairs) stays within limit and pairLimit, or does not grow
// past what it held: a map over a limit may shrink, never grow.
func withinLimits(bytes, pairs, after, afterPairs, limit, pairLimit int) bool {
	return after <= max(limit, bytes) && afterPairs <= max(pairLimit, pairs)
}

// mayPut decides whether the filter may add (replace false) or replace
// key k's values with a value of vlen bytes in m, whose use is u; when
// it may, u counts the change.
func (in *instance) mayPut(m HeaderMap, u *mapUse, k string, vlen int, replace bool) bool {
	lim := &in.p.limits
	n := len(k) + vlen
	if u.gen != in.gen {
		z := in.measure(m, "")
		*u = mapUse{gen: in.gen, bytes: z.bytes, pairs: z.pairs}
	}
	if u.bytes+n <= lim.HeaderBytes && u.pairs < lim.HeaderPairs {
		u.bytes += n
		u.pairs++
		return true
	}
	// The bound is too high to decide, or the map is full: measure it
	// exactly, with what a replace takes out.
	key := ""
	if replace {
		key = k
	}
	z := in.measure(m, key)
	after, afterPairs := z.bytes-z.kbytes+n, z.pairs-z.kpairs+1
	if !withinLimits(z.bytes, z.pairs, after, afterPairs, lim.HeaderBytes, lim.HeaderPairs) {
		*u = mapUse{gen: in.gen, bytes: z.bytes, pairs: z.pairs}
		return false
	}
	*u = mapUse{gen: in.gen, bytes: after, pairs: afterPairs}
	return true
}

// mapFits reports whether a map of pairs pairs and bytes bytes that the
// host would build anew (a local response's headers, an HTTP call's
// headers or trailers) is within the plugin's header limits.
func (in *instance) mapFits(pairs, bytes int) bool {
	return pairs <= in.p.limits.HeaderPairs && bytes <= in.p.limits.HeaderBytes
}

// mapStats returns the pair count and the bytes (names plus values) of a
// map in the ABI's encoding, reading only its size table, so a map too
// large is refused before anything is copied; ok is false when parseMap
// would refuse the encoding.
func mapStats(b []byte) (pairs, bytes int, ok bool) {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return 0, 0, true
	}
	if len(b) < 4 {
		return 0, 0, false
	}
	n := uint64(le32(b, 0))
	if 4+n*10 > uint64(len(b)) {
		return 0, 0, false
	}
	total := uint64(0)
	for i := range n {
		off := int(4 + 8*i)
		total += uint64(le32(b, off)) + uint64(le32(b, off+4))
	}
	if 4+10*n+total > uint64(len(b)) {
		return 0, 0, false
	}
	return int(n), int(total), true
}

// maxScratch is the most an instance keeps of the buffer it serializes
// header maps and values into between calls.
const maxScratch = 64 << 10

// trimScratch drops the instance's scratch buffer once a large map or
// value made it grow past maxScratch.
func (in *instance) trimScratch() {
	if cap(in.scratch) > maxScratch {
		in.scratch = nil
	}
}
