package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EtcdConfig says how to reach etcd. Zero values are the defaults
// documented on each field; OpenEtcd does not change the caller's copy.
type EtcdConfig struct {
	// Endpoints are etcd's client URLs, such as "http://10.0.0.1:2379".
	// At least one is required.
	Endpoints []string
	// Prefix is put before every key: the store's keys are those under
	// it, returned without it. Empty means "/wedge/". Nothing is added:
	// "/wedge" would make "tenants/a" the etcd key "/wedgetenants/a".
	Prefix string
	// DialTimeout bounds connecting and, when Username is set, logging
	// in; zero means 5s.
	DialTimeout time.Duration
	// RequestTimeout bounds each call whose context has no deadline, so
	// that nothing waits forever while etcd is down; zero means 10s.
	// Callers should pass contexts with their own, shorter deadlines.
	RequestTimeout time.Duration
	// Username and Password log in when etcd has authentication on;
	// empty Username means no login.
	Username, Password string
	// TLS, when set, makes every connection to etcd TLS: endpoints with
	// no scheme are dialled as https://, and an http:// endpoint is an
	// error. Nil means no TLS for those endpoints (https:// ones then
	// check etcd's certificate against the system's roots, with no
	// client certificate).
	TLS *EtcdTLS
}

// EtcdTLS are the files a client speaks TLS to etcd with. OpenEtcd reads
// them once: replacing them takes a new client.
type EtcdTLS struct {
	// CAFile is a PEM file of the certificate authorities etcd's
	// certificate must chain to. Empty means the system's roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate (and chain) and
	// its private key, for an etcd run with --client-cert-auth. Both or
	// neither; empty means no client certificate.
	CertFile, KeyFile string
	// ServerName is the name etcd's certificate must be valid for.
	// Empty means each endpoint's host.
	ServerName string
}

// Defaults of EtcdConfig.
const (
	DefaultEtcdPrefix         = "/wedge/"
	DefaultEtcdDialTimeout    = 5 * time.Second
	DefaultEtcdRequestTimeout = 10 * time.Second
)

// Etcd is the store many nodes share: the keys under a prefix of an etcd
// cluster (v3 API; servers from 3.4 on). Its revisions are etcd's, which
// writes outside the prefix also advance. It is safe for concurrent use.
type Etcd struct {
	cli        *clientv3.Client
	prefix     string
	reqTimeout time.Duration
	creds      *tlsCreds // nil without TLS
}

var _ Store = (*Etcd)(nil)

// OpenEtcd makes a client for cfg. Without a Username it does not wait
// for etcd: a cluster that is down shows as ErrUnavailable from the
// calls, and the client reconnects by itself when it is back. With TLS,
// a call that cannot reach etcd because its certificate is not trusted
// says so, and wraps the verification error (x509.UnknownAuthorityError,
// x509.HostnameError, …).
func OpenEtcd(cfg EtcdConfig) (*Etcd, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("store: etcd: no endpoints")
	}
	endpoints, err := etcdEndpoints(cfg.Endpoints, cfg.TLS != nil)
	if err != nil {
		return nil, err
	}
	var tc *tls.Config
	var creds *tlsCreds
	var dialOpts []grpc.DialOption
	if cfg.TLS != nil {
		if tc, err = cfg.TLS.config(); err != nil {
			return nil, err
		}
		creds = newTLSCreds(tc, cfg.TLS.CAFile)
		dialOpts = []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = DefaultEtcdDialTimeout
	}
	req := cfg.RequestTimeout
	if req <= 0 {
		req = DefaultEtcdRequestTimeout
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          dial,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Username:             cfg.Username,
		Password:             cfg.Password,
		Logger:               zap.NewNop(),
		TLS:                  tc,
		// Applied after the client's own options: these credentials
		// (the same TLS, with errors recorded) replace the ones it makes.
		DialOptions: dialOpts,
	})
	if err != nil {
		return nil, creds.explain(fmt.Sprintf("etcd %s", strings.Join(endpoints, ",")), err)
	}
	return &Etcd{cli: cli, prefix: prefix, reqTimeout: req, creds: creds}, nil
}

// etcdEndpoints copies endpoints; with TLS, those with no scheme become
// https://, and an http:// one is an error (the client would dial it in
// plain text, and every other endpoint with it).
func etcdEndpoints(endpoints []string, withTLS bool) ([]string, error) {
	out := make([]string, len(endpoints))
	for i, ep := range endpoints {
		out[i] = ep
		if !withTLS {
			continue
		}
		switch {
		case strings.HasPrefix(ep, "http://"):
			return nil, fmt.Errorf("store: etcd endpoint %q is plain http:// but TLS is set; use https://", ep)
		case !strings.Contains(ep, "://"):
			out[i] = "https://" + ep
		}
	}
	return out, nil
}

// Get returns the key's value, or an error wrapping ErrNotFound.
func (e *Etcd) Get(ctx context.Context, key string) (KV, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix+key)
	if err != nil {
		return KV{}, e.creds.explain(fmt.Sprintf("get %q", key), err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	kv := resp.Kvs[0]
	return KV{Key: key, Value: kv.Value, ModRev: kv.ModRevision}, nil
}

// List returns every key under prefix, in key order, and the revision
// etcd read them at.
func (e *Etcd) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix+prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, e.creds.explain(fmt.Sprintf("list %q", prefix), err)
	}
	kvs := make([]KV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = KV{Key: strings.TrimPrefix(string(kv.Key), e.prefix), Value: kv.Value, ModRev: kv.ModRevision}
	}
	return kvs, resp.Header.Revision, nil
}

// Txn applies ops in one etcd transaction if every cmp holds, and
// returns the revision etcd committed it at. A Txn that failed with
// ErrUnavailable may still have been applied (etcd got it, the answer
// was lost): its cmps make it safe to read and try again.
func (e *Etcd) Txn(ctx context.Context, cmps []Cmp, ops []Op) (int64, error) {
	if err := checkTxn(cmps, ops); err != nil {
		return 0, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	conds := make([]clientv3.Cmp, len(cmps))
	reads := make([]clientv3.Op, len(cmps)) // on failure, to say which
	for i, c := range cmps {
		k := e.prefix + c.Key
		if c.ModRev == 0 {
			conds[i] = clientv3.Compare(clientv3.CreateRevision(k), "=", 0)
		} else {
			conds[i] = clientv3.Compare(clientv3.ModRevision(k), "=", c.ModRev)
		}
		reads[i] = clientv3.OpGet(k, clientv3.WithKeysOnly())
	}
	writes := make([]clientv3.Op, len(ops))
	for i, op := range ops {
		k := e.prefix + op.Key
		switch {
		case op.DeletePrefix:
			writes[i] = clientv3.OpDelete(k, clientv3.WithPrefix())
		case op.Delete:
			writes[i] = clientv3.OpDelete(k)
		default:
			writes[i] = clientv3.OpPut(k, string(op.Value))
		}
	}
	resp, err := e.cli.Txn(ctx).If(conds...).Then(writes...).Else(reads...).Commit()
	if err != nil {
		return 0, e.creds.explain("txn", err)
	}
	if !resp.Succeeded {
		for i, c := range cmps {
			var have int64
			if r := resp.Responses[i].GetResponseRange(); r != nil && len(r.Kvs) > 0 {
				have = r.Kvs[0].ModRevision
			}
			if have != c.ModRev {
				return 0, conflict(c.Key, have, c.ModRev)
			}
		}
		return 0, fmt.Errorf("%w: a compared key changed", ErrConflict)
	}
	return resp.Header.Revision, nil
}

// Watch reports each revision after afterRev that changed a key under
// prefix. It rides out etcd restarts and lost connections (the client
// resumes after the last revision it delivered) and ends with
// ErrCompacted when etcd no longer has the revisions asked for, or
// ErrUnavailable when etcd cancels the watch (a member with no leader,
// lost permission) or the store is closed.
func (e *Etcd) Watch(ctx context.Context, prefix string, afterRev int64) <-chan Event {
	out := make(chan Event)
	go func() {
		defer close(out)
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		defer cancel()
		start := max(afterRev, 0) + 1
		send := func(ev Event) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range e.cli.Watch(wctx, e.prefix+prefix, clientv3.WithPrefix(), clientv3.WithRev(start)) {
			if err := resp.Err(); err != nil {
				if ctx.Err() != nil {
					return
				}
				if resp.CompactRevision != 0 {
					err = fmt.Errorf("%w: etcd keeps revisions from %d, asked from %d", ErrCompacted, resp.CompactRevision, start)
				} else {
					err = fmt.Errorf("%w: watch %q: %w", ErrUnavailable, prefix, err)
				}
				send(Event{Err: err})
				return
			}
			// A revision's events arrive together, in one response.
			var ev Event
			for _, we := range resp.Events {
				rev := we.Kv.ModRevision
				if rev <= afterRev {
					continue
				}
				if rev != ev.Rev && ev.Rev != 0 {
					if !send(sorted(ev)) {
						return
					}
					ev = Event{}
				}
				ev.Rev = rev
				ev.Keys = append(ev.Keys, strings.TrimPrefix(string(we.Kv.Key), e.prefix))
			}
			if ev.Rev != 0 && !send(sorted(ev)) {
				return
			}
		}
		if ctx.Err() == nil {
			send(Event{Err: fmt.Errorf("%w: watch %q: store closed", ErrUnavailable, prefix)})
		}
	}()
	return out
}

// Rev is etcd's current revision.
func (e *Etcd) Rev(ctx context.Context) (int64, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix, clientv3.WithCountOnly())
	if err != nil {
		return 0, e.creds.explain("rev", err)
	}
	return resp.Header.Revision, nil
}

// Close closes the client and ends its watches.
func (e *Etcd) Close() error {
	if err := e.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("store: close etcd: %w", err)
	}
	return nil
}

// bound gives ctx the request timeout when it has no deadline.
func (e *Etcd) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, e.reqTimeout)
}

// etcdErr prefixes an etcd client error with what failed, and marks as
// ErrUnavailable those that mean etcd could not be reached or could not
// answer in time (keeping the cause, and context.DeadlineExceeded, in
// the chain).
func etcdErr(what string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

func unavailable(err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, context.Canceled):
		return false
	}
	var coded interface{ Code() codes.Code }
	if errors.As(err, &coded) {
		return coded.Code() == codes.Unavailable || coded.Code() == codes.DeadlineExceeded
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// sorted puts an event's keys in order, once each, as the embedded
// store gives them.
func sorted(ev Event) Event {
	slices.Sort(ev.Keys)
	ev.Keys = slices.Compact(ev.Keys)
	return ev
}
