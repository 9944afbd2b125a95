package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFilterConfigBytes bounds a filter's config and vm_config, as the
// bytes the filter is given (a mapping counts as its JSON).
const MaxFilterConfigBytes = 1 << 20

// FilterConfig is a filter's plugin or VM configuration as bytes: a YAML string
// as is, any other YAML value as JSON.
type FilterConfig []byte

// UnmarshalYAML implements yaml.Unmarshaler.
func (f *FilterConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		*f = FilterConfig(n.Value)
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Errorf("config: filter config is not representable as JSON: %w", err)
	}
	*f = b
	return nil
}

// MarshalYAML implements yaml.Marshaler: the bytes as a string.
func (f FilterConfig) MarshalYAML() (any, error) { return string(f), nil }

// jsonable turns yaml.v3's map[any]any (from non-string keys) into
// map[string]any, so every YAML mapping encodes as a JSON object.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	}
	return v
}

func badNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// validateFilters checks a route's filters; caps are the node's maximums
// on their limits, defaults applied.
func validateFilters(ps *problems, p string, fs []Filter, pools map[string]bool, caps FilterCaps) {
	names := map[string]int{}
	for i, f := range fs {
		fp := fmt.Sprintf("%s.filters[%d]", p, i)
		switch {
		case f.Name == "":
			ps.add(fp+".name", "required")
		case strings.IndexFunc(f.Name, badNameRune) >= 0:
			ps.add(fp+".name", "%q: letters, digits, '-', '_' and '.' only", f.Name)
		default:
			if j, dup := names[f.Name]; dup {
				ps.add(fp+".name", "%q is already used by filters[%d]", f.Name, j)
			}
			names[f.Name] = i
		}
		for _, c := range []struct {
			field string
			b     FilterConfig
		}{{"config", f.Config}, {"vm_config", f.VMConfig}} {
			if len(c.b) > MaxFilterConfigBytes {
				ps.add(fp+"."+c.field, "%s: at most %s", sizeText(int64(len(c.b))), sizeText(MaxFilterConfigBytes))
			}
		}
		if f.Module == "" {
			ps.add(fp+".module", "required: the path of the filter's .wasm file")
		}
		switch f.FailureMode {
		case "", FailClosed, FailOpen:
		default:
			ps.add(fp+".failure_mode", "%q: want %q or %q", f.FailureMode, FailClosed, FailOpen)
		}
		for j, u := range f.HTTPUpstreams {
			if !pools[u] {
				ps.add(fmt.Sprintf("%s.http_upstreams[%d]", fp, j), "pool %q is not defined", u)
			}
		}
		validateFilterLimits(ps, fp, &f.Limits, caps)
	}
}
