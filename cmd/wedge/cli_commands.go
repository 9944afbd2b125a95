package main

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// commands are the admin API commands, in the order `wedge help` lists
// them.
var commands = []*command{
	{group: "tenant", name: "create", args: "NAME", nargs: 1, flags: limitFlags, run: tenantCreate,
		summary: "create a tenant, or set an existing one's limits (operator)",
		help: `Unset limit flags mean no limit: on an existing tenant, this replaces
every limit with the ones given.`},
	{group: "tenant", name: "list", run: tenantList,
		summary: "list tenants with their domains and limits (operator)"},
	{group: "tenant", name: "delete", args: "NAME", nargs: 1, run: tenantDelete,
		summary: "delete a tenant with its domains, tokens, filters, pools and routes (operator)"},

	{group: "domain", name: "add", args: "DOMAIN", nargs: 1, tenant: true, run: domainAdd,
		summary: "assign a domain (or *.wildcard) to the tenant (operator)"},
	{group: "domain", name: "remove", args: "DOMAIN", nargs: 1, tenant: true, run: domainRemove,
		summary: "take a domain from the tenant (operator)"},
	{group: "domain", name: "list", tenant: true, run: domainList,
		summary: "list the tenant's domains (operator)"},

	{group: "token", name: "create", tenant: true, run: tokenCreate,
		flags: func(fs *flag.FlagSet, a *cmdArgs) {
			fs.StringVar(&a.description, "description", "", "what the token is for (`text`)")
		},
		summary: "make a token for the tenant; it is shown only once (operator)",
		help: `The token is written alone on stdout (TOKEN=$(wedge token create …)); the
node keeps only its SHA-256, so it cannot be shown again.`},
	{group: "token", name: "list", tenant: true, run: tokenList,
		summary: "list the tenant's tokens, without their secrets (operator)"},
	{group: "token", name: "revoke", args: "ID", nargs: 1, tenant: true, run: tokenRevoke,
		summary: "revoke one of the tenant's tokens (operator)"},

	{group: "filter", name: "push", args: "NAME FILE.wasm", nargs: 2, tenant: true, run: filterPush,
		summary: "upload a Proxy-Wasm module as the filter's new version",
		help: `The node compiles and starts the module before accepting it. Bytes equal
to the current version change nothing.`},
	{group: "filter", name: "list", tenant: true, run: filterList,
		summary: "list the tenant's filters and their versions"},
	{group: "filter", name: "rollback", args: "NAME", nargs: 1, tenant: true, run: filterRollback,
		flags: func(fs *flag.FlagSet, a *cmdArgs) {
			fs.IntVar(&a.version, "version", 0, "the `version` to make current (default: the one before the current one)")
		},
		check: func(inv *invocation) error {
			if inv.a.version < 0 {
				return errors.New("--version: a version is at least 1")
			}
			return nil
		},
		summary: "make an earlier version of a filter current"},
	{group: "filter", name: "delete", args: "NAME", nargs: 1, tenant: true, run: filterDelete,
		summary: "delete a filter and all its versions (refused while a route uses it)"},

	{group: "upstream", name: "apply", args: "[NAME]", optArgs: 1, need: "(--endpoint HOST:PORT… | -f FILE)", tenant: true, run: upstreamApply,
		flags: func(fs *flag.FlagSet, a *cmdArgs) {
			fs.Var((*stringList)(&a.endpoints), "endpoint", "an endpoint `host:port` (repeat for more)")
			fs.IntVar(&a.maxIdleConns, "max-idle-conns", 0, "idle keep-alive connections kept per endpoint (`n`; default the node's)")
			fs.StringVar(&a.file, "f", "", "YAML `file` of one upstream (with its name) or a list of them; - for stdin")
		},
		check:   checkUpstreamApply,
		summary: "create or replace upstream pools",
		help: `Either
  wedge upstream apply NAME --endpoint HOST:PORT [--endpoint …] [--max-idle-conns N]
or
  wedge upstream apply -f FILE
where FILE holds one upstream (name, endpoints, max_idle_conns) or a list
of them. Each is written on its own: a failure leaves the ones before it
applied.`},
	{group: "upstream", name: "list", tenant: true, run: upstreamList,
		summary: "list the tenant's upstream pools"},
	{group: "upstream", name: "delete", args: "NAME", nargs: 1, tenant: true, run: upstreamDelete,
		summary: "delete a pool (refused while a route or filter uses it)"},

	{group: "routes", name: "apply", need: "-f FILE", tenant: true, run: routesApply,
		flags: func(fs *flag.FlagSet, a *cmdArgs) {
			fs.StringVar(&a.file, "f", "", "YAML `file`: routes: [...] or a bare list of routes; - for stdin")
		},
		check: func(inv *invocation) error {
			if inv.a.file == "" {
				return errors.New("give the routes file with -f FILE")
			}
			return nil
		},
		summary: "replace the tenant's routes with a YAML file's",
		help: `The file is sent as written, so the node reports each problem with its
field path and line. A route's filter names one of the tenant's uploaded
filters in "module".`},
	{group: "routes", name: "get", tenant: true, run: routesGet,
		summary: "show the tenant's routes (-o json for every field)"},

	{name: "purge", need: "(--url U | --host H | --tag X)", tenant: true, run: purge,
		flags: func(fs *flag.FlagSet, a *cmdArgs) {
			fs.StringVar(&a.url, "url", "", "purge one absolute `URL`")
			fs.StringVar(&a.host, "host", "", "purge every entry of a `host`")
			fs.StringVar(&a.tag, "tag", "", "purge the entries tagged `tag` (Surrogate-Key)")
		},
		check: func(inv *invocation) error {
			n := 0
			for _, s := range []string{inv.a.url, inv.a.host, inv.a.tag} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return errors.New("give exactly one of --url, --host and --tag")
			}
			return nil
		},
		summary: "purge the tenant's cache entries on every node (through the store)"},

	{name: "status", run: status,
		summary: "the revision the node serves, its store; with the operator's token, every node"},

	{name: "apply", need: "-f FILE", run: apply,
		flags: func(fs *flag.FlagSet, a *cmdArgs) {
			fs.StringVar(&a.file, "f", "", "the declarative `file`; - for stdin (module paths are then relative to the current directory)")
			fs.DurationVar(&a.wait, "wait", 0, "after the writes, wait up to `duration` for the node to serve them")
		},
		check: func(inv *invocation) error {
			if inv.a.file == "" {
				return errors.New("give the file with -f FILE")
			}
			if inv.a.wait < 0 {
				return errors.New("--wait: the duration is negative")
			}
			return nil
		},
		summary: "apply a declarative file of tenants (GitOps; operator)",
		help:    applyHelp},
}

// deleted is what a command that removes an object prints with -o json.
type deleted struct {
	Tenant  string `json:"tenant"`
	Object  string `json:"object"` // "tenant", "domain", "token", "filter", "upstream"
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
}

// reportDeleted reports that a command removed an object: the deleted record
// with -o json, else the line format says.
func (x *runner) reportDeleted(tenant, object, name, format string, args ...any) error {
	if x.json() {
		return x.printJSON(deleted{Tenant: tenant, Object: object, Name: name, Deleted: true})
	}
	x.say(format, args...)
	return nil
}

// limitFlags declares the tenant limit flags.
func limitFlags(fs *flag.FlagSet, a *cmdArgs) {
	fs.Float64Var(&a.limits.RequestRate, "request-rate", 0, "requests per second on each node (`rate`; 0: no limit)")
	fs.IntVar(&a.limits.RequestBurst, "request-burst", 0, "the request rate's bucket size (`n`)")
	fs.Int64Var(&a.limits.CacheMaxBytes, "cache-max-bytes", 0, "the tenant's `bytes` in each node's cache (0: no limit)")
	fs.Int64Var(&a.limits.FilterMaxMemoryBytes, "filter-max-memory-bytes", 0, "every filter's linear memory (`bytes`; 0: no limit)")
	fs.DurationVar(&a.callDeadline, "filter-call-deadline", 0, "every filter's deadline per call (`duration`; 0: no limit)")
	fs.Int64Var(&a.limits.FilterTotalMemoryBytes, "filter-total-memory-bytes", 0, "the linear memory all the tenant's filters reserve together (`bytes`; 0: the node's cap, which this only lowers)")
}

// tenantCreate is `wedge tenant create NAME`: PUT the tenant with the limits given.
func tenantCreate(x *runner) error {
	name := x.inv.args[0]
	r, opts := captured()
	t, err := x.c.PutTenant(x.ctx, name, x.inv.a.limits, opts...)
	if err != nil {
		return err
	}
	if x.json() {
		return x.printJSON(t)
	}
	x.say("tenant %s: %s (revision %d)", t.Name, createdOr(r, "updated"), t.Revision)
	return nil
}

// tenantList is `wedge tenant list`.
func tenantList(x *runner) error {
	ts, err := x.c.Tenants(x.ctx)
	if err != nil || x.json() {
		return jsonOr(x, ts, err)
	}
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		rows = append(rows, []string{t.Name, orDash(joinComma(t.Domains)), orDash(limitsText(t.Limits)), fmt.Sprint(t.Revision)})
	}
	x.table([]string{"NAME", "DOMAINS", "LIMITS", "REVISION"}, rows)
	return nil
}

// tenantDelete is `wedge tenant delete NAME`.
func tenantDelete(x *runner) error {
	name := x.inv.args[0]
	if err := x.c.DeleteTenant(x.ctx, name); err != nil {
		return err
	}
	return x.reportDeleted(name, "tenant", name, "tenant %s: deleted, with its domains, tokens, filters, pools and routes", name)
}

// domainAdd is `wedge domain add DOMAIN`; adding a domain the tenant
// already has is not an error.
func domainAdd(x *runner) error {
	r, opts := captured()
	d, err := x.c.AddDomain(x.ctx, x.tenant(), x.inv.args[0], opts...)
	if err != nil {
		return err
	}
	if x.json() {
		return x.printJSON(d)
	}
	if r.Created() {
		x.say("domain %s: added to tenant %s", d.Domain, x.tenant())
	} else {
		x.say("domain %s: already tenant %s's", d.Domain, x.tenant())
	}
	return nil
}

// domainRemove is `wedge domain remove DOMAIN`.
func domainRemove(x *runner) error {
	d := x.inv.args[0]
	if err := x.c.RemoveDomain(x.ctx, x.tenant(), d); err != nil {
		return err
	}
	return x.reportDeleted(x.tenant(), "domain", d, "domain %s: removed from tenant %s", d, x.tenant())
}

// domainList is `wedge domain list`.
func domainList(x *runner) error {
	ds, err := x.c.Domains(x.ctx, x.tenant())
	if err != nil || x.json() {
		return jsonOr(x, ds, err)
	}
	rows := make([][]string, 0, len(ds))
	for _, d := range ds {
		rows = append(rows, []string{d.Domain, fmt.Sprint(d.Revision)})
	}
	x.table([]string{"DOMAIN", "REVISION"}, rows)
	return nil
}

// tokenCreate is `wedge token create`: the secret alone on stdout, so that
// a script can capture it, and the advice on stderr.
func tokenCreate(x *runner) error {
	t, err := x.c.CreateToken(x.ctx, x.tenant(), x.inv.a.description)
	if err != nil {
		return err
	}
	if x.json() {
		return x.printJSON(t)
	}
	fmt.Fprintln(x.stdout, t.Token)
	fmt.Fprintf(x.stderr, "token %s for tenant %s created. It is shown only this once: store it now (the node keeps only its SHA-256).\n", t.ID, x.tenant())
	return nil
}

// tokenList is `wedge token list`.
func tokenList(x *runner) error {
	ts, err := x.c.ListTokens(x.ctx, x.tenant())
	if err != nil || x.json() {
		return jsonOr(x, ts, err)
	}
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		rows = append(rows, []string{t.ID, orDash(t.Description), t.Created.UTC().Format(time.RFC3339)})
	}
	x.table([]string{"ID", "DESCRIPTION", "CREATED"}, rows)
	return nil
}

// tokenRevoke is `wedge token revoke ID`.
func tokenRevoke(x *runner) error {
	id := x.inv.args[0]
	if err := x.c.RevokeToken(x.ctx, x.tenant(), id); err != nil {
		return err
	}
	return x.reportDeleted(x.tenant(), "token", id, "token %s of tenant %s: revoked", id, x.tenant())
}
