package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxProblems bounds how many problems one *Error lists.
const MaxProblems = 200

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
	cfg, d, problems := decode(data)
	if cfg != nil {
		vps := cfg.validate(baseDir)
		if !slices.ContainsFunc(vps, func(p *FieldError) bool { return strings.HasPrefix(p.Path, "egress") }) {
			// The file's tenants follow the file's egress policy.
			vps = append(vps, cfg.checkFileEgress()...)
		}
		for _, p := range vps {
			if !d.under(p.Path) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		problems = capProblems(problems)
		for _, p := range problems {
			if p.Line == 0 {
				p.Line = d.lines.find(p.Path)
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
// document cannot be decoded at all), the decoder that knows the line of
// every field path, and the problems found so far.
func decode(data []byte) (*Config, *decoder, []*FieldError) {
	cfg := new(Config)
	d, problems := decodeInto(data, reflect.ValueOf(cfg).Elem(), "configuration")
	if d.root == nil {
		return nil, d, problems
	}
	return cfg, d, problems
}

// DecodeStrict decodes one YAML or JSON document into v, a pointer to a
// configuration type (a Tenant, a Route slice, an Upstream, …), by the
// rules of a configuration file: unknown fields, repeated keys and wrong
// types are all reported in one *Error, each with its field path in the
// document (routes[0].match.path) and line. name labels the error. It
// does not validate values: see ValidateTenant.
func DecodeStrict(data []byte, name string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config: DecodeStrict needs a non-nil pointer, got %T", v)
	}
	d, problems := decodeInto(data, rv.Elem(), "document")
	if len(problems) > 0 {
		for _, p := range problems {
			if p.Line == 0 {
				p.Line = d.lines.find(p.Path)
			}
		}
		return &Error{File: name, Problems: capProblems(problems)}
	}
	return nil
}

// capProblems keeps at most MaxProblems, with a last line counting the rest.
func capProblems(problems []*FieldError) []*FieldError {
	if len(problems) > MaxProblems {
		more := len(problems) - MaxProblems
		problems = append(problems[:MaxProblems:MaxProblems], &FieldError{Msg: fmt.Sprintf("… and %d more problems", more)})
	}
	return problems
}

// decodeInto decodes data strictly into v. what names the document in
// problems ("configuration"). d.root is nil when the document could not be
// decoded at all.
func decodeInto(data []byte, v reflect.Value, what string) (*decoder, []*FieldError) {
	d := newDecoder()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return d, []*FieldError{{Msg: "empty " + what}}
		}
		return d, []*FieldError{yamlError(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return d, []*FieldError{{Msg: "more than one YAML document", Line: extra.Line}}
	case !errors.Is(err, io.EOF):
		return d, []*FieldError{yamlError(err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return d, []*FieldError{{Msg: "empty " + what}}
	}
	if v.Kind() == reflect.Struct && root.Kind != yaml.MappingNode {
		return d, []*FieldError{{Msg: "the " + what + " must be a mapping", Line: root.Line}}
	}
	d.root = root
	d.value(root, v, "")
	return d, d.problems
}

// lineMap maps a field path to the line it was written on: the line of
// its key, or of the list item.
type lineMap map[string]int

// find returns the line of path or, when path was not written (a missing
// required field), of its nearest written ancestor.
func (m lineMap) find(path string) int {
	for ; path != ""; path = parent(path) {
		if l, ok := m[path]; ok {
			return l
		}
	}
	return 0
}

// yamlError turns a yaml.v3 error ("yaml: line 3: …") into a FieldError.
func yamlError(err error) *FieldError {
	line, msg := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
	return &FieldError{Line: line, Msg: msg}
}

// resolvePaths joins relative file paths to base (absolute only if base is).
func (c *Config) resolvePaths(base string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.DataDir = abs(c.DataDir)
	c.Store.Path = abs(c.Store.Path)
	if t := c.Store.TLS; t != nil {
		tt := *t
		tt.CAFile, tt.CertFile, tt.KeyFile = abs(t.CAFile), abs(t.CertFile), abs(t.KeyFile)
		c.Store.TLS = &tt
	}
	if c.AdminTLS != nil {
		t := *c.AdminTLS
		t.CertFile, t.KeyFile = abs(t.CertFile), abs(t.KeyFile)
		c.AdminTLS = &t
	}
	for ti := range c.Tenants {
		t := &c.Tenants[ti]
		for ri := range t.Routes {
			r := &t.Routes[ri]
			if len(r.Filters) == 0 {
				continue
			}
			r.Filters = append([]Filter(nil), r.Filters...)
			for fi := range r.Filters {
				r.Filters[fi].Module = abs(r.Filters[fi].Module)
			}
		}
	}
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
