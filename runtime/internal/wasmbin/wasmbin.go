// Package wasmbin rewrites WebAssembly module binaries for the runtime.
//
// The runtime makes new instances of a filter by restoring a snapshot of an
// initialised one (linear memory and mutable globals) instead of running its
// initialisation again. wazero only reaches exported globals, so
// ExportMutableGlobals exports every mutable global the module defines.
//
// The package parses only what it needs (section framing, the import, global
// and export sections) and copies everything else byte for byte. It checks
// the encoding, not the semantics: type checking is left to the runtime
// that compiles the result.
package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors returned, wrapped, by this package; test with errors.Is.
var (
	// ErrMalformed is a binary that does not follow the binary format.
	ErrMalformed = errors.New("malformed module")
	// ErrUnsupported is a well-formed binary using something this package
	// does not parse: a component, GC reference types, custom page sizes,
	// and the like.
	ErrUnsupported = errors.New("unsupported")
	// ErrImportedMutableGlobal is a module importing a mutable global: the
	// host owns its value, so a snapshot of the instance cannot restore it.
	ErrImportedMutableGlobal = errors.New("mutable global is imported, so a snapshot could not restore it")
	// ErrPrefixTaken is a module that already exports a name starting with
	// the prefix given to ExportMutableGlobals.
	ErrPrefixTaken = errors.New("name already uses the prefix")
)

// ExportMutableGlobals returns a copy of the module bin that also exports
// every mutable global the module defines, as prefix followed by the
// global's decimal index in the global index space (imported globals come
// first), for example "wedge.g3". names lists the new export names in index
// order; it is empty, and out an unchanged copy of bin, when the module
// defines no mutable global.
//
// The exports are appended to the export section, which is created, in its
// place in the section order, when the module has none. Every other section,
// custom sections included, is copied byte for byte; only the export
// section's count and size are re-encoded. bin is not modified and out does
// not share memory with it.
//
// It fails if prefix is empty or not valid UTF-8, if the module imports a
// mutable global (ErrImportedMutableGlobal), if an export name already starts
// with prefix (ErrPrefixTaken), or if the module is malformed (ErrMalformed)
// or uses an encoding this package does not know (ErrUnsupported).
func ExportMutableGlobals(bin []byte, prefix string) (out []byte, names []string, err error) {
	if prefix == "" {
		return nil, nil, errors.New("wasmbin: empty export name prefix")
	}
	if !utf8.ValidString(prefix) {
		return nil, nil, fmt.Errorf("wasmbin: export name prefix %q is not valid UTF-8", prefix)
	}
	out, names, err = exportMutableGlobals(bin, prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("wasmbin: %w", err)
	}
	return out, names, nil
}

// HasStart reports whether the module bin has a start section, that is a
// function run when the module is instantiated.
func HasStart(bin []byte) (bool, error) {
	l, err := scan(bin)
	if err != nil {
		return false, fmt.Errorf("wasmbin: %w", err)
	}
	return l.hasStart, nil
}

func exportMutableGlobals(bin []byte, prefix string) ([]byte, []string, error) {
	l, err := scan(bin)
	if err != nil {
		return nil, nil, err
	}
	imported, err := importedGlobals(bin, l.imports)
	if err != nil {
		return nil, nil, err
	}

	// First walk: check the section, count the new exports and their bytes.
	var (
		mutable    int
		nameBytes  int    // all names, concatenated
		entryBytes uint64 // the new export entries
		maxIndex   uint64
	)
	err = walkGlobals(bin, l.globals, func(i uint32, m bool) {
		if !m {
			return
		}
		idx := uint64(imported) + uint64(i)
		n := len(prefix) + decimalLen(idx)
		mutable++
		nameBytes += n
		entryBytes += uint64(ulebLen(uint64(n))+n+1) + uint64(ulebLen(idx))
		maxIndex = idx
	})
	if err != nil {
		return nil, nil, err
	}
	exports, entries, err := exportEntries(bin, l.exports, prefix)
	if err != nil {
		return nil, nil, err
	}
	if mutable == 0 {
		return bytes.Clone(bin), nil, nil
	}
	if maxIndex > math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: global index %d does not fit the index space", ErrMalformed, maxIndex)
	}
	total := uint64(exports) + uint64(mutable)
	if total > math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: %d exports do not fit a u32 count", ErrUnsupported, total)
	}

	// The new export section replaces the old one, or goes in at exportAt.
	at, after := l.exportAt, l.exportAt
	body := uint64(ulebLen(total)) + entryBytes
	if l.exports.present() {
		at, after = l.exports.start, l.exports.end
		body += uint64(l.exports.end - entries)
	}
	if body > math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: export section of %d bytes does not fit a u32 size", ErrUnsupported, body)
	}
	size := len(bin) - (after - at) + 1 + ulebLen(body) + int(body)

	// Second walk: the names, in one string.
	var sb strings.Builder
	sb.Grow(nameBytes)
	var digits [20]byte
	_ = walkGlobals(bin, l.globals, func(i uint32, m bool) {
		if m {
			sb.WriteString(prefix)
			sb.Write(strconv.AppendUint(digits[:0], uint64(imported)+uint64(i), 10))
		}
	})
	all := sb.String()

	// Third walk: the output, slicing names from all.
	out := make([]byte, 0, size)
	out = append(out, bin[:at]...)
	out = append(out, secExport)
	out = appendULEB(out, body)
	out = appendULEB(out, total)
	if l.exports.present() {
		out = append(out, bin[entries:l.exports.end]...)
	}
	names := make([]string, 0, mutable)
	off := 0
	_ = walkGlobals(bin, l.globals, func(i uint32, m bool) {
		if !m {
			return
		}
		idx := uint64(imported) + uint64(i)
		name := all[off : off+len(prefix)+decimalLen(idx)]
		off += len(name)
		names = append(names, name)
		out = appendULEB(out, uint64(len(name)))
		out = append(out, name...)
		out = append(out, kindGlobal)
		out = appendULEB(out, idx)
	})
	out = append(out, bin[after:]...)
	return out, names, nil
}

func ulebLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func decimalLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}
