package node

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control"
)

// applyEach is the fallback when the store's tenant layer cannot be
// applied as a whole on this node: a filter module it cannot fetch, a
// domain its own file gives to another tenant. One tenant's change must not
// hold back everyone else's, so the tenants are applied one at a time on
// top of what is served: removals first, then each changed tenant, each
// kept if it builds and left at its last good configuration (or not
// served, if new) if it does not. It returns the tenants now served and
// the refusals, wrapping control.ErrPartial; nil if every tenant applied.
// Called with mu held.
func (n *Node) applyEach(tenants []config.Tenant) ([]config.Tenant, error) {
	prev := make(map[string]config.Tenant, len(n.fromStore))
	for _, t := range n.fromStore {
		prev[t.Name] = t
	}
	// What still exists, at its served version.
	cur := make([]config.Tenant, 0, len(tenants))
	for _, t := range tenants {
		if p, ok := prev[t.Name]; ok {
			cur = append(cur, p)
		}
	}
	var refused []error
	if len(cur) != len(n.fromStore) {
		if err := n.swap(n.cfg.Tenants, cur); err != nil {
			return n.fromStore, fmt.Errorf("node: removing tenants: %w: %w", err, control.ErrPartial)
		}
	}
	for _, t := range tenants {
		p, had := prev[t.Name]
		if had && reflect.DeepEqual(p, t) {
			continue
		}
		next := slices.Clone(cur)
		if i := slices.IndexFunc(next, func(c config.Tenant) bool { return c.Name == t.Name }); i >= 0 {
			next[i] = t
		} else {
			next = append(next, t)
		}
		if err := n.swap(n.cfg.Tenants, next); err != nil {
			keeps := "is not served"
			if had {
				keeps = "keeps its last good configuration"
			}
			refused = append(refused, fmt.Errorf("tenant %q %s: %w", t.Name, keeps, err))
			continue
		}
		cur = next
	}
	if len(refused) == 0 {
		return cur, nil
	}
	return cur, fmt.Errorf("%w: %w", control.ErrPartial, errors.Join(refused...))
}
