package config

import (
	"encoding/json"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("250ms", "5s", "1m30s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the Go duration string of d.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a duration string. Bare integers are refused because
// their unit would be a guess. Problems are returned as a *yaml.TypeError,
// so that yaml.v3 keeps decoding and reports them with its others.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return durationError(n, `want a duration such as "5s", got %s`, kindOf(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return durationError(n, `%q is not a duration (want e.g. "5s", "250ms")`, n.Value)
	}
	*d = Duration(v)
	return nil
}

func durationError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes d as a JSON duration string ("5s").
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON parses a JSON duration string ("5s").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("config: want a duration string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("config: %q is not a duration (want e.g. \"5s\", \"250ms\")", s)
	}
	*d = Duration(v)
	return nil
}
