package main

// Files the admin API commands read: a routes file, an upstreams file.
// The declarative file of `wedge apply` is in cli_applyfile.go.

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/client"
)

// fileError is every problem found in a file, each with its field path
// and line.
type fileError struct {
	file     string
	problems []*config.FieldError
}

// Error lists the problems, one per line when there are several.
func (e *fileError) Error() string {
	var b strings.Builder
	b.WriteString(e.file)
	if len(e.problems) == 1 {
		b.WriteString(": ")
		b.WriteString(e.problems[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, ": %d problems:", len(e.problems))
	for _, p := range e.problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// decodeFile decodes a YAML document strictly into v (unknown fields,
// repeated keys and wrong types are problems with their paths and lines).
func decodeFile(file string, data []byte, v any) error {
	err := config.DecodeStrict(data, file, v)
	var ce *config.Error
	if errors.As(err, &ce) {
		return &fileError{file: file, problems: ce.Problems}
	}
	return err
}

// rootKind returns the kind of a YAML document's top node, or 0 when it
// cannot be parsed (decodeFile then says why).
func rootKind(data []byte) (*yaml.Node, yaml.Kind) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, 0
	}
	return doc.Content[0], doc.Content[0].Kind
}

// parseUpstreamFile reads one upstream (a mapping with its name) or a
// list of them.
func parseUpstreamFile(file string, data []byte) ([]client.Upstream, error) {
	var us []config.Upstream
	prefix := ""
	if _, kind := rootKind(data); kind == yaml.SequenceNode {
		if err := decodeFile(file, data, &us); err != nil {
			return nil, err
		}
	} else {
		var u config.Upstream
		if err := decodeFile(file, data, &u); err != nil {
			return nil, err
		}
		us = []config.Upstream{u}
		prefix = "-"
	}
	var problems []*config.FieldError
	seen := map[string]int{}
	out := make([]client.Upstream, 0, len(us))
	for i, u := range us {
		at := fmt.Sprintf("[%d].", i)
		if prefix != "" {
			at = ""
		}
		switch prev, dup := seen[u.Name]; {
		case u.Name == "":
			problems = append(problems, &config.FieldError{Path: at + "name", Msg: "required"})
		case dup:
			problems = append(problems, &config.FieldError{Path: at + "name", Msg: fmt.Sprintf("%q is also upstream [%d]", u.Name, prev)})
		}
		seen[u.Name] = i
		if len(u.Endpoints) == 0 {
			problems = append(problems, &config.FieldError{Path: at + "endpoints", Msg: "at least one host:port is required"})
		}
		out = append(out, client.Upstream{Name: u.Name, Endpoints: u.Endpoints, MaxIdleConns: u.MaxIdleConns})
	}
	if len(us) == 0 {
		problems = append(problems, &config.FieldError{Msg: "no upstream in the file"})
	}
	if len(problems) > 0 {
		return nil, &fileError{file: file, problems: problems}
	}
	return out, nil
}

// routesDocument makes a routes file the document PUT …/routes takes:
// a mapping (routes: [...]) is sent as written; a bare list is put under
// "routes:". For a block list, that adds a line before it: lineAdded is
// that line's number (0 when none was added), for shiftLines.
func routesDocument(data []byte) (doc []byte, lineAdded int, err error) {
	root, kind := rootKind(data)
	if kind != yaml.SequenceNode {
		return data, 0, nil // a mapping, or something the node will refuse with its reasons
	}
	lines := strings.SplitAfter(string(data), "\n")
	if root.Line < 1 || root.Line > len(lines) {
		return nil, 0, errors.New("cannot find where the list of routes starts")
	}
	if root.Style&yaml.FlowStyle != 0 {
		// A flow list ([...], as in JSON): "routes: " in front of it, on
		// its own line, so no line moves.
		l := lines[root.Line-1]
		col := min(max(root.Column-1, 0), len(l))
		lines[root.Line-1] = l[:col] + "routes: " + l[col:]
	} else {
		lines = append(lines[:root.Line-1], append([]string{"routes:\n"}, lines[root.Line-1:]...)...)
		lineAdded = root.Line
	}
	wrapped := []byte(strings.Join(lines, ""))

	// Make sure the wrapping kept the list as it was; if not (anchors,
	// tags, odd layouts), send the list as JSON, without its lines.
	var list any
	var m map[string]any
	if yaml.Unmarshal(data, &list) != nil {
		return data, 0, nil
	}
	if yaml.Unmarshal(wrapped, &m) == nil && len(m) == 1 && reflect.DeepEqual(m["routes"], list) {
		return wrapped, lineAdded, nil
	}
	j, err := json.Marshal(map[string]any{"routes": jsonValue(list)})
	if err != nil {
		return nil, 0, fmt.Errorf("the routes cannot be sent as JSON: %w", err)
	}
	return j, 0, nil
}

// lineRef finds a line number in a problem ("(line 12)").
var lineRef = regexp.MustCompile(`\bline (\d+)\b`)

// shiftLines corrects the line numbers in an API error about a routes
// document to which routesDocument added line added.
func shiftLines(ae *client.APIError, added int) {
	fix := func(s string) string {
		return lineRef.ReplaceAllStringFunc(s, func(m string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
			if n > added {
				n--
			}
			return "line " + strconv.Itoa(n)
		})
	}
	ae.Message = fix(ae.Message)
	for i, p := range ae.Problems {
		ae.Problems[i] = fix(p)
	}
}

// jsonValue turns what yaml.v3 decodes into `any` into what encoding/json
// can write: mappings with non-string keys get their keys as strings.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonValue(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonValue(e)
		}
		return v
	}
	return v
}
