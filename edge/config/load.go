package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds the size of a configuration file.
const MaxFileBytes = 16 << 20

// LoadFile reads, parses and validates the configuration file at path.
// Relative file paths inside it (certificates, data directory) are resolved
// against the file's directory. Every problem found is reported in one
// *Error.
func LoadFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, MaxFileBytes)
	}
	return Parse(data, path, filepath.Dir(path))
}

// Parse parses and validates a configuration. name labels errors (a file
// name); baseDir resolves relative file paths ("" leaves them as written).
// Unknown fields, wrong types and invalid values are all reported together
// in one *Error.
func Parse(data []byte, name, baseDir string) (*Config, error) {
	cfg, lines, problems := decode(data)
	if cfg != nil {
		problems = append(problems, cfg.validate(baseDir)...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			if p.Line == 0 {
				p.Line = lines.find(p.Path)
			}
		}
		return nil, &Error{File: name, Problems: problems}
	}
	if baseDir != "" {
		cfg.resolvePaths(baseDir)
	}
	return cfg, nil
}

// decode parses YAML strictly. It returns the decoded config (nil when the
// document cannot be decoded at all), the line of every field path, and
// the problems found so far.
func decode(data []byte) (*Config, lineMap, []*FieldError) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, []*FieldError{{Msg: "empty configuration"}}
		}
		return nil, nil, []*FieldError{yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, nil, []*FieldError{{Msg: "more than one YAML document", Line: extra.Line}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, []*FieldError{{Msg: "the configuration must be a mapping", Line: root.Line}}
	}
	lines := lineMap{}
	var problems []*FieldError
	walk(root, reflect.TypeFor[Config](), "", lines, &problems)
	cfg := new(Config)
	if err := root.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, lines, append(problems, yamlError(err))
		}
		for _, msg := range te.Errors {
			problems = append(problems, typeProblem(msg))
		}
	}
	return cfg, lines, problems
}

// walk records the line of every field path under n and reports mapping
// keys that name no field of t.
func walk(n *yaml.Node, t reflect.Type, path string, lines lineMap, problems *[]*FieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	lines[path] = n.Line
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		if _, ok := reflect.New(t).Interface().(yaml.Unmarshaler); ok {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			p := join(path, k.Value)
			if !ok {
				*problems = append(*problems, &FieldError{Path: p, Line: k.Line, Msg: fmt.Sprintf("unknown field %q", k.Value)})
				continue
			}
			lines[p] = k.Line
			walk(v, f.Type, p, lines, problems)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := path + "[" + k.Value + "]"
			lines[p] = k.Line
			walk(v, t.Elem(), p, lines, problems)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, v := range n.Content {
			walk(v, t.Elem(), path+"["+strconv.Itoa(i)+"]", lines, problems)
		}
	}
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

// lineMap maps a field path to the line it was written on.
type lineMap map[string]int

// find returns the line of path or, when path was not written (a missing
// required field), of its nearest written ancestor.
func (m lineMap) find(path string) int {
	for path != "" {
		if l, ok := m[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// yamlError turns a yaml.v3 error ("yaml: line 3: …") into a FieldError.
func yamlError(err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return typeProblem(msg)
}

// typeProblem splits yaml.v3's "line N: message" into its parts.
func typeProblem(msg string) *FieldError {
	fe := &FieldError{Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(num); err == nil {
				fe.Line, fe.Msg = l, tail
			}
		}
	}
	fe.Msg = strings.ReplaceAll(fe.Msg, "config.", "")
	return fe
}

// resolvePaths makes relative file paths absolute against base.
func (c *Config) resolvePaths(base string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.DataDir = abs(c.DataDir)
	for i := range c.Listeners {
		if t := c.Listeners[i].TLS; t != nil {
			tt := *t
			tt.Certificates = append([]Certificate(nil), t.Certificates...)
			for j := range tt.Certificates {
				tt.Certificates[j].CertFile = abs(tt.Certificates[j].CertFile)
				tt.Certificates[j].KeyFile = abs(tt.Certificates[j].KeyFile)
			}
			c.Listeners[i].TLS = &tt
		}
	}
}
