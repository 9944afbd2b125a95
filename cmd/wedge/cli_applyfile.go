package main

// The declarative file of `wedge apply`: parsed strictly, checked, and
// turned into what the admin API takes, before anything is written.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/client"
)

// applyHelp is the help of `wedge apply`: the file's format and what
// applying it does.
const applyHelp = `The file lists tenants, each with everything it should have:

  tenants:
    - name: acme
      limits: {request_rate: 100}        # unset limits: none
      domains: [acme.example]
      filters:
        - name: stamp
          module: ./bin/filters/headers.wasm   # relative to the file
      upstreams:
        - name: web
          endpoints: ["127.0.0.1:8080"]
      routes:
        - match: {path_prefix: /}
          upstream: web
          filters:
            - name: stamp
              module: stamp                    # an uploaded filter's name
              config: {response: {set: {X-Hello: world}}}

The file is checked first (unknown fields are errors); nothing is written
unless it is sound. Then, for each tenant in turn: its limits are set; the
domains listed are added, and after the routes are replaced, domains not
listed are removed; each filter is uploaded unless the node's current
version has the same SHA-256; the upstreams and routes replace the
tenant's in one atomic write (pools not listed are deleted). Filters on
the node that the file does not list are left alone, and so are tenants
on the node that the file does not list: remove those with wedge filter
delete and wedge tenant delete.

Tenants are applied in the file's order, each on its own: a failure
leaves the tenants before it applied. To move a domain from one tenant to
another, list the tenant that gives it up first (a domain has one owner).

Needs the operator's token. With --wait, waits until the node serves every
write (GET /v1/status), or fails after the duration.`

// applyFile is the declarative file's schema: a list of tenants.
type applyFile struct {
	Tenants []applyTenant `yaml:"tenants"`
}

// applyTenant is one tenant of the declarative file, with everything it
// should have.
type applyTenant struct {
	Name      string            `yaml:"name"`
	Limits    applyLimits       `yaml:"limits"`
	Domains   []string          `yaml:"domains"`
	Filters   []applyFilter     `yaml:"filters"`
	Upstreams []config.Upstream `yaml:"upstreams"`
	// Routes are the node file's routes, whose filters' modules name
	// uploaded filters.
	Routes []config.Route `yaml:"routes"`
}

// applyLimits are a tenant's limits as the file writes them (durations
// as "100ms"); unset ones mean no limit.
type applyLimits struct {
	FilterMaxMemoryBytes   int64           `yaml:"filter_max_memory_bytes"`
	FilterCallDeadline     config.Duration `yaml:"filter_call_deadline"`
	FilterTotalMemoryBytes int64           `yaml:"filter_total_memory_bytes"`
	CacheMaxBytes          int64           `yaml:"cache_max_bytes"`
	RequestRate            float64         `yaml:"request_rate"`
	RequestBurst           int             `yaml:"request_burst"`
}

// applyFilter is a filter to upload: a name and a .wasm file.
type applyFilter struct {
	Name string `yaml:"name"`
	// Module is the .wasm file, relative to the declarative file.
	Module string `yaml:"module"`
}

// applyPlan is a checked declarative file.
type applyPlan struct {
	file    string
	root    *yaml.Node // the file's YAML, to find the line of a problem
	tenants []tenantPlan
}

// tenantPlan is what one tenant should be.
type tenantPlan struct {
	index   int // in the file's tenants
	name    string
	limits  client.Limits
	domains []string
	filters []filterPlan
	config  client.TenantConfig
}

// filterPlan is one filter to upload: its module, read and hashed.
type filterPlan struct {
	name   string
	path   string // as resolved
	module []byte
	sha256 string
}

// parseApplyFile parses and checks a declarative file. Module paths are
// relative to dir. Every problem is reported, each with its field path
// and line.
func parseApplyFile(file string, data []byte, dir string) (*applyPlan, error) {
	var f applyFile
	if err := decodeFile(file, data, &f); err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err) // decodeFile parsed it: not expected
	}
	var problems []*config.FieldError
	fail := func(line int, path, format string, args ...any) {
		problems = append(problems, &config.FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if len(f.Tenants) == 0 {
		fail(0, "tenants", "no tenant in the file")
	}
	// unique checks the name of element i of a list: given, and not an
	// earlier element's too. n is the element's node; what is "tenant",
	// "filter" or "upstream", the list's name without its s.
	unique := func(seen map[string]int, what string, i int, name, at string, n *yaml.Node) {
		switch prev, dup := seen[name]; {
		case name == "":
			fail(lineOf(n), at+".name", "required")
		case dup:
			fail(lineOf(nodeAt(n, "name")), at+".name", "%s %q is also %ss[%d]", what, name, what, prev)
		default:
			seen[name] = i
		}
	}
	plan := &applyPlan{file: file, root: &root}
	tenants := map[string]int{}
	// domains: each domain of the file, as the node compares them, and
	// where it was first listed; a domain has one owner.
	domains := map[string]string{}
	for i, t := range f.Tenants {
		at := fmt.Sprintf("tenants[%d]", i)
		tn := nodeAt(&root, "tenants", i)
		unique(tenants, "tenant", i, t.Name, at, tn)
		tp := tenantPlan{
			index: i,
			name:  t.Name,
			limits: client.Limits{
				FilterMaxMemoryBytes:   t.Limits.FilterMaxMemoryBytes,
				FilterCallDeadline:     client.Duration(t.Limits.FilterCallDeadline),
				FilterTotalMemoryBytes: t.Limits.FilterTotalMemoryBytes,
				CacheMaxBytes:          t.Limits.CacheMaxBytes,
				RequestRate:            t.Limits.RequestRate,
				RequestBurst:           t.Limits.RequestBurst,
			},
			domains: t.Domains,
			config:  client.TenantConfig{Upstreams: []client.Upstream{}, Routes: []client.Route{}},
		}

		for j, d := range t.Domains {
			dat := fmt.Sprintf("%s.domains[%d]", at, j)
			key := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
			if prev, dup := domains[key]; dup {
				fail(lineOf(nodeAt(tn, "domains", j)), dat, "domain %q is also %s (a domain belongs to one tenant)", d, prev)
				continue
			}
			domains[key] = dat
		}

		filters := map[string]int{}
		for j, fl := range t.Filters {
			fat := fmt.Sprintf("%s.filters[%d]", at, j)
			fn := nodeAt(tn, "filters", j)
			unique(filters, "filter", j, fl.Name, fat, fn)
			if fl.Module == "" {
				fail(lineOf(fn), fat+".module", "required: the .wasm file, relative to %s", file)
				continue
			}
			path := fl.Module
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			module, err := os.ReadFile(path)
			if err != nil {
				fail(lineOf(nodeAt(fn, "module")), fat+".module", "%v", err)
				continue
			}
			sum := sha256.Sum256(module)
			tp.filters = append(tp.filters, filterPlan{name: fl.Name, path: path, module: module, sha256: hex.EncodeToString(sum[:])})
		}

		pools := map[string]int{}
		for j, u := range t.Upstreams {
			uat := fmt.Sprintf("%s.upstreams[%d]", at, j)
			un := nodeAt(tn, "upstreams", j)
			unique(pools, "upstream", j, u.Name, uat, un)
			tp.config.Upstreams = append(tp.config.Upstreams, client.Upstream{Name: u.Name, Endpoints: u.Endpoints, MaxIdleConns: u.MaxIdleConns})
		}

		// The routes go to the node as written (the node checks them
		// against the tenant's domains, pools and filters): read again
		// from the YAML, through the client's types.
		if rn := nodeAt(tn, "routes"); rn != nil && len(t.Routes) > 0 {
			routes, err := routesOf(rn)
			if err != nil {
				fail(lineOf(rn), at+".routes", "%v", err)
			}
			tp.config.Routes = routes
		}
		plan.tenants = append(plan.tenants, tp)
	}
	if len(problems) > 0 {
		return nil, &fileError{file: file, problems: problems}
	}
	return plan, nil
}

// routesOf converts a YAML list of routes, already decoded strictly as
// the node file's routes, to the client's routes.
func routesOf(n *yaml.Node) ([]client.Route, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	j, err := json.Marshal(jsonValue(v))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields() // a field this wedge's client does not know: refuse, never drop
	var routes []client.Route
	if err := dec.Decode(&routes); err != nil {
		return nil, fmt.Errorf("cannot send the routes: %w", err)
	}
	return routes, nil
}

// nodeAt follows mapping keys (string) and list indexes (int) from n,
// through aliases; nil when there is no such node.
func nodeAt(n *yaml.Node, path ...any) *yaml.Node {
	for _, step := range path {
		for n != nil && (n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode) {
			if n.Kind == yaml.DocumentNode {
				if len(n.Content) != 1 {
					return nil
				}
				n = n.Content[0]
			} else {
				n = n.Alias
			}
		}
		if n == nil {
			return nil
		}
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return nil
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					next = n.Content[i+1]
					break
				}
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return nil
			}
			n = n.Content[s]
		default:
			panic("nodeAt: step " + strconv.Quote(fmt.Sprint(step)))
		}
	}
	return n
}

// problemPath splits a problem's field path ("routes[2].match.path:
// …") into nodeAt's steps; ok is false when the problem has no path.
func problemPath(problem string) (steps []any, ok bool) {
	path, _, found := strings.Cut(problem, ": ")
	if !found || path == "" || strings.ContainsAny(path, " \"") {
		return nil, false
	}
	for part := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			steps = append(steps, name)
		}
		for rest != "" {
			idx, after, found := strings.Cut(rest, "]")
			n, err := strconv.Atoi(idx)
			if !found || err != nil || n < 0 {
				return nil, false
			}
			steps = append(steps, n)
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return steps, len(steps) > 0
}

// relocate rewrites the problems the node found in a tenant's upstreams
// and routes ("routes[0].upstream: …") as paths in the declarative file
// ("tenants[1].routes[0].upstream: …"), with the file's line when the
// path leads to one.
func (p *applyPlan) relocate(tp tenantPlan, ae *client.APIError) {
	tn := nodeAt(p.root, "tenants", tp.index)
	for i, problem := range ae.Problems {
		steps, ok := problemPath(problem)
		if !ok {
			continue
		}
		fixed := fmt.Sprintf("tenants[%d].%s", tp.index, problem)
		if n := nodeAt(tn, steps...); n != nil && !strings.HasSuffix(problem, ")") {
			fixed += fmt.Sprintf(" (%s line %d)", p.file, n.Line)
		}
		ae.Problems[i] = fixed
	}
}

// lineOf is n's line, or 0 for no node.
func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}
