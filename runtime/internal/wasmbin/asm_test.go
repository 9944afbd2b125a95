package wasmbin

// A tiny assembler for hand-written test modules: each helper returns the
// binary encoding of one piece, and mod joins sections after the header.

func uleb(v uint64) []byte { return appendULEB(nil, v) }

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// sec is a section with the given id and contents.
func sec(id byte, body ...[]byte) []byte {
	c := cat(body...)
	return cat([]byte{id}, uleb(uint64(len(c))), c)
}

// vec is a vector of the given elements.
func vec(elems ...[]byte) []byte { return cat(uleb(uint64(len(elems))), cat(elems...)) }

func name(s string) []byte { return cat(uleb(uint64(len(s))), []byte(s)) }

func mod(sections ...[]byte) []byte { return cat(header[:], cat(sections...)) }

func custom(n string, payload ...byte) []byte { return sec(secCustom, name(n), payload) }

const (
	i32     = 0x7f
	i64     = 0x7e
	f32     = 0x7d
	f64     = 0x7c
	v128    = 0x7b
	funcref = 0x70
	extern  = 0x6f
	end     = 0x0b
)

// glob is a global: type, mutability and a constant expression (end added).
func glob(t byte, mut bool, expr ...byte) []byte {
	m := byte(0)
	if mut {
		m = 1
	}
	return cat([]byte{t, m}, expr, []byte{end})
}

func i32c(v int32) []byte { return cat([]byte{0x41}, sleb(int64(v))) }
func i64c(v int64) []byte { return cat([]byte{0x42}, sleb(v)) }

func imp(module, field string, desc ...byte) []byte { return cat(name(module), name(field), desc) }

func exp(n string, kind byte, idx uint32) []byte {
	return cat(name(n), []byte{kind}, uleb(uint64(idx)))
}

// Sections often needed: one function type () -> i32, one function of that
// type whose body returns global 0, and a start section naming it.
var (
	typeSec  = sec(secType, vec([]byte{0x60, 0x00, 0x01, i32}))
	funcSec  = sec(secFunction, vec([]byte{0x00}))
	codeSec  = sec(secCode, vec(cat(uleb(4), []byte{0x00, 0x23, 0x00, end})))
	startSec = sec(secStart, uleb(0))
)
