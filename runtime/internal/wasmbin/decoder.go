package wasmbin

import (
	"fmt"
	"math"
)

// decoder reads the WebAssembly binary encoding from b[pos:end]. Offsets in
// its errors are offsets in b, so they point into the caller's module.
//
// Every read checks the bytes left first, and nothing is ever allocated from
// a length read out of the input, so hostile input cannot make it panic or
// allocate.
type decoder struct {
	b   []byte
	pos int
	end int
}

// formatError is a malformed encoding at an offset of the module.
type formatError struct {
	off int
	msg string
}

func (e *formatError) Error() string {
	return fmt.Sprintf("malformed module at offset %#x: %s", e.off, e.msg)
}

func (e *formatError) Unwrap() error { return ErrMalformed }

func (d *decoder) fail(format string, args ...any) error {
	return &formatError{off: d.pos, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) unsupported(format string, args ...any) error {
	return fmt.Errorf("offset %#x: %w: %s", d.pos, ErrUnsupported, fmt.Sprintf(format, args...))
}

func (d *decoder) done() bool { return d.pos >= d.end }

func (d *decoder) remaining() int { return d.end - d.pos }

func (d *decoder) byte() (byte, error) {
	if d.pos >= d.end {
		return 0, d.fail("unexpected end")
	}
	c := d.b[d.pos]
	d.pos++
	return c, nil
}

func (d *decoder) skip(n int) error {
	if n < 0 || n > d.remaining() {
		return d.fail("%d bytes needed, %d left", n, d.remaining())
	}
	d.pos += n
	return nil
}

// bytes returns the next n bytes without copying them.
func (d *decoder) bytes(n int) ([]byte, error) {
	start := d.pos
	if err := d.skip(n); err != nil {
		return nil, err
	}
	return d.b[start:d.pos], nil
}

// uleb reads an unsigned LEB128 integer of at most bits bits (32 or 64).
// Encodings longer than ceil(bits/7) bytes, or that set bits above bits, are
// malformed, as the core specification says.
func (d *decoder) uleb(bits uint) (uint64, error) {
	start := d.pos
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c, err := d.byte()
		if err != nil {
			d.pos = start
			return 0, d.fail("truncated LEB128 integer")
		}
		if shift+7 >= bits && c>>(bits-shift) != 0 {
			// Last byte allowed: the continuation bit and every bit above
			// bits must be clear.
			d.pos = start
			return 0, d.fail("LEB128 integer too long or too large for u%d", bits)
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

func (d *decoder) u32() (uint32, error) {
	v, err := d.uleb(32)
	return uint32(v), err
}

// sleb skips a signed LEB128 integer of at most bits bits (32 or 64); the
// value is not needed.
func (d *decoder) sleb(bits uint) error {
	start := d.pos
	for shift := uint(0); ; shift += 7 {
		c, err := d.byte()
		if err != nil {
			d.pos = start
			return d.fail("truncated LEB128 integer")
		}
		if shift+7 >= bits {
			// Last byte allowed: no continuation, and the bits above
			// bits must all equal the sign bit.
			used := bits - shift // payload bits in this byte, 1..7
			rest := (c & 0x7f) >> (used - 1)
			if c&0x80 != 0 || (rest != 0 && rest != 0x7f>>(used-1)) {
				d.pos = start
				return d.fail("LEB128 integer too long or too large for s%d", bits)
			}
			return nil
		}
		if c&0x80 == 0 {
			return nil
		}
	}
}

// count reads a vector length and checks that at least min bytes per element
// are left, so a huge count in a short section fails at once.
func (d *decoder) count(what string, min int) (uint32, error) {
	n, err := d.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(min) > uint64(d.remaining()) {
		return 0, d.fail("%d %s cannot fit in the %d bytes left", n, what, d.remaining())
	}
	return n, nil
}

// name reads a name (a byte vector). It is returned as a subslice of the
// input; UTF-8 validity is left to the runtime that compiles the module.
func (d *decoder) name() ([]byte, error) {
	n, err := d.u32()
	if err != nil {
		return nil, err
	}
	if uint64(n) > math.MaxInt {
		return nil, d.fail("name too long")
	}
	return d.bytes(int(n))
}

// name2 reads two names, such as an import's module and field.
func (d *decoder) name2() (a, b []byte, err error) {
	if a, err = d.name(); err == nil {
		b, err = d.name()
	}
	return a, b, err
}
