package wasmbin

import "fmt"

// Import and export kinds.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
	kindTag    = 4
)

// importedGlobals checks the import section and returns how many globals it
// imports. An imported mutable global is refused: its value lives in the
// host, and a snapshot of the instance could not restore it.
func importedGlobals(b []byte, s span) (uint32, error) {
	if !s.present() {
		return 0, nil
	}
	d := decoder{b: b, pos: s.body, end: s.end}
	// Smallest import: two empty names, a kind and a one-byte index.
	n, err := d.count("imports", 4)
	if err != nil {
		return 0, fmt.Errorf("import section: %w", err)
	}
	var globals uint32
	for i := range n {
		module, field, err := d.name2()
		if err != nil {
			return 0, fmt.Errorf("import section: import %d: %w", i, err)
		}
		mutable, isGlobal, err := importDesc(&d)
		if err != nil {
			return 0, fmt.Errorf("import section: import %d (%q %q): %w", i, module, field, err)
		}
		if !isGlobal {
			continue
		}
		if mutable {
			return 0, fmt.Errorf("import section: import %d (%q %q) is global %d: %w", i, module, field, globals, ErrImportedMutableGlobal)
		}
		globals++
	}
	if !d.done() {
		return 0, fmt.Errorf("import section: %w", d.fail("bytes left after the last import: %d", d.remaining()))
	}
	return globals, nil
}

// importDesc reads what an import is, after its names, and says whether it is
// a global and whether that global is mutable.
func importDesc(d *decoder) (mutable, isGlobal bool, err error) {
	kind, err := d.byte()
	if err != nil {
		return false, false, err
	}
	switch kind {
	case kindFunc:
		_, err = d.u32()
	case kindTable:
		if err = refType(d); err == nil {
			err = limits(d)
		}
	case kindMemory:
		err = limits(d)
	case kindGlobal:
		mutable, err = globalType(d)
		isGlobal = true
	case kindTag:
		err = tagType(d)
	default:
		d.pos--
		err = d.fail("unknown import kind %#02x", kind)
	}
	return mutable, isGlobal, err
}

// valType reads a value type of the core specification (numbers, v128,
// funcref, externref). Typed references of the GC proposal are refused.
func valType(d *decoder) error {
	t, err := d.byte()
	if err != nil {
		return err
	}
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return nil
	}
	d.pos--
	return d.unsupported("value type %#02x", t)
}

func refType(d *decoder) error {
	t, err := d.byte()
	if err != nil {
		return err
	}
	if t != 0x70 && t != 0x6f {
		d.pos--
		return d.unsupported("reference type %#02x", t)
	}
	return nil
}

// globalType reads a value type and a mutability flag.
func globalType(d *decoder) (mutable bool, err error) {
	if err := valType(d); err != nil {
		return false, err
	}
	m, err := d.byte()
	if err != nil {
		return false, err
	}
	if m > 1 {
		d.pos--
		return false, d.fail("mutability flag %#02x, want 0 or 1", m)
	}
	return m == 1, nil
}

// limits reads table or memory limits: a flags byte (0x01 has a maximum,
// 0x02 shared, 0x04 64-bit indices) then the minimum and maybe the maximum.
// Other flag bits (custom page sizes, say) are refused.
func limits(d *decoder) error {
	_, err := limitsMin(d)
	return err
}

// limitsMin is limits that also returns the minimum.
func limitsMin(d *decoder) (uint64, error) {
	flags, err := d.byte()
	if err != nil {
		return 0, err
	}
	if flags&^0x07 != 0 {
		d.pos--
		return 0, d.unsupported("limits flags %#02x", flags)
	}
	bits := uint(32)
	if flags&0x04 != 0 {
		bits = 64
	}
	min, err := d.uleb(bits)
	if err != nil {
		return 0, err
	}
	if flags&0x01 != 0 {
		_, err = d.uleb(bits)
	}
	return min, err
}

// tagType reads an exception tag: attribute 0 and a type index.
func tagType(d *decoder) error {
	attr, err := d.byte()
	if err != nil {
		return err
	}
	if attr != 0 {
		d.pos--
		return d.fail("tag attribute %#02x, want 0", attr)
	}
	_, err = d.u32()
	return err
}

// walkGlobals checks the global section and calls fn for each global it
// defines, with the global's index among the defined globals.
func walkGlobals(b []byte, s span, fn func(i uint32, mutable bool)) error {
	if !s.present() {
		return nil
	}
	d := decoder{b: b, pos: s.body, end: s.end}
	// Smallest global: type, mutability, end.
	n, err := d.count("globals", 3)
	if err != nil {
		return fmt.Errorf("global section: %w", err)
	}
	for i := range n {
		mutable, err := globalType(&d)
		if err == nil {
			err = constExpr(&d)
		}
		if err != nil {
			return fmt.Errorf("global section: global %d: %w", i, err)
		}
		fn(i, mutable)
	}
	if !d.done() {
		return fmt.Errorf("global section: %w", d.fail("bytes left after the last global: %d", d.remaining()))
	}
	return nil
}

// constExpr skips a constant expression up to and including its end opcode.
// It accepts the instructions allowed in constant expressions by the core
// specification, SIMD and extended-const; whether they are well typed is
// left to the runtime that compiles the module.
func constExpr(d *decoder) error {
	for {
		op, err := d.byte()
		if err != nil {
			return fmt.Errorf("constant expression without end: %w", err)
		}
		switch op {
		case 0x0b: // end
			return nil
		case 0x41: // i32.const
			err = d.sleb(32)
		case 0x42: // i64.const
			err = d.sleb(64)
		case 0x43: // f32.const
			err = d.skip(4)
		case 0x44: // f64.const
			err = d.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			_, err = d.u32()
		case 0xd0: // ref.null
			err = refType(d)
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // i32/i64 add, sub, mul
		case 0xfd: // SIMD prefix: only v128.const (12) is constant
			var sub uint32
			if sub, err = d.u32(); err == nil {
				if sub != 12 {
					return d.unsupported("instruction 0xfd %d in a constant expression", sub)
				}
				err = d.skip(16)
			}
		default:
			d.pos--
			return d.unsupported("opcode %#02x in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}

// exportEntries checks the export section and returns how many exports it
// has and where the first one starts. An export whose name starts with
// prefix is refused.
func exportEntries(b []byte, s span, prefix string) (n uint32, entries int, err error) {
	if !s.present() {
		return 0, 0, nil
	}
	d := decoder{b: b, pos: s.body, end: s.end}
	// Smallest export: empty name, kind, one-byte index.
	n, err = d.count("exports", 3)
	if err != nil {
		return 0, 0, fmt.Errorf("export section: %w", err)
	}
	entries = d.pos
	for i := range n {
		name, err := d.name()
		if err == nil {
			err = exportDesc(&d)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("export section: export %d: %w", i, err)
		}
		if len(name) >= len(prefix) && string(name[:len(prefix)]) == prefix {
			return 0, 0, fmt.Errorf("export section: export %d is named %q: %w %q", i, name, ErrPrefixTaken, prefix)
		}
	}
	if !d.done() {
		return 0, 0, fmt.Errorf("export section: %w", d.fail("bytes left after the last export: %d", d.remaining()))
	}
	return n, entries, nil
}

func exportDesc(d *decoder) error {
	kind, err := d.byte()
	if err != nil {
		return err
	}
	if kind > kindTag {
		d.pos--
		return d.fail("unknown export kind %#02x", kind)
	}
	_, err = d.u32()
	return err
}
