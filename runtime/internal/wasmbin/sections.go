package wasmbin

import "fmt"

// Section ids of the core specification (plus the exception-handling tag
// section, which sits between memory and global).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionRank is the position a non-custom section must take in a module;
// ranks must strictly increase. Note data count (12) precedes code (10) and
// tag (13) precedes global (6).
var sectionRank = [...]int{
	secType:      1,
	secImport:    2,
	secFunction:  3,
	secTable:     4,
	secMemory:    5,
	secTag:       6,
	secGlobal:    7,
	secExport:    8,
	secStart:     9,
	secElement:   10,
	secDataCount: 11,
	secCode:      12,
	secData:      13,
}

var sectionNames = [...]string{
	secCustom:    "custom",
	secType:      "type",
	secImport:    "import",
	secFunction:  "function",
	secTable:     "table",
	secMemory:    "memory",
	secGlobal:    "global",
	secExport:    "export",
	secStart:     "start",
	secElement:   "element",
	secCode:      "code",
	secData:      "data",
	secDataCount: "data count",
	secTag:       "tag",
}

// span is a section of the module: b[start:body] is its id and size, and
// b[body:end] its contents. The zero span means the section is absent.
type span struct {
	start, body, end int
}

func (s span) present() bool { return s.end != 0 }

// layout is what scan learns from the section headers of a module.
type layout struct {
	imports, globals, exports span
	code, data, dataCount     span
	types, funcs, tables      span
	mems, elems, tags         span
	hasStart                  bool
	// exportAt is where an export section goes if the module has none: just
	// after the last section that must precede it, so custom sections that
	// follow (such as "name") stay where they are.
	exportAt int
}

var header = [8]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// scan checks the header and the framing and order of every section. The
// contents of sections are not looked at, except a custom section's name
// length.
func scan(b []byte) (layout, error) {
	var l layout
	if len(b) < 8 {
		return l, &formatError{off: 0, msg: "shorter than the 8-byte header"}
	}
	if string(b[:4]) != string(header[:4]) {
		return l, &formatError{off: 0, msg: fmt.Sprintf("bad magic %x, want 0061736d", b[:4])}
	}
	if string(b[4:8]) != string(header[4:8]) {
		return l, fmt.Errorf("offset 0x4: %w: binary format version %x (only version 1 modules, not components)", ErrUnsupported, b[4:8])
	}
	d := decoder{b: b, pos: 8, end: len(b)}
	l.exportAt = 8
	lastRank := 0
	for !d.done() {
		start := d.pos
		id, _ := d.byte()
		size, err := d.u32()
		if err != nil {
			return l, fmt.Errorf("section header: %w", err)
		}
		if uint64(size) > uint64(d.remaining()) {
			return l, &formatError{off: start, msg: fmt.Sprintf("section id %d claims %d bytes, %d left", id, size, d.remaining())}
		}
		s := span{start: start, body: d.pos, end: d.pos + int(size)}
		d.pos = s.end
		if id == secCustom {
			cd := decoder{b: b, pos: s.body, end: s.end}
			if _, err := cd.name(); err != nil {
				return l, fmt.Errorf("custom section name: %w", err)
			}
			continue
		}
		if int(id) >= len(sectionRank) || sectionRank[id] == 0 {
			return l, &formatError{off: start, msg: fmt.Sprintf("unknown section id %d", id)}
		}
		rank := sectionRank[id]
		if rank <= lastRank {
			return l, &formatError{off: start, msg: fmt.Sprintf("%s section out of order or repeated", sectionNames[id])}
		}
		lastRank = rank
		if rank < sectionRank[secExport] {
			l.exportAt = s.end
		}
		switch id {
		case secType:
			l.types = s
		case secFunction:
			l.funcs = s
		case secTable:
			l.tables = s
		case secMemory:
			l.mems = s
		case secElement:
			l.elems = s
		case secTag:
			l.tags = s
		case secImport:
			l.imports = s
		case secGlobal:
			l.globals = s
		case secExport:
			l.exports = s
		case secStart:
			l.hasStart = true
		case secCode:
			l.code = s
		case secData:
			l.data = s
		case secDataCount:
			l.dataCount = s
		}
	}
	return l, nil
}
