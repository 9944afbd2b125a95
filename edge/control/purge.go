package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/control/store"
)

// A purge accepted by one node reaches every node of the fleet through
// the store: the node that takes it writes purges/TIME-NODE, and each
// node's PurgeFollower applies it to its own cache. The keys live for
// purgeKeep, long enough for a node cut off from the store for a while
// to apply what it missed when it is back; older ones are deleted by the
// next purge written.
const (
	purgesPrefix = "purges/"
	purgeKeep    = time.Hour
)

// purgeDoc is one purge in the store: the tenant and exactly one of
// URL (scheme, host, request URI), Host and Tag, as checked by the node
// that accepted it.
type purgeDoc struct {
	Tenant string    `json:"tenant"`
	Scheme string    `json:"scheme,omitempty"`
	Host   string    `json:"host,omitempty"`
	URI    string    `json:"uri,omitempty"` // with Scheme and Host: one URL
	Tag    string    `json:"tag,omitempty"`
	Node   string    `json:"node"`
	At     time.Time `json:"at"`
}

// purgeKey orders purges by time: the zero-padded nanoseconds sort as
// text.
func purgeKey(at time.Time, node string) string {
	return fmt.Sprintf("%s%020d-%s", purgesPrefix, at.UnixNano(), node)
}

// apply purges what d selects from c and returns how many entries went.
func (d purgeDoc) apply(c *cache.Cache) int {
	switch {
	case d.URI != "":
		return c.PurgeURL(d.Tenant, d.Scheme, d.Host, d.URI)
	case d.Host != "":
		return c.PurgeHost(d.Tenant, d.Host)
	case d.Tag != "":
		return c.PurgeTag(d.Tenant, d.Tag)
	}
	return 0
}

// publishPurge writes d for the other nodes, and, at most once every
// purgeSweepEvery on this node, deletes the purges older than purgeKeep
// (best effort: a failure there is only logged). Listing the kept purges
// costs as many as there are, which every tenant's purges per minute
// bound; once a minute, not once a purge, that is no longer a cost
// each purge pays for everyone's.
func (a *Admin) publishPurge(ctx context.Context, d purgeDoc) (int64, error) {
	rev, err := a.api.Store.Txn(ctx, nil, []store.Op{{Key: purgeKey(d.At, d.Node), Value: jsonOf(d)}})
	if err != nil {
		return 0, err
	}
	last := a.lastSweep.Load()
	if d.At.UnixNano()-last >= int64(purgeSweepEvery) && a.lastSweep.CompareAndSwap(last, d.At.UnixNano()) {
		if err := a.sweepPurges(ctx, d.At); err != nil {
			a.log.Warn("old purges not deleted from the store", "err", err)
		}
	}
	return rev, nil
}

// purgeSweepEvery is how often a node deletes the expired purges.
const purgeSweepEvery = time.Minute

// sweepPurges deletes the purges older than purgeKeep at now, in
// transactions of at most store.MaxTxnOps deletes.
func (a *Admin) sweepPurges(ctx context.Context, now time.Time) error {
	kvs, _, err := a.api.Store.List(ctx, purgesPrefix)
	if err != nil {
		return err
	}
	cut := purgeKey(now.Add(-purgeKeep), "")
	var ops []store.Op
	for _, kv := range kvs {
		if kv.Key >= cut {
			break
		}
		ops = append(ops, store.Op{Key: kv.Key, Delete: true})
		if len(ops) == store.MaxTxnOps {
			if _, err := a.api.Store.Txn(ctx, nil, ops); err != nil {
				return err
			}
			ops = nil
		}
	}
	if len(ops) > 0 {
		_, err = a.api.Store.Txn(ctx, nil, ops)
	}
	return err
}

// PurgeFollower applies to this node's cache the purges any node of the
// fleet accepts (this one's included).
type PurgeFollower struct {
	// Store is watched under purges/. Required.
	Store store.Store
	// Cache is purged. Required.
	Cache *cache.Cache
	// Logger receives what happens.
	Logger *slog.Logger
}

// Run follows the purges until ctx ends. It starts from the store's
// current revision (the cache of a starting node holds nothing older);
// when the watch breaks, it reads the purges kept in the store and
// applies those it has not seen before watching again.
func (f *PurgeFollower) Run(ctx context.Context) {
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var seen int64 = -1 // the revision up to which purges were applied; -1: not started
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if seen < 0 {
			rev, err := f.Store.Rev(ctx)
			if err != nil {
				sleep(ctx, backoff)
				backoff = min(backoff*2, maxBackoff)
				continue
			}
			seen = rev
		} else {
			// Catch up with what the broken watch may have missed.
			kvs, rev, err := f.Store.List(ctx, purgesPrefix)
			if err != nil {
				sleep(ctx, backoff)
				backoff = min(backoff*2, maxBackoff)
				continue
			}
			for _, kv := range kvs {
				if kv.ModRev > seen {
					f.apply(log, kv)
				}
			}
			seen = rev
		}
		backoff = 100 * time.Millisecond
		seen = f.follow(ctx, log, seen)
	}
}

// follow applies the purges of each event after rev until the watch
// ends, and returns the last revision it applied.
func (f *PurgeFollower) follow(ctx context.Context, log *slog.Logger, rev int64) int64 {
	for ev := range f.Store.Watch(ctx, purgesPrefix, rev) {
		if ev.Err != nil {
			if !errors.Is(ev.Err, context.Canceled) {
				log.Debug("purge watch ended; catching up", "err", ev.Err)
			}
			sleep(ctx, time.Second)
			return rev
		}
		for _, k := range ev.Keys {
			kv, err := f.Store.Get(ctx, k)
			if err != nil {
				continue // deleted since: an old purge being cleaned up
			}
			if kv.ModRev == ev.Rev {
				f.apply(log, kv)
			}
		}
		rev = ev.Rev
	}
	return rev
}

func (f *PurgeFollower) apply(log *slog.Logger, kv store.KV) {
	var d purgeDoc
	if err := unjson(kv.Value, &d); err != nil || d.Tenant == "" {
		log.Error("a purge in the store does not decode: skipped", "key", kv.Key, "err", err)
		return
	}
	// The node that accepted it applies it again: harmless, and no two
	// nodes need to be told apart by name.
	n := d.apply(f.Cache)
	log.Info("purge applied", "tenant", d.Tenant, "from", d.Node, "purged", n)
}
