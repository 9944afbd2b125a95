package wasmbin

import "fmt"

// Kind is what an import or export is.
type Kind byte

// Import and export kinds.
const (
	KindFunc   Kind = kindFunc
	KindTable  Kind = kindTable
	KindMemory Kind = kindMemory
	KindGlobal Kind = kindGlobal
	KindTag    Kind = kindTag
)

func (k Kind) String() string {
	switch k {
	case KindFunc:
		return "func"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         Kind
}

// Export is one export of a module.
type Export struct {
	Name string
	Kind Kind
}

// Interface is what a module imports and exports, in the order of its
// import and export sections.
type Interface struct {
	Imports []Import
	Exports []Export
	// TableElements is the sum of the minimum sizes of the tables the
	// module defines: the elements every instance starts with.
	TableElements uint64
}

// Inspect reads the imports and exports of the module bin, cheaply: it
// checks the header and the framing and order of every section, decodes
// the import and export sections, and checks the vectors of the others
// (see under) without decoding instructions or copying data, so a module
// without the exports a host wants can be refused before it is compiled.
// It errs (ErrMalformed, ErrUnsupported) as ExportMutableGlobals does;
// names are not checked to be UTF-8.
//
// Inspect reads untrusted input: it never panics, and allocates in
// proportion to the entries present, not to counts read from the input.
// It also refuses (ErrMalformed) a module any vector of which claims more
// elements than its bytes can hold — types, parameters, results,
// functions, tables, memories, tags, globals, element segments and their
// entries, function bodies and their local declarations, data segments,
// the function and local names of a "name" section —
// and (ErrUnsupported) a function with more than MaxLocals locals: wazero
// allocates from those counts before it finds the bytes missing, so a
// module of a few bytes could otherwise exhaust the host's memory.
func Inspect(bin []byte) (*Interface, error) {
	l, err := scan(bin)
	if err != nil {
		return nil, fmt.Errorf("wasmbin: %w", err)
	}
	var out Interface
	if err := checkVectors(bin, l, &out); err != nil {
		return nil, fmt.Errorf("wasmbin: %w", err)
	}
	if s := l.imports; s.present() {
		d := decoder{b: bin, pos: s.body, end: s.end}
		n, err := d.count("imports", 4)
		if err != nil {
			return nil, fmt.Errorf("wasmbin: import section: %w", err)
		}
		out.Imports = make([]Import, 0, n)
		for i := range n {
			module, field, err := d.name2()
			if err != nil {
				return nil, fmt.Errorf("wasmbin: import section: import %d: %w", i, err)
			}
			kind := d.pos
			if _, _, err := importDesc(&d); err != nil {
				return nil, fmt.Errorf("wasmbin: import section: import %d (%q %q): %w", i, module, field, err)
			}
			out.Imports = append(out.Imports, Import{Module: string(module), Name: string(field), Kind: Kind(bin[kind])})
		}
		if !d.done() {
			return nil, fmt.Errorf("wasmbin: import section: %w", d.fail("bytes left after the last import: %d", d.remaining()))
		}
	}
	if s := l.exports; s.present() {
		d := decoder{b: bin, pos: s.body, end: s.end}
		n, err := d.count("exports", 3)
		if err != nil {
			return nil, fmt.Errorf("wasmbin: export section: %w", err)
		}
		out.Exports = make([]Export, 0, n)
		for i := range n {
			name, err := d.name()
			kind := d.pos
			if err == nil {
				err = exportDesc(&d)
			}
			if err != nil {
				return nil, fmt.Errorf("wasmbin: export section: export %d: %w", i, err)
			}
			out.Exports = append(out.Exports, Export{Name: string(name), Kind: Kind(bin[kind])})
		}
		if !d.done() {
			return nil, fmt.Errorf("wasmbin: export section: %w", d.fail("bytes left after the last export: %d", d.remaining()))
		}
	}
	return &out, nil
}

// Exported reports whether the module exports name as kind.
func (it *Interface) Exported(name string, kind Kind) bool {
	for _, e := range it.Exports {
		if e.Name == name && e.Kind == kind {
			return true
		}
	}
	return false
}
