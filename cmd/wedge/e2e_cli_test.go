package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The admin API commands run as the real binary against a real node on
// the embedded store, as an operator and a tenant would use them.

const cliOperator = "cli-operator-token"

// cliNode is a node with an admin listener and the operator token
// cliOperator, on an embedded store of its own.
type cliNode struct {
	*wedgeNode
	admin string // http://host:port
}

// startCLINode starts a node for the CLI tests. Its data directory is
// the shared one (compiled filters are cached there) and its store file
// the test's own.
func startCLINode(t *testing.T) *cliNode {
	t.Helper()
	sum := sha256.Sum256([]byte(cliOperator))
	cfg := fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
admin: 127.0.0.1:0
admin_token_sha256: %s
data_dir: %s
store: {path: %s}
`, hex.EncodeToString(sum[:]), sharedDataDir, filepath.Join(t.TempDir(), "store.db"))
	n := startWedge(t, cfg, "http")
	l := n.waitMsg(0, "admin listening")
	return &cliNode{wedgeNode: n, admin: "http://" + l.str("addr")}
}

// cliResult is what one run of the binary did.
type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// wedgeCLI runs the binary with args, with the connection settings of env
// (WEDGE_ADMIN, WEDGE_TOKEN, WEDGE_TENANT) and no others from the
// test's environment.
func wedgeCLI(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(wedgeBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cliResult{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// ok runs a command that must succeed and returns its stdout.
func (n *cliNode) ok(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	r := wedgeCLI(t, env, args...)
	if r.code != 0 {
		t.Fatalf("wedge %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs a command that must fail with exit 1 and returns its stderr,
// which must match every pattern.
func (n *cliNode) fails(t *testing.T, env map[string]string, patterns []string, args ...string) string {
	t.Helper()
	r := wedgeCLI(t, env, args...)
	if r.code != 1 {
		t.Fatalf("wedge %s: want exit 1; %s", strings.Join(args, " "), r)
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(r.stderr) {
			t.Errorf("wedge %s: stderr does not match %s:\n%s", strings.Join(args, " "), p, r.stderr)
		}
	}
	return r.stderr
}

// served polls the node's HTTP listener for host/path until ok holds,
// and fails the test at the hang guard.
func (n *cliNode) served(t *testing.T, host, path string, what string, ok func(*http.Response) bool) *http.Response {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		req, _ := http.NewRequest("GET", "http://"+n.addr("http")+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if ok(resp) {
				return resp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%s: never %s (last: %v %v)", host, path, what, resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeCLIFile writes a test file under dir and returns its path.
func writeCLIFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// binPath is a built module under the repository's bin/.
func binPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "bin", rel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v (make wat filters builds it)", err)
	}
	return p
}

// TestE2ECLIWalkthrough: the operator makes a tenant, gives it a domain
// and a token; with that token the tenant pushes a filter, applies an
// upstream and routes, and the node serves them with the filter acting;
// a new version and a rollback show on the wire and in filter list.
// Failures exit 1 with the node's message and field paths.
func TestE2ECLIWalkthrough(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startCLINode(t)
	dir := t.TempDir()
	op := map[string]string{"WEDGE_ADMIN": n.admin, "WEDGE_TOKEN": cliOperator}

	// The operator.
	if out := n.ok(t, op, "tenant", "create", "acme", "--request-rate", "10000"); !strings.Contains(out, "tenant acme: created") {
		t.Errorf("tenant create: %q", out)
	}
	if out := n.ok(t, op, "domain", "add", "app.test", "--tenant", "acme"); out != "domain app.test: added to tenant acme\n" {
		t.Errorf("domain add: %q", out)
	}
	if out := n.ok(t, op, "domain", "add", "app.test", "--tenant", "acme"); !strings.Contains(out, "already tenant acme's") {
		t.Errorf("domain add again: %q", out)
	}
	r := wedgeCLI(t, op, "token", "create", "--tenant", "acme", "--description", "ci")
	token := strings.TrimSpace(r.stdout)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || token == "" || !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("token create: %s", r)
	}
	var tokens []struct {
		ID          string `json:"id"`
		Token       string `json:"token"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal([]byte(n.ok(t, op, "token", "list", "--tenant", "acme", "-o", "json")), &tokens); err != nil ||
		len(tokens) != 1 || tokens[0].Description != "ci" || tokens[0].Token != "" {
		t.Fatalf("token list: %+v %v", tokens, err)
	}

	// The tenant, with its own token: the connection comes from the
	// environment, as in a CI job.
	ten := map[string]string{"WEDGE_ADMIN": n.admin, "WEDGE_TOKEN": token, "WEDGE_TENANT": "acme"}
	if out := n.ok(t, ten, "filter", "push", "stamp", binPath(t, "wat/add_header.wasm")); !strings.Contains(out, "filter stamp: version 1 uploaded") {
		t.Errorf("filter push: %q", out)
	}
	if out := n.ok(t, ten, "upstream", "apply", "origin", "--endpoint", origin); !strings.Contains(out, "upstream origin: created (1 endpoint") {
		t.Errorf("upstream apply: %q", out)
	}
	routes := writeCLIFile(t, dir, "routes.yaml", `# acme's routes: a bare list
- name: all
  match: {path_prefix: /}
  upstream: origin
  filters:
    - name: stamp
      module: stamp
      config: {response: {set: {x-stamp: v2}}}
`)
	if out := n.ok(t, ten, "routes", "apply", "-f", routes); !strings.Contains(out, "routes of tenant acme: 1 route applied") {
		t.Errorf("routes apply: %q", out)
	}
	n.served(t, "app.test", "/x", "through add_header.wasm", func(r *http.Response) bool {
		return r.StatusCode == 200 && r.Header.Get("X-Wat-Response") == "1"
	})
	var table struct {
		Routes []struct {
			Name     string `json:"name"`
			Upstream string `json:"upstream"`
			Filters  []struct {
				Name, Module string
			} `json:"filters"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(n.ok(t, ten, "routes", "get", "-o", "json")), &table); err != nil ||
		len(table.Routes) != 1 || table.Routes[0].Upstream != "origin" || len(table.Routes[0].Filters) != 1 || table.Routes[0].Filters[0].Module != "stamp" {
		t.Fatalf("routes get: %+v %v", table, err)
	}
	if out := n.ok(t, ten, "routes", "get"); !regexp.MustCompile(`(?m)^0\s+all\s+path_prefix=/\s+upstream origin\s+stamp$`).MatchString(out) {
		t.Errorf("routes get:\n%s", out)
	}

	// A new version of the filter: the headers filter, configured by the
	// route; the same bytes again change nothing.
	headers := binPath(t, "filters/headers.wasm")
	if out := n.ok(t, ten, "filter", "push", "stamp", headers); !strings.Contains(out, "filter stamp: version 2 uploaded") {
		t.Errorf("filter push v2: %q", out)
	}
	if out := n.ok(t, ten, "filter", "push", "stamp", headers); !strings.Contains(out, "filter stamp: unchanged, version 2") {
		t.Errorf("filter push v2 again: %q", out)
	}
	n.served(t, "app.test", "/x", "through headers.wasm", func(r *http.Response) bool {
		return r.Header.Get("X-Stamp") == "v2" && r.Header.Get("X-Wat-Response") == ""
	})
	if out := n.ok(t, ten, "filter", "list"); !regexp.MustCompile(`(?m)^stamp\s+2\s+\S+\s+\d+\s+2\s+\S+$`).MatchString(out) {
		t.Errorf("filter list after v2 (want current version 2 of 2):\n%s", out)
	}
	if out := n.ok(t, ten, "filter", "rollback", "stamp"); !strings.Contains(out, "filter stamp: version 1 is current") {
		t.Errorf("filter rollback: %q", out)
	}
	n.served(t, "app.test", "/x", "back on add_header.wasm", func(r *http.Response) bool {
		return r.Header.Get("X-Wat-Response") == "1" && r.Header.Get("X-Stamp") == ""
	})
	var filters []struct {
		Name     string `json:"name"`
		Version  int    `json:"version"`
		Versions []struct {
			Version int `json:"version"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(n.ok(t, ten, "filter", "list", "-o", "json")), &filters); err != nil ||
		len(filters) != 1 || filters[0].Version != 1 || len(filters[0].Versions) != 2 {
		t.Fatalf("filter list after the rollback: %+v %v", filters, err)
	}

	// Routes files the node refuses: every problem with its field path
	// and the line in the file (the bare list moved by none).
	bad := writeCLIFile(t, dir, "bad.yaml", `- match: {path_prefix: /}
  upstream: origin
  colour: blue
  timeouts: {connect: soon}
`)
	n.fails(t, ten, []string{
		`^wedge routes apply: 400 Bad Request: `,
		`(?m)^  routes\[0\]\.colour: unknown field "colour" \(line 3\)$`,
		`(?m)^  routes\[0\]\.timeouts\.connect: "soon" is not a duration.* \(line 4\)$`,
	}, "routes", "apply", "-f", bad)
	missing := writeCLIFile(t, dir, "missing.yaml", "routes:\n  - upstream: nowhere\n")
	n.fails(t, ten, []string{`(?m)^  routes\[0\]\.upstream: pool "nowhere" is not defined`}, "routes", "apply", "-f", missing)
	n.fails(t, ten, []string{`filter "stamp" .*used|used.*"stamp"|in use`}, "filter", "delete", "stamp")
	n.fails(t, ten, []string{`origin`}, "upstream", "delete", "origin")
	n.served(t, "app.test", "/x", "still as before the refused changes", func(r *http.Response) bool {
		return r.StatusCode == 200 && r.Header.Get("X-Wat-Response") == "1"
	})

	// Tokens: a wrong one is a 401; a tenant token is refused another
	// tenant's objects and the operator's commands.
	n.fails(t, map[string]string{"WEDGE_ADMIN": n.admin}, []string{
		`^wedge filter list: 401 Unauthorized: control: invalid token\n`,
		`check --token or WEDGE_TOKEN`,
	}, "filter", "list", "--tenant", "acme", "--token", "not-a-token")
	n.ok(t, op, "tenant", "create", "other")
	n.fails(t, ten, []string{`^wedge filter list: 403 Forbidden: control: this token may not act on tenant "other"`}, "filter", "list", "--tenant", "other")
	n.fails(t, ten, []string{`403 Forbidden`}, "upstream", "apply", "stolen", "--endpoint", origin, "--tenant", "other")
	n.fails(t, ten, []string{`403 Forbidden`}, "filter", "push", "stamp", headers, "--tenant", "other")
	n.fails(t, ten, []string{`403 Forbidden: control: this needs the operator's token`}, "tenant", "list")
	n.fails(t, ten, []string{`403 Forbidden`}, "domain", "add", "stolen.test")
	if out := n.ok(t, op, "upstream", "list", "--tenant", "other", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("other's pools after the refused writes: %s", out)
	}

	// The rest of the operator's and the tenant's commands.
	if out := n.ok(t, op, "tenant", "list"); !regexp.MustCompile(`(?m)^acme\s+app\.test\s+request_rate=10000\s+\d+$`).MatchString(out) {
		t.Errorf("tenant list:\n%s", out)
	}
	if out := n.ok(t, ten, "purge", "--host", "app.test"); !strings.Contains(out, "of tenant acme on this node") {
		t.Errorf("purge: %q", out)
	}
	if out := n.ok(t, ten, "status"); !regexp.MustCompile(`(?m)^ready:\s+true$`).MatchString(out) {
		t.Errorf("status:\n%s", out)
	}
	n.ok(t, op, "domain", "add", "extra.test", "--tenant", "acme")
	n.ok(t, op, "domain", "remove", "extra.test", "--tenant", "acme")
	if out := n.ok(t, op, "domain", "list", "--tenant", "acme"); strings.Contains(out, "extra.test") || !strings.Contains(out, "app.test") {
		t.Errorf("domain list:\n%s", out)
	}
	if out := n.ok(t, op, "tenant", "delete", "other", "-o", "json"); !strings.Contains(out, `"deleted": true`) {
		t.Errorf("tenant delete -o json: %q", out)
	}
	n.ok(t, op, "token", "revoke", tokens[0].ID, "--tenant", "acme")
	n.fails(t, ten, []string{`401 Unauthorized`}, "filter", "list")
}

// TestE2ECLIApply: `wedge apply -f` of a declarative file makes a tenant
// that serves as the walk-through's does; a second run changes nothing
// (no filter pushed again, no write); a file the node refuses exits 1
// naming the file's field paths and lines.
func TestE2ECLIApply(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startCLINode(t)
	op := map[string]string{"WEDGE_ADMIN": n.admin, "WEDGE_TOKEN": cliOperator}
	dir := t.TempDir()
	module, err := os.ReadFile(binPath(t, "wat/add_header.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	writeCLIFile(t, dir, "filters/stamp.wasm", string(module))
	site := fmt.Sprintf(`tenants:
  - name: acme
    limits: {request_rate: 10000, filter_call_deadline: 500ms}
    domains: [app.test]
    filters:
      - name: stamp
        module: filters/stamp.wasm   # relative to this file
    upstreams:
      - name: origin
        endpoints: [%q]
    routes:
      - name: all
        match: {path_prefix: /}
        upstream: origin
        timeouts: {connect: 2s}
        filters:
          - name: stamp
            module: stamp
            config: {response: {set: {x-stamp: v2}}}
`, origin)
	file := writeCLIFile(t, dir, "site.yaml", site)

	out := n.ok(t, op, "apply", "-f", file, "--wait", "30s")
	for _, want := range []string{
		"tenant acme: created (request_rate=10000 filter_call_deadline=500ms)",
		"  domain app.test: added",
		"  filter stamp: uploaded (version 1",
		"  upstreams and routes: applied (1 upstream, 1 route)",
		"node ", ": serving (revision ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first apply: no %q in\n%s", want, out)
		}
	}
	n.served(t, "app.test", "/x", "through the filter", func(r *http.Response) bool {
		return r.StatusCode == 200 && r.Header.Get("X-Wat-Response") == "1"
	})
	status := func() int64 {
		var s struct {
			Revision int64 `json:"revision"`
		}
		if err := json.Unmarshal([]byte(n.ok(t, op, "status", "-o", "json")), &struct {
			Status any `json:"status"`
		}{&s}); err != nil {
			t.Fatal(err)
		}
		return s.Revision
	}
	before := status()

	// Again: nothing to do.
	var second struct {
		Actions []struct {
			Object, Name, Action string
		} `json:"actions"`
		Complete bool `json:"complete"`
	}
	if err := json.Unmarshal([]byte(n.ok(t, op, "apply", "-f", file, "-o", "json")), &second); err != nil || !second.Complete {
		t.Fatalf("second apply: %+v %v", second, err)
	}
	if len(second.Actions) == 0 {
		t.Fatal("second apply reported nothing")
	}
	for _, a := range second.Actions {
		if a.Action != "unchanged" {
			t.Errorf("second apply: %s %s %s, want unchanged", a.Object, a.Name, a.Action)
		}
	}
	if after := status(); after != before {
		t.Errorf("the second apply wrote: revision %d, then %d", before, after)
	}
	var filters []struct {
		Version  int `json:"version"`
		Versions []struct {
			Version int `json:"version"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(n.ok(t, op, "filter", "list", "--tenant", "acme", "-o", "json")), &filters); err != nil ||
		len(filters) != 1 || filters[0].Version != 1 || len(filters[0].Versions) != 1 {
		t.Errorf("filter list after two applies: %+v %v", filters, err)
	}

	// A changed module is pushed; nothing else is written.
	module, err = os.ReadFile(binPath(t, "filters/headers.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	writeCLIFile(t, dir, "filters/stamp.wasm", string(module))
	out = n.ok(t, op, "apply", "-f", file)
	if !strings.Contains(out, "filter stamp: uploaded (version 2") || !strings.Contains(out, "upstreams and routes: unchanged") {
		t.Errorf("apply with a new module:\n%s", out)
	}
	n.served(t, "app.test", "/x", "through the new module", func(r *http.Response) bool {
		return r.Header.Get("X-Stamp") == "v2"
	})

	// Refused: by the file check, before anything is sent, and by the
	// node, with the file's paths and lines.
	unknown := writeCLIFile(t, dir, "unknown.yaml", strings.Replace(site, "    domains:", "    domain:", 1))
	n.fails(t, op, []string{`unknown\.yaml: tenants\[0\]\.domain: unknown field "domain" \(line 4\)`}, "apply", "-f", unknown)
	refused := writeCLIFile(t, dir, "refused.yaml", strings.Replace(site, "        upstream: origin", "        upstream: nowhere", 1))
	n.fails(t, op, []string{
		`^wedge apply: tenant acme: upstreams and routes: 400 Bad Request: `,
		`(?m)^  tenants\[0\]\.routes\[0\]\.upstream: pool "nowhere" is not defined \(.*refused\.yaml line 14\)$`,
	}, "apply", "-f", refused)
	n.fails(t, map[string]string{"WEDGE_ADMIN": n.admin}, []string{`401 Unauthorized`}, "apply", "-f", file, "--token", "wrong")
	n.served(t, "app.test", "/x", "as before the refused files", func(r *http.Response) bool {
		return r.Header.Get("X-Stamp") == "v2"
	})
}

// TestE2ECLIGitopsExample applies examples/gitops/tenants.yaml, the
// README's declarative file, with its origin and module moved to the
// test's, and checks that the node serves what the README says.
func TestE2ECLIGitopsExample(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startCLINode(t)
	op := map[string]string{"WEDGE_ADMIN": n.admin, "WEDGE_TOKEN": cliOperator}
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "gitops", "tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(example)
	for _, r := range []struct{ old, new string }{
		{"127.0.0.1:9000", origin},
		{"../../bin/filters/headers.wasm", binPath(t, "filters/headers.wasm")},
	} {
		if strings.Count(cfg, r.old) != 1 {
			t.Fatalf("examples/gitops/tenants.yaml no longer has %q once", r.old)
		}
		cfg = strings.Replace(cfg, r.old, r.new, 1)
	}
	file := writeCLIFile(t, t.TempDir(), "tenants.yaml", cfg)
	n.ok(t, op, "apply", "-f", file, "--wait", "30s")
	n.served(t, "shop.localhost", "/anything", "with x-shop: hello", func(r *http.Response) bool {
		return r.StatusCode == 200 && r.Header.Get("X-Shop") == "hello"
	})
	req, _ := http.NewRequest("GET", "http://"+n.addr("http")+"/hello", nil)
	req.Host = "shop.localhost"
	resp, body := do(t, newClient(t, protoH1, n.addr("http")), req)
	if resp.StatusCode != 200 || body != "hello from shop\n" {
		t.Errorf("/hello: %d %q", resp.StatusCode, body)
	}
	if out := n.ok(t, op, "apply", "-f", file); strings.Contains(out, "uploaded") || strings.Contains(out, "applied") {
		t.Errorf("the example applied again wrote:\n%s", out)
	}
}
