package wasmbin

import "fmt"

// MaxLocals bounds the locals one function may declare, as Web engines
// do (V8, SpiderMonkey and JavaScriptCore refuse more than 50,000).
const MaxLocals = 50000

// checkVectors checks, in section order, that no vector of the sections a
// compiler decodes (the "name" custom section's function and local names
// included) claims more elements than its bytes can hold, and that no
// function declares more than MaxLocals locals. A compiler that
// allocates from the counts it reads (as wazero does) then allocates in
// proportion to the module's size, never to a count the bytes do not back:
// a few bytes claiming 2³² imports, globals, parameters or locals would
// otherwise exhaust the host's memory. Instructions are not decoded.
func checkVectors(b []byte, l layout, it *Interface) error {
	if s := l.types; s.present() {
		d := decoder{b: b, pos: s.body, end: s.end}
		// Smallest type: the form and two empty vectors.
		n, err := d.count("types", 3)
		if err != nil {
			return fmt.Errorf("type section: %w", err)
		}
		for i := range n {
			form, err := d.byte()
			if err != nil {
				return fmt.Errorf("type section: type %d: %w", i, err)
			}
			if form != 0x60 {
				d.pos--
				return fmt.Errorf("type section: type %d: %w", i, d.unsupported("type form %#02x (only function types)", form))
			}
			for _, what := range []string{"parameters", "results"} {
				k, err := d.count(what, 1)
				if err != nil {
					return fmt.Errorf("type section: type %d: %w", i, err)
				}
				for range k {
					if err := valType(&d); err != nil {
						return fmt.Errorf("type section: type %d: %w", i, err)
					}
				}
			}
		}
		if err := finished(&d, "type section", "type"); err != nil {
			return err
		}
	}
	if s := l.funcs; s.present() {
		d := decoder{b: b, pos: s.body, end: s.end}
		n, err := d.count("functions", 1)
		if err != nil {
			return fmt.Errorf("function section: %w", err)
		}
		for i := range n {
			if _, err := d.u32(); err != nil {
				return fmt.Errorf("function section: function %d: %w", i, err)
			}
		}
		if err := finished(&d, "function section", "function"); err != nil {
			return err
		}
	}
	if s := l.tables; s.present() {
		d := decoder{b: b, pos: s.body, end: s.end}
		n, err := d.count("tables", 3)
		if err != nil {
			return fmt.Errorf("table section: %w", err)
		}
		for i := range n {
			withInit := d.remaining() >= 2 && b[d.pos] == 0x40 && b[d.pos+1] == 0x00
			if withInit {
				d.pos += 2
			}
			err := refType(&d)
			var min uint64
			if err == nil {
				min, err = limitsMin(&d)
				it.TableElements += min
			}
			if err == nil && withInit {
				err = constExpr(&d)
			}
			if err != nil {
				return fmt.Errorf("table section: table %d: %w", i, err)
			}
		}
		if err := finished(&d, "table section", "table"); err != nil {
			return err
		}
	}
	if s := l.mems; s.present() {
		d := decoder{b: b, pos: s.body, end: s.end}
		n, err := d.count("memories", 2)
		if err != nil {
			return fmt.Errorf("memory section: %w", err)
		}
		for i := range n {
			if err := limits(&d); err != nil {
				return fmt.Errorf("memory section: memory %d: %w", i, err)
			}
		}
		if err := finished(&d, "memory section", "memory"); err != nil {
			return err
		}
	}
	if s := l.tags; s.present() {
		d := decoder{b: b, pos: s.body, end: s.end}
		n, err := d.count("tags", 2)
		if err != nil {
			return fmt.Errorf("tag section: %w", err)
		}
		for i := range n {
			if err := tagType(&d); err != nil {
				return fmt.Errorf("tag section: tag %d: %w", i, err)
			}
		}
		if err := finished(&d, "tag section", "tag"); err != nil {
			return err
		}
	}
	if err := walkGlobals(b, l.globals, func(uint32, bool) {}); err != nil {
		return err
	}
	if err := checkElements(b, l.elems); err != nil {
		return err
	}
	if err := checkCode(b, l.code); err != nil {
		return err
	}
	if err := checkData(b, l.data); err != nil {
		return err
	}
	// The "name" sections, found again (scan keeps nothing of custom
	// sections, so as not to allocate): their framing is checked.
	d := decoder{b: b, pos: 8, end: len(b)}
	for !d.done() {
		start := d.pos
		id, _ := d.byte()
		size, _ := d.u32()
		s := span{start: start, body: d.pos, end: d.pos + int(size)}
		d.pos = s.end
		if id != secCustom {
			continue
		}
		cd := decoder{b: b, pos: s.body, end: s.end}
		if n, _ := cd.name(); string(n) != "name" {
			continue
		}
		s.body = cd.pos
		if err := checkNames(b, s); err != nil {
			return err
		}
	}
	return nil
}

// checkNames checks the vectors of the subsections of a "name" custom
// section that compilers decode: the module name (0), function names (1)
// and local names (2). Other subsections are skipped by their size.
func checkNames(b []byte, s span) error {
	d := decoder{b: b, pos: s.body, end: s.end}
	for !d.done() {
		id, _ := d.byte()
		size, err := d.u32()
		if err == nil {
			err = d.skip(int(size))
		}
		if err != nil {
			return fmt.Errorf("name section: subsection %d: %w", id, err)
		}
		sd := decoder{b: b, pos: d.pos - int(size), end: d.pos}
		switch id {
		case 0:
			_, err = sd.name()
		case 1:
			err = nameMap(&sd)
		case 2:
			var n uint32
			// Smallest entry: a function index and an empty map.
			if n, err = sd.count("functions with local names", 2); err == nil {
				for range n {
					if _, err = sd.u32(); err == nil {
						err = nameMap(&sd)
					}
					if err != nil {
						break
					}
				}
			}
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("name section: subsection %d: %w", id, err)
		}
	}
	return nil
}

// nameMap skips a name map: a vector of indices and names.
func nameMap(d *decoder) error {
	// Smallest entry: an index and an empty name.
	n, err := d.count("names", 2)
	if err != nil {
		return err
	}
	for range n {
		if _, err := d.u32(); err != nil {
			return err
		}
		if _, err := d.name(); err != nil {
			return err
		}
	}
	return nil
}

func finished(d *decoder, section, what string) error {
	if !d.done() {
		return fmt.Errorf("%s: %w", section, d.fail("bytes left after the last %s: %d", what, d.remaining()))
	}
	return nil
}

// checkElements checks the element segments' framing and vector counts.
func checkElements(b []byte, s span) error {
	if !s.present() {
		return nil
	}
	d := decoder{b: b, pos: s.body, end: s.end}
	// Smallest segment: flags and two one-byte fields (say an empty
	// offset expression's end and an empty vector).
	n, err := d.count("element segments", 3)
	if err != nil {
		return fmt.Errorf("element section: %w", err)
	}
	for i := range n {
		if err := elementSegment(&d); err != nil {
			return fmt.Errorf("element section: segment %d: %w", i, err)
		}
	}
	return finished(&d, "element section", "element segment")
}

func elementSegment(d *decoder) error {
	flags, err := d.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return d.fail("element segment flags %d, want 0 to 7", flags)
	}
	active, explicit, exprs := flags&1 == 0, flags&2 != 0, flags&4 != 0
	if active && explicit {
		if _, err := d.u32(); err != nil { // table index
			return err
		}
	}
	if active {
		if err := constExpr(d); err != nil {
			return err
		}
	}
	if !active || explicit {
		// An element kind (0x00, funcref) or a reference type.
		if exprs {
			if err := refType(d); err != nil {
				return err
			}
		} else if _, err := d.byte(); err != nil {
			return err
		}
	}
	if exprs {
		// Smallest expression: ref.null t end, or ref.func i end.
		k, err := d.count("element expressions", 2)
		if err != nil {
			return err
		}
		for range k {
			if err := constExpr(d); err != nil {
				return err
			}
		}
		return nil
	}
	k, err := d.count("function indices", 1)
	if err != nil {
		return err
	}
	for range k {
		if _, err := d.u32(); err != nil {
			return err
		}
	}
	return nil
}

// checkCode checks each function body's size and local declarations,
// without decoding its instructions.
func checkCode(b []byte, s span) error {
	if !s.present() {
		return nil
	}
	d := decoder{b: b, pos: s.body, end: s.end}
	// Smallest body: its size, an empty vector of locals and end.
	n, err := d.count("function bodies", 3)
	if err != nil {
		return fmt.Errorf("code section: %w", err)
	}
	for i := range n {
		size, err := d.u32()
		if err != nil {
			return fmt.Errorf("code section: body %d: %w", i, err)
		}
		start := d.pos
		if err := d.skip(int(size)); err != nil {
			return fmt.Errorf("code section: body %d: %w", i, err)
		}
		bd := decoder{b: b, pos: start, end: d.pos}
		decls, err := bd.count("local declarations", 2)
		if err != nil {
			return fmt.Errorf("code section: body %d: %w", i, err)
		}
		var locals uint64
		for range decls {
			c, err := bd.u32()
			if err == nil {
				err = valType(&bd)
			}
			if err != nil {
				return fmt.Errorf("code section: body %d: %w", i, err)
			}
			if locals += uint64(c); locals > MaxLocals {
				return fmt.Errorf("code section: body %d: %w", i, bd.unsupported("more than %d locals", MaxLocals))
			}
		}
	}
	return finished(&d, "code section", "function body")
}

// checkData checks the data segments' framing.
func checkData(b []byte, s span) error {
	if !s.present() {
		return nil
	}
	d := decoder{b: b, pos: s.body, end: s.end}
	// Smallest segment: a passive one, its flags and an empty vector.
	n, err := d.count("data segments", 2)
	if err != nil {
		return fmt.Errorf("data section: %w", err)
	}
	for i := range n {
		flags, err := d.u32()
		if err == nil && flags > 2 {
			err = d.fail("data segment flags %d, want 0 to 2", flags)
		}
		if err == nil && flags == 2 {
			_, err = d.u32() // memory index
		}
		if err == nil && flags != 1 {
			err = constExpr(&d)
		}
		if err == nil {
			var size uint32
			if size, err = d.u32(); err == nil {
				err = d.skip(int(size))
			}
		}
		if err != nil {
			return fmt.Errorf("data section: segment %d: %w", i, err)
		}
	}
	return finished(&d, "data section", "data segment")
}
