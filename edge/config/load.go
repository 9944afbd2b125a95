package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
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
		for _, p := range cfg.validate(baseDir) {
			if !d.under(p.Path) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		if len(problems) > MaxProblems {
			more := len(problems) - MaxProblems
			problems = append(problems[:MaxProblems:MaxProblems], &FieldError{Msg: fmt.Sprintf("… and %d more problems", more)})
		}
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
	d := newDecoder()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, d, []*FieldError{{Msg: "empty configuration"}}
		}
		return nil, d, []*FieldError{yamlError(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, d, []*FieldError{{Msg: "more than one YAML document", Line: extra.Line}}
	case !errors.Is(err, io.EOF):
		return nil, d, []*FieldError{yamlError(err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, d, []*FieldError{{Msg: "empty configuration"}}
	}
	if root.Kind != yaml.MappingNode {
		return nil, d, []*FieldError{{Msg: "the configuration must be a mapping", Line: root.Line}}
	}
	cfg := new(Config)
	d.value(root, reflect.ValueOf(cfg).Elem(), "")
	return cfg, d, d.problems
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
