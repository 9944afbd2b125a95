package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/client"
)

// filterPush is `wedge filter push NAME FILE.wasm`. It checks that the
// node stored the bytes that were read (the sha256 it answers).
func filterPush(x *runner) error {
	name, path := x.inv.args[0], x.inv.args[1]
	module, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(module)
	local := hex.EncodeToString(sum[:])
	r, opts := captured()
	f, err := x.c.PushFilter(x.ctx, x.tenant(), name, module, opts...)
	if err != nil {
		return err
	}
	if f.SHA256 != local {
		return fmt.Errorf("the node answered sha256 %s for the upload, but %s is %s", f.SHA256, path, local)
	}
	if x.json() {
		return x.printJSON(f)
	}
	if r.Created() {
		x.say("filter %s: version %d uploaded (sha256 %s, %d bytes)", f.Name, f.Version, short(f.SHA256), f.Size)
	} else {
		x.say("filter %s: unchanged, version %d already is these bytes (sha256 %s)", f.Name, f.Version, short(f.SHA256))
	}
	return nil
}

// filterList is `wedge filter list`: each filter's current version.
func filterList(x *runner) error {
	fs, err := x.c.Filters(x.ctx, x.tenant())
	if err != nil || x.json() {
		return jsonOr(x, fs, err)
	}
	rows := make([][]string, 0, len(fs))
	for _, f := range fs {
		updated := "-"
		for _, v := range f.Versions {
			if v.Version == f.Version {
				updated = v.Created.UTC().Format(time.RFC3339)
			}
		}
		rows = append(rows, []string{f.Name, fmt.Sprint(f.Version), short(f.SHA256), fmt.Sprint(f.Size), fmt.Sprint(len(f.Versions)), updated})
	}
	x.table([]string{"NAME", "VERSION", "SHA256", "SIZE", "VERSIONS", "UPLOADED"}, rows)
	return nil
}

// filterRollback is `wedge filter rollback NAME [--version N]`.
func filterRollback(x *runner) error {
	f, err := x.c.RollbackFilter(x.ctx, x.tenant(), x.inv.args[0], x.inv.a.version)
	if err != nil {
		return err
	}
	if x.json() {
		return x.printJSON(f)
	}
	x.say("filter %s: version %d is current (sha256 %s)", f.Name, f.Version, short(f.SHA256))
	return nil
}

// filterDelete is `wedge filter delete NAME`.
func filterDelete(x *runner) error {
	name := x.inv.args[0]
	if err := x.c.DeleteFilter(x.ctx, x.tenant(), name); err != nil {
		return err
	}
	return x.reportDeleted(x.tenant(), "filter", name, "filter %s: deleted with all its versions", name)
}

// checkUpstreamApply accepts NAME with --endpoint flags, or -f FILE.
func checkUpstreamApply(inv *invocation) error {
	a := inv.a
	switch {
	case a.file != "" && len(inv.args) > 0:
		return errors.New("give NAME with --endpoint, or -f FILE, not both")
	case a.file != "" && (len(a.endpoints) > 0 || a.maxIdleConns != 0):
		return errors.New("with -f FILE the endpoints come from the file: no --endpoint or --max-idle-conns")
	case a.file == "" && len(inv.args) == 0:
		return errors.New("give NAME --endpoint HOST:PORT, or -f FILE")
	case a.file == "" && len(a.endpoints) == 0:
		return errors.New("give at least one --endpoint HOST:PORT")
	case a.maxIdleConns < 0:
		return errors.New("--max-idle-conns: negative")
	}
	return nil
}

// upstreamApply is `wedge upstream apply`: one pool from the flags, or
// each pool of a file in turn.
func upstreamApply(x *runner) error {
	var us []client.Upstream
	if x.inv.a.file != "" {
		data, err := readInput(x.inv.a.file)
		if err != nil {
			return err
		}
		if us, err = parseUpstreamFile(x.inv.a.file, data); err != nil {
			return err
		}
	} else {
		us = []client.Upstream{{Name: x.inv.args[0], Endpoints: x.inv.a.endpoints, MaxIdleConns: x.inv.a.maxIdleConns}}
	}
	var done []*client.Upstream
	for _, u := range us {
		r, opts := captured()
		out, err := x.c.PutUpstream(x.ctx, x.tenant(), u, opts...)
		if err != nil {
			if len(done) > 0 && !x.json() {
				fmt.Fprintf(x.stderr, "upstream %s failed; the ones before it were applied\n", u.Name)
			}
			return err
		}
		done = append(done, out)
		x.say("upstream %s: %s (%s, revision %d)", out.Name, createdOr(r, "replaced"), count(len(out.Endpoints), "endpoint"), out.Revision)
	}
	if x.json() {
		return x.printJSON(done)
	}
	return nil
}

// upstreamList is `wedge upstream list`.
func upstreamList(x *runner) error {
	us, err := x.c.Upstreams(x.ctx, x.tenant())
	if err != nil || x.json() {
		return jsonOr(x, us, err)
	}
	rows := make([][]string, 0, len(us))
	for _, u := range us {
		idle := "default"
		if u.MaxIdleConns > 0 {
			idle = fmt.Sprint(u.MaxIdleConns)
		}
		rows = append(rows, []string{u.Name, joinComma(u.Endpoints), idle, fmt.Sprint(u.Revision)})
	}
	x.table([]string{"NAME", "ENDPOINTS", "MAX_IDLE_CONNS", "REVISION"}, rows)
	return nil
}

// upstreamDelete is `wedge upstream delete NAME`.
func upstreamDelete(x *runner) error {
	name := x.inv.args[0]
	if err := x.c.DeleteUpstream(x.ctx, x.tenant(), name); err != nil {
		return err
	}
	return x.reportDeleted(x.tenant(), "upstream", name, "upstream %s: deleted", name)
}

// routesApply is `wedge routes apply -f FILE`: the file is sent as YAML,
// so the node's problems carry its lines.
func routesApply(x *runner) error {
	data, err := readInput(x.inv.a.file)
	if err != nil {
		return err
	}
	body, shift, err := routesDocument(data)
	if err != nil {
		return fmt.Errorf("%s: %w", x.inv.a.file, err)
	}
	rt, err := x.c.PutRoutes(x.ctx, x.tenant(), body, "application/yaml")
	if err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && shift > 0 {
			shiftLines(ae, shift)
		}
		return err
	}
	if x.json() {
		return x.printJSON(rt)
	}
	x.say("routes of tenant %s: %s applied (revision %d)", x.tenant(), count(len(rt.Routes), "route"), rt.Revision)
	return nil
}

// routesGet is `wedge routes get`.
func routesGet(x *runner) error {
	rt, err := x.c.Routes(x.ctx, x.tenant())
	if err != nil {
		return err
	}
	if x.json() {
		if rt.Routes == nil {
			rt.Routes = []client.Route{}
		}
		return x.printJSON(rt)
	}
	x.say("tenant %s: %s (revision %d)", x.tenant(), count(len(rt.Routes), "route"), rt.Revision)
	if len(rt.Routes) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(rt.Routes))
	for i, r := range rt.Routes {
		target := "upstream " + r.Upstream
		if r.Respond != nil {
			st := r.Respond.Status
			if st == 0 {
				st = 200
			}
			target = fmt.Sprintf("respond %d", st)
		}
		var filters []string
		for _, f := range r.Filters {
			s := f.Name
			if f.Module != f.Name {
				s += "=" + f.Module
			}
			filters = append(filters, s)
		}
		rows = append(rows, []string{fmt.Sprint(i), orDash(r.Name), matchText(r.Match), target, orDash(joinComma(filters))})
	}
	x.table([]string{"#", "NAME", "MATCH", "SERVED BY", "FILTERS"}, rows)
	return nil
}

// purge is `wedge purge`, on the node asked only.
func purge(x *runner) error {
	p := client.Purge{URL: x.inv.a.url, Host: x.inv.a.host, Tag: x.inv.a.tag}
	n, err := x.c.Purge(x.ctx, x.tenant(), p)
	if err != nil {
		return err
	}
	if x.json() {
		return x.printJSON(map[string]int{"purged": n})
	}
	noun := "entries"
	if n == 1 {
		noun = "entry"
	}
	x.say("purged %d %s of tenant %s on this node; every node of the fleet applies the purge too", n, noun, x.tenant())
	return nil
}

// status is `wedge status`: the node's view, and with the operator's
// token the revision every node serves.
func status(x *runner) error {
	s, err := x.c.Status(x.ctx)
	if err != nil {
		return err
	}
	var nodes []client.NodeStatus
	var nodesErr error
	if x.inv.g.token != "" {
		nodes, nodesErr = x.c.Nodes(x.ctx)
		if client.IsStatus(nodesErr, 403) { // a tenant's token: status only
			nodesErr = nil
		}
	}
	if x.json() {
		out := struct {
			Status *client.Status      `json:"status"`
			Nodes  []client.NodeStatus `json:"nodes,omitempty"`
		}{s, nodes}
		if err := x.printJSON(out); err != nil {
			return err
		}
		return nodesErr
	}
	applied := "-"
	if !s.AppliedAt.IsZero() {
		applied = s.AppliedAt.UTC().Format(time.RFC3339)
	}
	storeState := "ok"
	if !s.StoreOK {
		storeState = "UNAVAILABLE"
	}
	if s.FromCache {
		storeState += "; serving the tenant layer cached on disk"
	}
	tw := [][]string{
		{"node", s.Node},
		{"ready", fmt.Sprint(s.Ready)},
		{"revision", fmt.Sprint(s.Revision)},
		{"applied at", applied},
		{"store", s.Store + " (" + storeState + ")"},
		{"last error", orDash(s.LastError)},
	}
	for _, row := range tw {
		fmt.Fprintf(x.stdout, "%-11s %s\n", row[0]+":", row[1])
	}
	if len(nodes) > 0 {
		fmt.Fprintln(x.stdout)
		rows := make([][]string, 0, len(nodes))
		for _, n := range nodes {
			rows = append(rows, []string{n.Node, fmt.Sprint(n.Revision), n.AppliedAt.UTC().Format(time.RFC3339)})
		}
		x.table([]string{"NODE", "REVISION", "APPLIED AT"}, rows)
	}
	return nodesErr
}

// readInput reads a file, or stdin for "-".
func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// captured returns a Response and the call option that fills it.
func captured() (*client.Response, []client.CallOption) {
	r := &client.Response{}
	return r, []client.CallOption{client.Capture(r)}
}

// createdOr says "created" for a 201, else otherwise.
func createdOr(r *client.Response, otherwise string) string {
	if r.Created() {
		return "created"
	}
	return otherwise
}

// jsonOr returns err, or prints v as JSON (a nil list as []).
func jsonOr(x *runner, v any, err error) error {
	if err != nil {
		return err
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []any{}
	}
	return x.printJSON(v)
}

// joinComma joins s with commas.
func joinComma(s []string) string { return strings.Join(s, ",") }

// limitsText lists the limits that are set.
func limitsText(l client.Limits) string {
	var parts []string
	add := func(name string, set bool, v any) {
		if set {
			parts = append(parts, fmt.Sprintf("%s=%v", name, v))
		}
	}
	add("request_rate", l.RequestRate != 0, l.RequestRate)
	add("request_burst", l.RequestBurst != 0, l.RequestBurst)
	add("cache_max_bytes", l.CacheMaxBytes != 0, l.CacheMaxBytes)
	add("filter_max_memory_bytes", l.FilterMaxMemoryBytes != 0, l.FilterMaxMemoryBytes)
	add("filter_call_deadline", l.FilterCallDeadline != 0, l.FilterCallDeadline)
	add("filter_total_memory_bytes", l.FilterTotalMemoryBytes != 0, l.FilterTotalMemoryBytes)
	return strings.Join(parts, " ")
}

// matchText summarizes a route's match.
func matchText(m client.Match) string {
	var parts []string
	if len(m.Domains) > 0 {
		parts = append(parts, "domains="+joinComma(m.Domains))
	}
	if len(m.Methods) > 0 {
		parts = append(parts, "methods="+joinComma(m.Methods))
	}
	for _, p := range [][2]string{{"path", m.Path}, {"path_prefix", m.PathPrefix}, {"path_regex", m.PathRegex}} {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+p[1])
		}
	}
	for _, h := range m.Headers {
		if h.Value == "" {
			parts = append(parts, "header "+h.Name)
		} else {
			parts = append(parts, "header "+h.Name+"="+h.Value)
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, " ")
}
