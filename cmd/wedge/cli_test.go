package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/client"
)

// env is a fake environment for parseCLI.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestParseCLI: the command line of every admin command, good and bad.
// A bad one is a usage error that names the problem; nothing is sent.
func TestParseCLI(t *testing.T) {
	type want struct {
		path    string // the command found
		args    []string
		g       globals
		check   func(t *testing.T, inv *invocation)
		usage   string // a usage error containing this
		help    bool   // a request for help
		helpCmd string // … of this command ("" for a group or all)
	}
	defaults := globals{admin: defaultAdmin, output: "text"}
	withTenant := func(t string) globals { g := defaults; g.tenant = t; return g }
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want want
	}{
		{"tenant create", []string{"tenant", "create", "acme"}, env(),
			want{path: "tenant create", args: []string{"acme"}, g: defaults}},
		{"tenant create with limits", []string{"tenant", "create", "acme", "--request-rate", "100", "--filter-call-deadline", "50ms", "--cache-max-bytes=1024"}, env(),
			want{path: "tenant create", args: []string{"acme"}, g: defaults, check: func(t *testing.T, inv *invocation) {
				want := client.Limits{RequestRate: 100, CacheMaxBytes: 1024, FilterCallDeadline: client.Duration(50 * time.Millisecond)}
				if inv.a.limits != want {
					t.Errorf("limits %+v, want %+v", inv.a.limits, want)
				}
			}}},
		{"flags before the positional argument", []string{"tenant", "create", "--request-rate", "5", "acme"}, env(),
			want{path: "tenant create", args: []string{"acme"}, g: defaults}},
		{"connection from the environment", []string{"tenant", "list"}, env("WEDGE_ADMIN", "http://node:1", "WEDGE_TOKEN", "tok", "WEDGE_TENANT", "acme"),
			want{path: "tenant list", g: globals{admin: "http://node:1", token: "tok", tenant: "acme", output: "text"}}},
		{"flags before the command beat the environment", []string{"--admin", "http://a:1", "-o", "json", "tenant", "list"}, env("WEDGE_ADMIN", "http://node:1"),
			want{path: "tenant list", g: globals{admin: "http://a:1", output: "json"}}},
		{"the command's flags beat those before it", []string{"--tenant", "a", "filter", "list", "--tenant", "b"}, env("WEDGE_TENANT", "c"),
			want{path: "filter list", g: withTenant("b")}},
		{"tenant from the environment", []string{"domain", "add", "app.test"}, env("WEDGE_TENANT", "acme"),
			want{path: "domain add", args: []string{"app.test"}, g: withTenant("acme")}},
		{"filter push", []string{"filter", "push", "stamp", "f.wasm", "--tenant", "acme"}, env(),
			want{path: "filter push", args: []string{"stamp", "f.wasm"}, g: withTenant("acme")}},
		{"after -- everything is positional", []string{"filter", "push", "--tenant", "acme", "--", "stamp", "-f.wasm"}, env(),
			want{path: "filter push", args: []string{"stamp", "-f.wasm"}, g: withTenant("acme")}},
		{"filter rollback to a version", []string{"filter", "rollback", "stamp", "--version", "2", "--tenant", "acme"}, env(),
			want{path: "filter rollback", args: []string{"stamp"}, g: withTenant("acme"), check: func(t *testing.T, inv *invocation) {
				if inv.a.version != 2 {
					t.Errorf("version %d, want 2", inv.a.version)
				}
			}}},
		{"upstream apply with endpoints", []string{"upstream", "apply", "web", "--endpoint", "127.0.0.1:1", "--endpoint", "127.0.0.1:2", "--tenant", "acme"}, env(),
			want{path: "upstream apply", args: []string{"web"}, g: withTenant("acme"), check: func(t *testing.T, inv *invocation) {
				if want := []string{"127.0.0.1:1", "127.0.0.1:2"}; !reflect.DeepEqual(inv.a.endpoints, want) {
					t.Errorf("endpoints %q, want %q", inv.a.endpoints, want)
				}
			}}},
		{"upstream apply from a file", []string{"upstream", "apply", "-f", "u.yaml", "--tenant", "acme"}, env(),
			want{path: "upstream apply", g: withTenant("acme")}},
		{"routes apply", []string{"routes", "apply", "-f", "routes.yaml", "--tenant", "acme"}, env(),
			want{path: "routes apply", g: withTenant("acme"), check: func(t *testing.T, inv *invocation) {
				if inv.a.file != "routes.yaml" {
					t.Errorf("file %q", inv.a.file)
				}
			}}},
		{"purge a host", []string{"purge", "--host", "app.test", "--tenant", "acme"}, env(),
			want{path: "purge", g: withTenant("acme")}},
		{"status", []string{"status"}, env(), want{path: "status", g: defaults}},
		{"apply", []string{"apply", "-f", "x.yaml", "--wait", "5s"}, env(),
			want{path: "apply", g: defaults}},

		// Usage errors.
		{"no command", []string{"--admin", "http://a:1"}, env(), want{usage: "no command"}},
		{"unknown command", []string{"tenants", "list"}, env(), want{usage: `unknown command "tenants"`}},
		{"group without its command", []string{"tenant"}, env(), want{usage: "which tenant command?"}},
		{"unknown command of a group", []string{"tenant", "frob"}, env(), want{usage: `unknown command "tenant frob"`}},
		{"missing argument", []string{"tenant", "create"}, env(), want{usage: "missing NAME"}},
		{"missing second argument", []string{"filter", "push", "stamp", "--tenant", "acme"}, env(), want{usage: "missing FILE.wasm"}},
		{"extra argument", []string{"tenant", "delete", "a", "b"}, env(), want{usage: `unexpected argument "b"`}},
		{"empty argument", []string{"tenant", "delete", ""}, env(), want{usage: "an argument is empty"}},
		{"no tenant", []string{"filter", "list"}, env(), want{usage: "which tenant?"}},
		{"unknown flag", []string{"tenant", "list", "--frob"}, env(), want{usage: "flag provided but not defined: -frob"}},
		{"flag without its value", []string{"filter", "list", "--tenant"}, env(), want{usage: "flag needs an argument: -tenant"}},
		{"bad flag value", []string{"tenant", "create", "a", "--request-rate", "fast"}, env(), want{usage: `invalid value "fast" for flag -request-rate`}},
		{"bad output", []string{"status", "-o", "yaml"}, env(), want{usage: `-o "yaml": want text or json`}},
		{"routes apply without a file", []string{"routes", "apply", "--tenant", "a"}, env(), want{usage: "give the routes file with -f FILE"}},
		{"apply without a file", []string{"apply"}, env(), want{usage: "give the file with -f FILE"}},
		{"apply with a negative wait", []string{"apply", "-f", "x", "--wait", "-1s"}, env(), want{usage: "--wait: the duration is negative"}},
		{"purge with nothing", []string{"purge", "--tenant", "a"}, env(), want{usage: "give exactly one of --url, --host and --tag"}},
		{"purge with two", []string{"purge", "--tenant", "a", "--url", "http://x/", "--tag", "t"}, env(), want{usage: "give exactly one of --url, --host and --tag"}},
		{"rollback to a negative version", []string{"filter", "rollback", "s", "--version", "-1", "--tenant", "a"}, env(), want{usage: "--version: a version is at least 1"}},
		{"upstream apply with neither", []string{"upstream", "apply", "--tenant", "a"}, env(), want{usage: "give NAME --endpoint HOST:PORT, or -f FILE"}},
		{"upstream apply without endpoints", []string{"upstream", "apply", "web", "--tenant", "a"}, env(), want{usage: "give at least one --endpoint"}},
		{"upstream apply with both", []string{"upstream", "apply", "web", "-f", "u.yaml", "--tenant", "a"}, env(), want{usage: "not both"}},
		{"upstream apply, file and endpoints", []string{"upstream", "apply", "-f", "u.yaml", "--endpoint", "h:1", "--tenant", "a"}, env(), want{usage: "the endpoints come from the file"}},

		// Help.
		{"help of a command", []string{"filter", "push", "-h"}, env(), want{help: true, helpCmd: "filter push"}},
		{"help of a group", []string{"filter", "help"}, env(), want{help: true}},
		{"help before the command", []string{"-h"}, env(), want{help: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := parseCLI(tc.args, tc.env)
			var ue *usageError
			var he errHelp
			switch {
			case tc.want.usage != "":
				if !errors.As(err, &ue) || !strings.Contains(ue.msg, tc.want.usage) {
					t.Fatalf("error %v, want a usage error containing %q", err, tc.want.usage)
				}
				return
			case tc.want.help:
				if !errors.As(err, &he) {
					t.Fatalf("error %v, want a request for help", err)
				}
				got := ""
				if he.cmd != nil {
					got = he.cmd.path()
				}
				if got != tc.want.helpCmd {
					t.Errorf("help of %q, want %q", got, tc.want.helpCmd)
				}
				return
			case err != nil:
				t.Fatalf("error %v", err)
			}
			if got := inv.cmd.path(); got != tc.want.path {
				t.Errorf("command %q, want %q", got, tc.want.path)
			}
			if len(inv.args) != len(tc.want.args) || len(inv.args) > 0 && !reflect.DeepEqual(inv.args, tc.want.args) {
				t.Errorf("args %q, want %q", inv.args, tc.want.args)
			}
			if inv.g != tc.want.g {
				t.Errorf("connection %+v, want %+v", inv.g, tc.want.g)
			}
			if tc.want.check != nil {
				tc.want.check(t, inv)
			}
		})
	}
}

// TestCLIExitCodes: a usage error exits 2 with the usage on stderr; help
// exits 0 with it on stdout; a node that cannot be reached is a failure
// (1) that says where it looked.
func TestCLIExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // contained
		stderr     string // contained
		noStdout   bool
		noStderr   bool
		getenvKVs  []string
		throughRun bool // via run, the binary's entry point
	}{
		{name: "usage error", args: []string{"tenant", "create"}, code: exitUsage,
			stderr: "wedge tenant create: missing NAME\n\nusage: wedge tenant create NAME [flags]", noStdout: true},
		{name: "group usage error", args: []string{"filter"}, code: exitUsage,
			stderr: "wedge filter: which filter command?", noStdout: true},
		{name: "bad admin URL", args: []string{"status", "--admin", "ftp://x"}, code: exitUsage,
			stderr: `wedge status: --admin: admin URL "ftp://x": want http(s)://host:port`},
		{name: "command help", args: []string{"routes", "apply", "-h"}, code: exitOK,
			stdout: "usage: wedge routes apply -f FILE --tenant T [flags]", noStderr: true},
		{name: "wedge help COMMAND", args: []string{"help", "token", "create"}, code: exitOK, throughRun: true,
			stdout: "usage: wedge token create --tenant T [flags]", noStderr: true},
		{name: "wedge help GROUP", args: []string{"help", "filter"}, code: exitOK, throughRun: true,
			stdout: "wedge filter rollback NAME --tenant T", noStderr: true},
		{name: "wedge help lists every command", args: []string{"help"}, code: exitOK, throughRun: true,
			stdout: "wedge apply -f FILE", noStderr: true},
		{name: "unreachable node", args: []string{"status", "--admin", "http://" + closedPort(t)}, code: exitFail,
			stderr: "wedge status: cannot reach the admin API at http://", noStdout: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			var code int
			if tc.throughRun {
				code = run(tc.args, &out, &errb)
			} else {
				code = runCLI(tc.args, &out, &errb, env(tc.getenvKVs...))
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tc.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, errb.String())
			}
			if tc.noStdout && out.Len() > 0 {
				t.Errorf("stdout %q, want none", out.String())
			}
			if tc.noStderr && errb.Len() > 0 {
				t.Errorf("stderr %q, want none", errb.String())
			}
		})
	}
}

// TestCommandTable: every command has a summary and a runner, names are
// unique, and each is reachable by its path.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		p := c.path()
		if seen[p] {
			t.Errorf("%s: listed twice", p)
		}
		seen[p] = true
		if c.summary == "" || c.run == nil {
			t.Errorf("%s: no summary or no run", p)
		}
		if !isCLI(strings.Fields(p)[0]) {
			t.Errorf("%s: not recognised as a command", p)
		}
	}
	for _, p := range []string{ // the list
		"tenant create", "tenant list", "tenant delete", "domain add", "domain remove",
		"token create", "token revoke", "filter push", "filter list", "filter rollback",
		"upstream apply", "routes apply", "purge", "status", "apply",
	} {
		if !seen[p] {
			t.Errorf("no command %q", p)
		}
	}
	for _, name := range []string{"serve", "validate", "version", "help"} {
		if isCLI(name) {
			t.Errorf("%q is taken for an admin command", name)
		}
	}
}

// TestRoutesDocument: a bare list of routes is sent under "routes:",
// and the lines the node reports are those of the file.
func TestRoutesDocument(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		added          int
	}{
		{"mapping sent as written", "routes:\n  - upstream: a\n", "routes:\n  - upstream: a\n", 0},
		{"block list", "# c\n- upstream: a\n- upstream: b\n", "# c\nroutes:\n- upstream: a\n- upstream: b\n", 2},
		{"flow list", `[{"upstream": "a"}]`, `routes: [{"upstream": "a"}]`, 0},
		{"not YAML: sent for the node to refuse", "routes: [", "routes: [", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, added, err := routesDocument([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || added != tc.added {
				t.Errorf("got %q (line %d added), want %q (%d)", got, added, tc.want, tc.added)
			}
		})
	}
	ae := &client.APIError{Message: "routes: 1 problem(s) at line 1", Problems: []string{"routes[1].upstream: bad (line 4)", "routes[0].x: bad (line 2)"}}
	shiftLines(ae, 2)
	if want := []string{"routes[1].upstream: bad (line 3)", "routes[0].x: bad (line 2)"}; !reflect.DeepEqual(ae.Problems, want) {
		t.Errorf("problems %q, want %q", ae.Problems, want)
	}
	if ae.Message != "routes: 1 problem(s) at line 1" {
		t.Errorf("message %q changed", ae.Message)
	}
}

// TestProblemPath: a problem's field path as steps into the YAML.
func TestProblemPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []any
	}{
		{`routes[2].match.path: bad`, []any{"routes", 2, "match", "path"}},
		{`upstreams[0].endpoints[1]: bad`, []any{"upstreams", 0, "endpoints", 1}},
		{`routes: bad`, []any{"routes"}},
		{`no path here`, nil},
		{`tenant "acme": bad`, nil},
		{`routes[x]: bad`, nil},
	} {
		got, ok := problemPath(tc.in)
		if ok != (tc.want != nil) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("problemPath(%q) = %v %v, want %v", tc.in, got, ok, tc.want)
		}
	}
}

// TestParseApplyFile: the declarative file is checked whole before
// anything is sent; every problem has its path and line.
func TestParseApplyFile(t *testing.T) {
	dir := t.TempDir()
	good := `tenants:
  - name: acme
    limits: {request_rate: 10, filter_call_deadline: 50ms}
    domains: [app.test]
    upstreams:
      - name: web
        endpoints: ["127.0.0.1:1"]
    routes:
      - upstream: web
        filters:
          - name: stamp
            module: stamp
            config: {response: {set: {x-a: b}}}
`
	plan, err := parseApplyFile("good.yaml", []byte(good), dir)
	if err != nil {
		t.Fatal(err)
	}
	tp := plan.tenants[0]
	if tp.limits.FilterCallDeadline != client.Duration(50*time.Millisecond) || tp.limits.RequestRate != 10 {
		t.Errorf("limits %+v", tp.limits)
	}
	if len(tp.config.Routes) != 1 || string(tp.config.Routes[0].Filters[0].Config) != `{"response":{"set":{"x-a":"b"}}}` {
		t.Errorf("routes %+v", tp.config.Routes)
	}

	bad := `tenants:
  - name: acme
    domain: [app.test]
  - name: acme
    filters:
      - name: f
        module: missing.wasm
      - name: f
    routes:
      - upstream: web
        timeouts: {connect: soon}
`
	_, err = parseApplyFile("bad.yaml", []byte(bad), dir)
	var fe *fileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v, want a fileError", err)
	}
	for _, want := range []string{
		`tenants[0].domain: unknown field "domain" (line 3)`,
		`tenants[1].routes[0].timeouts.connect: "soon" is not a duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}

	// Once it decodes, the checks of names and modules.
	bad = strings.Replace(bad, "domain:", "domains:", 1)
	bad = strings.Replace(bad, "connect: soon", "connect: 1s", 1)
	_, err = parseApplyFile("bad.yaml", []byte(bad), dir)
	for _, want := range []string{
		`tenants[1].name: tenant "acme" is also tenants[0] (line 4)`,
		`tenants[1].filters[0].module: open ` + dir + `/missing.wasm: no such file or directory (line 7)`,
		`tenants[1].filters[1].name: filter "f" is also filters[0] (line 8)`,
		`tenants[1].filters[1].module: required`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

// TestParseApplyFileExample: the README's declarative file parses as it
// stands in the repository (its module path is relative to it).
func TestParseApplyFileExample(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "gitops")
	file := filepath.Join(dir, "tenants.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := parseApplyFile(file, data, dir)
	if err != nil {
		t.Fatalf("%v (make filters builds the module it names)", err)
	}
	if len(plan.tenants) != 1 || plan.tenants[0].name != "shop" || len(plan.tenants[0].filters) != 1 || len(plan.tenants[0].config.Routes) != 2 {
		t.Errorf("plan %+v", plan.tenants)
	}
}

// TestParseApplyFileDomainOwners: a domain has one owner, so a file that
// lists one twice (in any case, with or without the root dot) is refused
// before anything is sent.
func TestParseApplyFileDomainOwners(t *testing.T) {
	file := `tenants:
  - name: acme
    domains: [app.test, www.app.test]
  - name: globex
    domains: [globex.test, App.Test.]
  - name: initech
    domains: [www.app.test]
`
	_, err := parseApplyFile("owners.yaml", []byte(file), t.TempDir())
	for _, want := range []string{
		`tenants[1].domains[1]: domain "App.Test." is also tenants[0].domains[0] (a domain belongs to one tenant) (line 5)`,
		`tenants[2].domains[0]: domain "www.app.test" is also tenants[0].domains[1]`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "globex.test") {
		t.Errorf("a domain listed once was reported:\n%v", err)
	}
}
