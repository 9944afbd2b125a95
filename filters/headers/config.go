package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wedgeproxy/wedge/sdk"
)

// config is the filter's JSON configuration.
type config struct {
	Request  *side `json:"request"`
	Response *side `json:"response"`
}

// side is what to do to one direction's headers.
type side struct {
	// Remove lists headers to delete (every value).
	Remove []string `json:"remove"`
	// Set gives headers their only value, replacing any they had.
	Set map[string]string `json:"set"`
	// Add appends a value, keeping any the header had.
	Add map[string]string `json:"add"`
}

// ops is a side compiled for the hot path: lower-case names, in a fixed
// order (sorted by name within each operation).
type ops struct {
	remove   []string
	set, add []sdk.Header
}

// forbidden are headers this filter must not touch: they frame the
// message or the connection (changing them would corrupt or smuggle
// requests), or select the route (that is the rewrite filter's job).
var forbidden = map[string]string{
	"connection":        "it is hop-by-hop",
	"keep-alive":        "it is hop-by-hop",
	"proxy-connection":  "it is hop-by-hop",
	"transfer-encoding": "it frames the message",
	"content-length":    "it frames the message",
	"upgrade":           "it is hop-by-hop",
	"te":                "it is hop-by-hop",
	"host":              "it selects the route; use the rewrite filter",
}

// compile validates c and fills req and resp. Every problem is reported,
// each with its field path.
func (c *config) compile(req, resp *ops) error {
	if c.Request == nil && c.Response == nil {
		return errors.New("headers: config: nothing to do: give request and/or response operations")
	}
	return errors.Join(c.Request.compile("request", req), c.Response.compile("response", resp))
}

func (s *side) compile(path string, o *ops) error {
	if s == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("headers: config: "+format, args...))
	}
	// seen maps each lower-case name to the first field that used it.
	seen := map[string]string{}
	use := func(field, name string) (string, bool) {
		where := fmt.Sprintf("%s.%s[%q]", path, field, name)
		lower := strings.ToLower(name)
		if err := checkName(lower); err != nil {
			bad("%s: %v", where, err)
			return "", false
		}
		if prev, dup := seen[lower+"\x00"+field]; dup {
			bad("%s: same header as %s", where, prev)
			return "", false
		}
		seen[lower+"\x00"+field] = where
		return lower, true
	}
	for _, name := range s.Remove {
		if lower, ok := use("remove", name); ok {
			o.remove = append(o.remove, lower)
		}
	}
	for _, name := range sortedKeys(s.Set) {
		if err := checkValue(s.Set[name]); err != nil {
			bad("%s.set[%q]: %v", path, name, err)
			continue
		}
		if lower, ok := use("set", name); ok {
			if where, removed := seen[lower+"\x00remove"]; removed {
				bad("%s.set[%q]: also removed by %s", path, name, where)
				continue
			}
			o.set = append(o.set, sdk.Header{Name: lower, Value: s.Set[name]})
		}
	}
	for _, name := range sortedKeys(s.Add) {
		if err := checkValue(s.Add[name]); err != nil {
			bad("%s.add[%q]: %v", path, name, err)
			continue
		}
		if lower, ok := use("add", name); ok {
			if where, removed := seen[lower+"\x00remove"]; removed {
				bad("%s.add[%q]: also removed by %s", path, name, where)
				continue
			}
			o.add = append(o.add, sdk.Header{Name: lower, Value: s.Add[name]})
		}
	}
	if len(s.Remove)+len(s.Set)+len(s.Add) == 0 {
		bad("%s: no operations: give remove, set and/or add", path)
	}
	slices.Sort(o.remove)
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkName accepts an HTTP field name (RFC 9110 token), lower case, that
// is neither a pseudo-header nor one of the forbidden headers.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	if name[0] == ':' {
		return errors.New("pseudo-headers cannot be changed; use the rewrite filter")
	}
	for i := 0; i < len(name); i++ {
		if !sdk.IsTokenChar(name[i]) {
			return fmt.Errorf("invalid header name: byte %q at %d is not allowed in a field name", name[i], i)
		}
	}
	if why, ok := forbidden[name]; ok {
		return fmt.Errorf("header %s cannot be changed: %s", name, why)
	}
	return nil
}

// checkValue accepts an RFC 9110 field value: no control characters but
// horizontal tab (so no CR, LF or NUL), and no surrounding whitespace.
func checkValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("invalid header value: control byte %q at %d", c, i)
		}
	}
	if v != strings.TrimSpace(v) {
		return errors.New("invalid header value: leading or trailing whitespace")
	}
	return nil
}
