package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Defaults of the node's maximums on filter limits (limits.filters).
const (
	DefaultFilterMaxInstances         = 4
	DefaultFilterMaxMemoryBytes       = 256 << 20
	DefaultFilterMaxCallDeadline      = time.Second
	DefaultFilterMaxBodyBytes         = 16 << 20
	DefaultFilterMaxHTTPCalls         = 16
	DefaultTenantMaxFilterMemoryBytes = 1 << 30
)

// The runtime's defaults for a filter limit left at 0 (runtime.Limits;
// instances default to GOMAXPROCS). The node's maximums lower them.
const (
	RuntimeFilterMemoryBytes  = 64 << 20
	RuntimeFilterCallDeadline = 100 * time.Millisecond
	RuntimeFilterBodyBytes    = 1 << 20
	RuntimeFilterHTTPCalls    = 4
)

// The widest value of each node maximum that has one.
const (
	maxFilterInstances   = 256
	maxFilterMemoryBytes = 4 << 30
	maxFilterBodyBytes   = 1 << 30
)

// wasmPage is the WebAssembly page size: memory limits round up to it.
const wasmPage = 64 << 10

// WithDefaults returns a copy of c with zero fields (and negative ones,
// which Validate refuses) set to their defaults.
func (c FilterCaps) WithDefaults() FilterCaps {
	if c.MaxInstances <= 0 {
		c.MaxInstances = DefaultFilterMaxInstances
	}
	if c.MaxMemoryBytes <= 0 {
		c.MaxMemoryBytes = DefaultFilterMaxMemoryBytes
	}
	if c.MaxCallDeadline <= 0 {
		c.MaxCallDeadline = Duration(DefaultFilterMaxCallDeadline)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultFilterMaxBodyBytes
	}
	if c.MaxHTTPCalls <= 0 {
		c.MaxHTTPCalls = DefaultFilterMaxHTTPCalls
	}
	if c.TenantMaxMemoryBytes <= 0 {
		c.TenantMaxMemoryBytes = DefaultTenantMaxFilterMemoryBytes
	}
	return c
}

// ValidateTenantWith is ValidateTenant against the node's maximums on
// filter limits (limits.filters; zero fields take their defaults):
// a filter limit above its maximum, or filters that together reserve more
// memory than the tenant may, are problems too.
func ValidateTenantWith(t *Tenant, caps FilterCaps) error {
	var ps problems
	validateTenant(&ps, "", t, map[string]string{}, caps.WithDefaults())
	if len(ps) > 0 {
		return &Error{Problems: capProblems(ps)}
	}
	return nil
}

// validate checks the node's maximums themselves.
func (c *FilterCaps) validate(ps *problems) {
	const p = "limits.filters."
	if c.MaxInstances < 0 || c.MaxInstances > maxFilterInstances {
		ps.add(p+"max_instances", "%d: want 0 (default %d) to %d", c.MaxInstances, DefaultFilterMaxInstances, maxFilterInstances)
	}
	if c.MaxMemoryBytes < 0 || c.MaxMemoryBytes > maxFilterMemoryBytes {
		ps.add(p+"max_memory_bytes", "%d: want 0 (default %s) to %s", c.MaxMemoryBytes, sizeText(DefaultFilterMaxMemoryBytes), sizeText(maxFilterMemoryBytes))
	}
	if c.MaxCallDeadline < 0 {
		ps.add(p+"max_call_deadline", "must not be negative")
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > maxFilterBodyBytes {
		ps.add(p+"max_body_bytes", "%d: want 0 (default %s) to %s", c.MaxBodyBytes, sizeText(DefaultFilterMaxBodyBytes), sizeText(maxFilterBodyBytes))
	}
	if c.MaxHTTPCalls < 0 {
		ps.add(p+"max_http_calls", "must not be negative")
	}
	if c.TenantMaxMemoryBytes < 0 {
		ps.add(p+"tenant_max_memory_bytes", "must not be negative")
	}
}

// validateFilterLimits checks a filter's limits against the node's
// maximums (caps, defaults applied); fp is the filter's path.
func validateFilterLimits(ps *problems, fp string, l *FilterLimits, caps FilterCaps) {
	p := fp + ".limits."
	switch v := l.Instances; {
	case v < 0:
		ps.add(p+"instances", "%d: want 0 (default) to %d", v, caps.MaxInstances)
	case v > caps.MaxInstances:
		ps.add(p+"instances", "%d: the node allows at most %d", v, caps.MaxInstances)
	}
	switch v := l.MaxMemoryBytes; {
	case v < 0:
		ps.add(p+"max_memory_bytes", "%d: want 0 (default) to %s", v, sizeText(caps.MaxMemoryBytes))
	case v > caps.MaxMemoryBytes:
		ps.add(p+"max_memory_bytes", "%d: the node allows at most %s", v, sizeText(caps.MaxMemoryBytes))
	}
	switch v := l.CallDeadline; {
	case v < 0:
		ps.add(p+"call_deadline", "must not be negative")
	case v > caps.MaxCallDeadline:
		ps.add(p+"call_deadline", "%v: the node allows at most %v", v, caps.MaxCallDeadline)
	}
	switch v := l.MaxBodyBytes; {
	case v < 0:
		ps.add(p+"max_body_bytes", "%d: want 0 (default) to %s", v, sizeText(caps.MaxBodyBytes))
	case v > caps.MaxBodyBytes:
		ps.add(p+"max_body_bytes", "%d: the node allows at most %s", v, sizeText(caps.MaxBodyBytes))
	}
	switch v := l.MaxHTTPCalls; {
	case v < 0:
		ps.add(p+"max_http_calls", "must not be negative")
	case v > caps.MaxHTTPCalls:
		ps.add(p+"max_http_calls", "%d: the node allows at most %d", v, caps.MaxHTTPCalls)
	}
}

// filterID is what makes two route filters one plugin (as the data plane
// shares them): the same filter on several routes reserves its memory
// once.
type filterID struct {
	name, module, config, vmConfig, calls string
	limits                                FilterLimits
}

// validateFilterMemory checks the linear memory t's filters may reserve
// together against the tenant's cap: the node's, lowered by the tenant's
// filter_total_memory_bytes. pre prefixes paths ("tenants[2]." or "").
// A filter whose instances or memory are out of range is left out of the
// sum: it has its own problem already.
func validateFilterMemory(ps *problems, pre string, t *Tenant, caps FilterCaps) {
	limit, source := caps.TenantMaxMemoryBytes, "the node allows (limits.filters.tenant_max_memory_bytes)"
	if c := t.Limits.FilterTotalMemoryBytes; c > 0 && c < limit {
		limit, source = c, "the tenant's limits.filter_total_memory_bytes allows"
	}
	seen := map[filterID]bool{}
	var total int64
	for _, r := range t.Routes {
		for _, f := range r.Filters {
			l := f.Limits
			if l.Instances < 0 || l.Instances > caps.MaxInstances || l.MaxMemoryBytes < 0 || l.MaxMemoryBytes > caps.MaxMemoryBytes {
				continue
			}
			calls := slices.Clone(f.HTTPUpstreams)
			slices.Sort(calls)
			id := filterID{name: f.Name, module: f.Module, config: string(f.Config), vmConfig: string(f.VMConfig), calls: strings.Join(calls, "\x00"), limits: l}
			if seen[id] {
				continue
			}
			seen[id] = true
			total += int64(cmp.Or(l.Instances, caps.MaxInstances)) * filterMemory(l.MaxMemoryBytes, &t.Limits, caps)
		}
	}
	if total > limit {
		n := fmt.Sprintf("%d filters", len(seen))
		if len(seen) == 1 {
			n = "1 filter"
		}
		ps.add(strings.TrimSuffix(pre, "."), "tenant %q: its filters may reserve %s of linear memory together (instances × max_memory_bytes over %s; a filter without instances counts %d), over the %s %s",
			t.Name, sizeText(total), n, caps.MaxInstances, sizeText(limit), source)
	}
}

// filterMemory is the memory limit of each instance of a filter whose
// own limit is own, as the data plane sets it: own, or the runtime's
// default lowered to the node's maximum, then lowered to the tenant's
// filter_max_memory_bytes, rounded up to whole pages.
func filterMemory(own int64, t *TenantLimits, caps FilterCaps) int64 {
	mem := own
	if mem == 0 {
		mem = min(RuntimeFilterMemoryBytes, caps.MaxMemoryBytes)
	}
	if c := t.FilterMaxMemoryBytes; c > 0 && c < mem {
		mem = c
	}
	return (mem + wasmPage - 1) / wasmPage * wasmPage
}

// sizeText writes a byte count in the largest binary unit that divides
// it: "4 GiB", "256 MiB", "1536 KiB", "100 bytes".
func sizeText(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
