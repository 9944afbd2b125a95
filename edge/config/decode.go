package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxAliasNodes bounds the nodes visited through YAML aliases, so that a
// small file of nested aliases ("billion laughs") cannot take unbounded
// time and memory.
const maxAliasNodes = 1 << 18

// decoder fills a Config from a YAML node tree. Each scalar is decoded by
// yaml.v3 itself, so scalars mean what they mean to yaml.v3; mappings,
// sequences, aliases and merge keys are walked here so that every problem
// names its field path, unknown and repeated keys are reported, and a wrong
// list element keeps its index (yaml.v3 drops it, which shifts the paths of
// the elements after it).
type decoder struct {
	lines    lineMap
	problems []*FieldError
	// bad holds the paths whose values could not be decoded and were left
	// zero, and badParents the paths that hold them; validation problems
	// about those zero values are noise (see under).
	bad, badParents map[string]bool
	// expanding holds the alias nodes being expanded, to catch an anchor
	// that contains itself.
	expanding map[*yaml.Node]bool
	// aliased counts the nodes visited through aliases.
	aliased  int
	overflow bool
	// root is the document's top node, once it could be parsed.
	root *yaml.Node
}

func newDecoder() *decoder {
	return &decoder{
		lines:      lineMap{},
		bad:        map[string]bool{},
		badParents: map[string]bool{},
		expanding:  map[*yaml.Node]bool{},
	}
}

func (d *decoder) fail(path string, line int, format string, args ...any) {
	d.problems = append(d.problems, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// failValue reports that the value at path cannot be decoded.
func (d *decoder) failValue(path string, line int, format string, args ...any) {
	d.fail(path, line, format, args...)
	d.bad[path] = true
	if path != "" {
		d.badParents[parent(path)] = true
	}
}

// spend counts one node visited and reports false once the alias budget
// is spent.
func (d *decoder) spend(line int) bool {
	if len(d.expanding) == 0 {
		return !d.overflow
	}
	if d.aliased++; d.aliased <= maxAliasNodes {
		return true
	}
	if !d.overflow {
		d.overflow = true
		d.failValue("", line, "aliases expand to more than %d nodes", maxAliasNodes)
	}
	return false
}

// deref follows an alias, calling fn with its target; fn is called with n
// itself when n is not an alias.
func (d *decoder) deref(n *yaml.Node, path string, fn func(*yaml.Node)) {
	if n.Kind != yaml.AliasNode {
		fn(n)
		return
	}
	if n.Alias == nil || d.expanding[n] {
		d.failValue(path, n.Line, "alias *%s refers to a value that contains it", n.Value)
		return
	}
	d.expanding[n] = true
	fn(n.Alias)
	delete(d.expanding, n)
}

// value decodes n into v, which is settable, at path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	d.deref(n, path, func(n *yaml.Node) {
		if !d.spend(n.Line) {
			return
		}
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return // null leaves the zero value, as yaml.v3 does
		}
		t := v.Type()
		if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
			d.leaf(n, v, path)
			return
		}
		switch t.Kind() {
		case reflect.Pointer:
			e := reflect.New(t.Elem())
			d.value(n, e.Elem(), path)
			v.Set(e)
		case reflect.Struct:
			if !d.want(n, yaml.MappingNode, t, path) {
				return
			}
			d.pairs(n, path, map[string]int{}, false, join, func(k, val *yaml.Node, p string) {
				f, ok := fieldByTag(t, k.Value)
				if !ok {
					d.fail(p, k.Line, "unknown field %q", k.Value)
					return
				}
				d.lines[p] = k.Line
				d.value(val, v.FieldByIndex(f.Index), p)
			})
		case reflect.Map:
			if !d.want(n, yaml.MappingNode, t, path) {
				return
			}
			m := reflect.MakeMapWithSize(t, len(n.Content)/2)
			d.pairs(n, path, map[string]int{}, false, index, func(k, val *yaml.Node, p string) {
				d.lines[p] = k.Line
				e := reflect.New(t.Elem()).Elem()
				d.value(val, e, p)
				m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
			})
			v.Set(m)
		case reflect.Slice:
			if !d.want(n, yaml.SequenceNode, t, path) {
				return
			}
			s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
			for i, item := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				d.lines[p] = item.Line
				d.value(item, s.Index(i), p)
			}
			v.Set(s)
		default:
			if d.want(n, yaml.ScalarNode, t, path) {
				d.leaf(n, v, path)
			}
		}
	})
}

// want reports whether n is of the kind t needs, reporting a problem if not.
func (d *decoder) want(n *yaml.Node, kind yaml.Kind, t reflect.Type, path string) bool {
	if n.Kind == kind {
		return true
	}
	d.failValue(path, n.Line, "want %s, got %s", describe(t), kindOf(n))
	return false
}

// leaf decodes a scalar (or a type with its own UnmarshalYAML) with
// yaml.v3, rewording its messages.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	err := n.Decode(v.Addr().Interface())
	if err == nil {
		if v.CanInt() && n.ShortTag() == "!!float" {
			// yaml.v3 truncates 1.5 to 1; only whole numbers are integers.
			var f float64
			if n.Decode(&f) != nil || f != math.Trunc(f) {
				d.failValue(path, n.Line, "want %s, got %s", describe(v.Type()), kindOf(n))
			}
		}
		return
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	for _, msg := range msgs {
		line, msg := splitLine(msg)
		if line == 0 {
			line = n.Line
		}
		if strings.HasPrefix(msg, "cannot unmarshal ") {
			// yaml.v3 says "cannot unmarshal !!str `abc` into int",
			// with YAML tags, Go types and long values cut short.
			msg = fmt.Sprintf("want %s, got %s", describe(v.Type()), kindOf(n))
		}
		d.failValue(path, line, "%s", msg)
	}
}

// pairs calls fn with each key, value and key path of mapping n, then
// follows its merge keys (<<). A key is taken the first time it is seen:
// the mapping's own keys win over merged ones, as YAML specifies. A key
// repeated within the mapping itself is a problem.
func (d *decoder) pairs(n *yaml.Node, path string, seen map[string]int, merged bool,
	child func(path, key string) string, fn func(k, v *yaml.Node, p string)) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if !d.spend(k.Line) {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k.Line, "want a name as key, got %s", kindOf(k))
			continue
		}
		p := child(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			if !merged {
				d.fail(p, k.Line, "already set at line %d", line)
			}
			continue
		}
		seen[k.Value] = k.Line
		fn(k, v, p)
	}
	for _, m := range merges {
		d.deref(m, path, func(m *yaml.Node) {
			switch m.Kind {
			case yaml.MappingNode:
				d.pairs(m, path, seen, true, child, fn)
				return
			case yaml.SequenceNode:
				for _, item := range m.Content {
					d.deref(item, path, func(item *yaml.Node) {
						if item.Kind != yaml.MappingNode {
							d.failValue(path, item.Line, "merge (<<) wants a mapping, got %s", kindOf(item))
							return
						}
						d.pairs(item, path, seen, true, child, fn)
					})
				}
				return
			}
			d.failValue(path, m.Line, "merge (<<) wants a mapping or a list of mappings, got %s", kindOf(m))
		})
	}
}

// under reports whether a validation problem at path is a consequence of a
// value that could not be decoded (and so was left zero): it is at or
// inside that value, or at the value that holds it.
func (d *decoder) under(path string) bool {
	if d.badParents[path] {
		return true
	}
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parent(path)
	}
}

// parent cuts the last field or index off path: a.b[1] → a.b → a → "".
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path, key string) string { return path + "[" + key + "]" }

// describe names what a value of type t is written as.
func describe(t reflect.Type) string {
	if t == reflect.TypeFor[Duration]() {
		return `a duration such as "5s"`
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describe(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// kindOf names what n is: a list, a mapping, or its value (said to be a
// string when it was quoted, as in "200").
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "alias *" + n.Value
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return "the string " + strconv.Quote(n.Value)
	}
	return strconv.Quote(n.Value)
}

// splitLine splits yaml.v3's "line N: message" into its parts; line is 0
// when msg has no such prefix.
func splitLine(msg string) (line int, rest string) {
	if r, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(r, ": "); ok {
			if l, err := strconv.Atoi(num); err == nil {
				return l, tail
			}
		}
	}
	return 0, msg
}
