package wasmbin

import (
	"bytes"
	"fmt"
)

// Segment is an active data segment: bytes the module's memory 0 holds at
// Offset when it is instantiated.
type Segment struct {
	Offset uint32
	Data   []byte // a subslice of the input module
}

// StripData returns the module without its data segments, so
// instantiating it copies nothing into memory (nor walks thousands of
// segments, as a Go module has), and the active segments it had, for the
// caller to write itself (once, before taking a memory snapshot that later
// instances start from). A data count section is set to zero.
//
// Code that names a segment (memory.init, data.drop) no longer validates
// against the result; the caller compiles the original instead.
//
// Modules it cannot strip safely are refused with ErrUnsupported: a
// segment placed by anything but an i32.const offset, one for another
// memory, or a passive segment.
func StripData(bin []byte) ([]byte, []Segment, error) {
	out, segs, err := stripData(bin)
	if err != nil {
		return nil, nil, fmt.Errorf("wasmbin: %w", err)
	}
	return out, segs, nil
}

func stripData(bin []byte) ([]byte, []Segment, error) {
	l, err := scan(bin)
	if err != nil {
		return nil, nil, err
	}
	if !l.data.present() {
		return bytes.Clone(bin), nil, nil
	}
	d := &decoder{b: bin, pos: l.data.body, end: l.data.end}
	n, err := d.count("data segments", 3)
	if err != nil {
		return nil, nil, err
	}
	segs := make([]Segment, 0, n)
	for i := uint32(0); i < n; i++ {
		flags, err := d.u32()
		if err != nil {
			return nil, nil, err
		}
		switch flags {
		case 0:
		case 2:
			mem, err := d.u32()
			if err != nil {
				return nil, nil, err
			}
			if mem != 0 {
				return nil, nil, d.unsupported("data segment %d is for memory %d", i, mem)
			}
		default:
			return nil, nil, d.unsupported("data segment %d has flags %d (only active segments are stripped)", i, flags)
		}
		op, err := d.byte()
		if err != nil {
			return nil, nil, err
		}
		if op != 0x41 { // i32.const
			return nil, nil, d.unsupported("data segment %d offset is not an i32.const", i)
		}
		off, err := d.sleb32()
		if err != nil {
			return nil, nil, err
		}
		if end, err := d.byte(); err != nil || end != 0x0B {
			return nil, nil, d.unsupported("data segment %d offset is not a single i32.const", i)
		}
		size, err := d.u32()
		if err != nil {
			return nil, nil, err
		}
		data, err := d.bytes(int(size))
		if err != nil {
			return nil, nil, err
		}
		segs = append(segs, Segment{Offset: uint32(off), Data: data})
	}
	if !d.done() {
		return nil, nil, d.fail("%d bytes after the last data segment", d.remaining())
	}
	out := make([]byte, 0, len(bin)-(l.data.end-l.data.start))
	if dc := l.dataCount; dc.present() {
		out = append(out, bin[:dc.start]...)
		out = append(out, secDataCount, 1, 0)
		out = append(out, bin[dc.end:l.data.start]...)
	} else {
		out = append(out, bin[:l.data.start]...)
	}
	out = append(out, bin[l.data.end:]...)
	return out, segs, nil
}

// sleb32 reads a signed LEB128 of at most 32 bits.
func (d *decoder) sleb32() (int32, error) {
	var result int64
	var shift uint
	for i := 0; i < 5; i++ {
		c, err := d.byte()
		if err != nil {
			return 0, err
		}
		result |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				result |= -1 << shift
			}
			if result < -1<<31 || result > 1<<31-1 {
				return 0, d.fail("i32 constant out of range")
			}
			return int32(result), nil
		}
	}
	return 0, d.fail("i32 constant longer than 5 bytes")
}
