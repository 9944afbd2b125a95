package control

import (
	"context"
	"errors"
	"net/http"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// change is what one API write does to the store: conditions beyond the
// tenant's serial, and writes. A nil *change means there is nothing to
// write (the object already is as asked).
type change struct {
	cmps []store.Cmp
	ops  []store.Op
	// noSerial leaves the tenant's serial alone (deleting the tenant).
	noSerial bool
}

// maxAttempts bounds the retries of a write that raced another.
const maxAttempts = 8

// readTenant reads one tenant whole, in one consistent List. A tenant
// that does not exist comes back with rev 0.
func (a *Admin) readTenant(ctx context.Context, name string) (*tenantState, error) {
	kvs, _, err := a.api.Store.List(ctx, tenantPrefix(name))
	if err != nil {
		return nil, err
	}
	ts := newTenantState(name)
	for _, kv := range kvs {
		if err := ts.add(kv.Key[len(tenantPrefix(name)):], kv); err != nil {
			return nil, errorf(http.StatusInternalServerError, "key %q: %v", kv.Key, err)
		}
	}
	return ts, nil
}

// noTenant is the 404 of a tenant that does not exist.
func noTenant(name string) error { return errorf(http.StatusNotFound, "no tenant %q", name) }

// existing reads a tenant that must exist: 404 otherwise.
func (a *Admin) existing(ctx context.Context, name string) (*tenantState, error) {
	ts, err := a.readTenant(ctx, name)
	if err != nil {
		return nil, err
	}
	if ts.rev == 0 {
		return nil, noTenant(name)
	}
	return ts, nil
}

// scopedTenant reads the request's {tenant}, which must exist, for the
// operator or the tenant's own token.
func (a *Admin) scopedTenant(r *http.Request) (*tenantState, error) {
	name := r.PathValue("tenant")
	if err := a.tenantScope(r, name); err != nil {
		return nil, err
	}
	return a.existing(r.Context(), name)
}

// update reads the tenant, lets fn decide the change against what it
// read, and commits it on the condition that nothing of the tenant
// changed in between (its serial key is rewritten by every write). A
// write that raced another is decided again on fresh state, so a change
// is always validated against exactly what it lands on. It returns the
// state fn saw and the store revision written (0 when fn had nothing to
// write).
func (a *Admin) update(ctx context.Context, tenant string, fn func(ts *tenantState) (*change, error)) (*tenantState, int64, error) {
	for range maxAttempts {
		ts, err := a.readTenant(ctx, tenant)
		if err != nil {
			return nil, 0, err
		}
		ch, err := fn(ts)
		if err != nil || ch == nil {
			return ts, 0, err
		}
		cmps, ops := ch.cmps, ch.ops
		if !ch.noSerial {
			cmps = append(cmps, store.Cmp{Key: serialKey(tenant), ModRev: ts.serialRev})
			ops = append(ops, store.Op{Key: serialKey(tenant), Value: []byte("{}")})
		}
		rev, err := a.api.Store.Txn(ctx, cmps, ops)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return ts, rev, nil
	}
	return nil, 0, errorf(http.StatusConflict, "tenant %q is being changed by others: gave up after %d attempts; retry", tenant, maxAttempts)
}

// updateExisting is update for a tenant that must exist: 404, without
// calling fn, when it does not.
func (a *Admin) updateExisting(ctx context.Context, tenant string, fn func(ts *tenantState) (*change, error)) (*tenantState, int64, error) {
	return a.update(ctx, tenant, func(ts *tenantState) (*change, error) {
		if ts.rev == 0 {
			return nil, noTenant(tenant)
		}
		return fn(ts)
	})
}
