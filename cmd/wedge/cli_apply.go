package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/client"
)

// applyAction is one thing `wedge apply` did or found already done.
type applyAction struct {
	Tenant string `json:"tenant"`
	// Object is "tenant", "domain", "filter", "config" or "node".
	Object string `json:"object"`
	Name   string `json:"name,omitempty"`
	// Action is what happened: "created", "updated", "unchanged",
	// "added", "removed", "uploaded", "applied", "left alone", "serving".
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
	// Revision is the store revision of the write, when there was one.
	Revision int64 `json:"revision,omitempty"`
}

// applier runs a plan and reports each action.
type applier struct {
	x       *runner
	actions []applyAction
	// rev is the highest revision written or found: what the node must
	// serve for the file to be in force.
	rev int64
	// failed is the tenant whose upstreams and routes the node refused.
	failed *tenantPlan
}

// report records an action and, in text mode, prints it.
func (ap *applier) report(a applyAction) {
	ap.actions = append(ap.actions, a)
	ap.rev = max(ap.rev, a.Revision)
	if ap.x.json() {
		return
	}
	var line string
	switch a.Object {
	case "tenant":
		line = "tenant " + a.Tenant + ": " + a.Action
	case "config":
		line = "  upstreams and routes: " + a.Action
	case "node":
		line = "node " + a.Name + ": " + a.Action
	default:
		line = "  " + a.Object + " " + a.Name + ": " + a.Action
	}
	if a.Detail != "" {
		line += " (" + a.Detail + ")"
	}
	fmt.Fprintln(ap.x.stdout, line)
}

// seen records a revision found in force without a write.
func (ap *applier) seen(rev int64) { ap.rev = max(ap.rev, rev) }

// apply is `wedge apply -f FILE`.
func apply(x *runner) error {
	file := x.inv.a.file
	data, err := readInput(file)
	if err != nil {
		return err
	}
	dir := "."
	if file != "-" {
		dir = filepath.Dir(file)
	}
	plan, err := parseApplyFile(file, data, dir)
	if err != nil {
		return err
	}
	ap := &applier{x: x}
	err = ap.run(plan)
	var ae *client.APIError
	if errors.As(err, &ae) && ap.failed != nil {
		plan.relocate(*ap.failed, ae)
	}
	if err == nil && x.inv.a.wait > 0 {
		err = ap.wait(x.inv.a.wait)
	}
	if x.json() {
		out := struct {
			Actions  []applyAction `json:"actions"`
			Revision int64         `json:"revision"`
			Complete bool          `json:"complete"`
		}{ap.actions, ap.rev, err == nil}
		if out.Actions == nil {
			out.Actions = []applyAction{}
		}
		if perr := x.printJSON(out); err == nil {
			err = perr
		}
	}
	return err
}

// run brings every tenant of the plan to what the file says, in the
// file's order, and reports the node's tenants the file does not list.
func (ap *applier) run(plan *applyPlan) error {
	x := ap.x
	existing, err := x.c.Tenants(x.ctx)
	if err != nil {
		return err
	}
	byName := map[string]client.Tenant{}
	for _, t := range existing {
		byName[t.Name] = t
	}
	listed := map[string]bool{}
	for _, tp := range plan.tenants {
		listed[tp.name] = true
		cur, ok := byName[tp.name]
		var curp *client.Tenant
		if ok {
			curp = &cur
		}
		if err := ap.tenant(tp, curp); err != nil {
			return fmt.Errorf("tenant %s: %w", tp.name, err)
		}
	}
	for _, t := range existing {
		if !listed[t.Name] {
			ap.report(applyAction{Tenant: t.Name, Object: "tenant", Action: "not in the file, left alone"})
		}
	}
	return nil
}

// tenant brings one tenant to its plan; cur is the tenant as the node
// has it, or nil.
func (ap *applier) tenant(tp tenantPlan, cur *client.Tenant) error {
	x := ap.x
	t := tp.name

	// Limits.
	if cur != nil && cur.Limits == tp.limits {
		ap.seen(cur.Revision)
		ap.report(applyAction{Tenant: t, Object: "tenant", Action: "unchanged"})
	} else {
		r, opts := captured()
		out, err := x.c.PutTenant(x.ctx, t, tp.limits, opts...)
		if err != nil {
			return err
		}
		ap.report(applyAction{Tenant: t, Object: "tenant", Action: createdOr(r, "updated"), Detail: orDash(limitsText(out.Limits)), Revision: max(r.Revision, out.Revision)})
		cur = out
	}

	// Domains to add, before the routes that may name them.
	has := map[string]bool{}
	for _, d := range cur.Domains {
		has[strings.ToLower(d)] = true
	}
	want := map[string]bool{}
	for _, d := range tp.domains {
		want[strings.ToLower(d)] = true
		if has[strings.ToLower(d)] {
			continue
		}
		r, opts := captured()
		if _, err := x.c.AddDomain(x.ctx, t, d, opts...); err != nil {
			return fmt.Errorf("domain %s: %w", d, err)
		}
		ap.report(applyAction{Tenant: t, Object: "domain", Name: d, Action: "added", Revision: r.Revision})
	}

	// Filters, before the routes that use them.
	current := map[string]client.Filter{}
	fs, err := x.c.Filters(x.ctx, t)
	if err != nil {
		return err
	}
	for _, f := range fs {
		current[f.Name] = f
	}
	inFile := map[string]bool{}
	for _, fp := range tp.filters {
		inFile[fp.name] = true
		if f, ok := current[fp.name]; ok && f.SHA256 == fp.sha256 {
			ap.seen(f.Revision)
			ap.report(applyAction{Tenant: t, Object: "filter", Name: fp.name, Action: "unchanged", Detail: fmt.Sprintf("version %d, sha256 %s", f.Version, short(fp.sha256))})
			continue
		}
		r, opts := captured()
		f, err := x.c.PushFilter(x.ctx, t, fp.name, fp.module, opts...)
		if err != nil {
			return fmt.Errorf("filter %s (%s): %w", fp.name, fp.path, err)
		}
		if f.SHA256 != fp.sha256 {
			return fmt.Errorf("filter %s: the node answered sha256 %s for %s, whose sha256 is %s", fp.name, f.SHA256, fp.path, fp.sha256)
		}
		ap.report(applyAction{Tenant: t, Object: "filter", Name: fp.name, Action: "uploaded",
			Detail: fmt.Sprintf("version %d, sha256 %s", f.Version, short(f.SHA256)), Revision: max(r.Revision, f.Revision)})
	}

	// Upstreams and routes, in one write.
	cfg, err := x.c.TenantConfig(x.ctx, t)
	if err != nil {
		return err
	}
	summary := count(len(tp.config.Upstreams), "upstream") + ", " + count(len(tp.config.Routes), "route")
	if sameConfig(cfg, &tp.config) {
		ap.seen(cfg.Revision)
		ap.report(applyAction{Tenant: t, Object: "config", Action: "unchanged", Detail: summary})
	} else {
		r, opts := captured()
		out, err := x.c.PutTenantConfig(x.ctx, t, tp.config, opts...)
		if err != nil {
			ap.failed = &tp
			return fmt.Errorf("upstreams and routes: %w", err)
		}
		ap.report(applyAction{Tenant: t, Object: "config", Action: "applied", Detail: summary, Revision: max(r.Revision, out.Revision)})
	}

	// Domains to remove, now that no route names them.
	for _, d := range cur.Domains {
		if want[strings.ToLower(d)] {
			continue
		}
		r, opts := captured()
		if err := x.c.RemoveDomain(x.ctx, t, d, opts...); err != nil {
			return fmt.Errorf("domain %s: %w", d, err)
		}
		ap.report(applyAction{Tenant: t, Object: "domain", Name: d, Action: "removed", Revision: r.Revision})
	}

	names := make([]string, 0, len(current))
	for name := range current {
		if !inFile[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ap.report(applyAction{Tenant: t, Object: "filter", Name: name, Action: "not in the file, left alone"})
	}
	return nil
}

// sameConfig reports whether the node's pools and routes are the plan's,
// compared as the client writes them.
func sameConfig(cur *client.TenantConfig, want *client.TenantConfig) bool {
	norm := func(c *client.TenantConfig) string {
		us := make([]client.Upstream, len(c.Upstreams))
		for i, u := range c.Upstreams {
			us[i] = client.Upstream{Name: u.Name, Endpoints: u.Endpoints, MaxIdleConns: u.MaxIdleConns}
		}
		slices.SortFunc(us, func(a, b client.Upstream) int { return strings.Compare(a.Name, b.Name) })
		b, err := json.Marshal(struct {
			U []client.Upstream
			R []client.Route
		}{us, c.Routes})
		if err != nil {
			return "unequal: " + err.Error()
		}
		var v any
		json.Unmarshal(b, &v)
		b, _ = json.Marshal(v) // maps (headers, filter configs) in key order
		return string(b)
	}
	a, b := norm(cur), norm(want)
	return a == b && !strings.HasPrefix(a, "unequal: ")
}

// wait polls the node's status until it serves ap.rev, for at most d.
func (ap *applier) wait(d time.Duration) error {
	x := ap.x
	deadline := time.Now().Add(d)
	pause := 50 * time.Millisecond
	var last *client.Status
	for {
		s, err := x.c.Status(x.ctx)
		if err == nil {
			last = s
			if s.Revision >= ap.rev {
				ap.report(applyAction{Object: "node", Name: s.Node, Action: "serving", Detail: fmt.Sprintf("revision %d", s.Revision)})
				return nil
			}
		}
		if time.Now().Add(pause).After(deadline) {
			switch {
			case last == nil:
				return fmt.Errorf("--wait: no status from the node within %s: %w", d, err)
			case last.LastError != "":
				return fmt.Errorf("--wait: after %s node %s serves revision %d, not %d; its last reload failed: %s", d, last.Node, last.Revision, ap.rev, last.LastError)
			default:
				return fmt.Errorf("--wait: after %s node %s serves revision %d, not yet %d", d, last.Node, last.Revision, ap.rev)
			}
		}
		select {
		case <-x.ctx.Done():
			return x.ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}
