// Package node assembles a Wedge edge node from its configuration: the
// proxy pipeline, its routing snapshot and the listeners that feed it, and
// applies new configurations live.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control"
	"github.com/wedgeproxy/wedge/edge/control/store"
	"github.com/wedgeproxy/wedge/edge/egress"
	"github.com/wedgeproxy/wedge/edge/listen"
	"github.com/wedgeproxy/wedge/edge/proxy"
	"github.com/wedgeproxy/wedge/runtime"
)

// Node is a running edge node.
type Node struct {
	log     *slog.Logger
	proxy   *proxy.Server
	cache   *cache.Cache
	admin   *control.Admin
	adminLn net.Listener // nil without an admin API
	adminSv *http.Server
	servers []*listen.Server
	certs   []*listen.Certs // per listener; nil for plain ones

	listeners []config.Listener // node layer, fixed at New
	egress    *egress.Policy    // tenants' destinations, fixed at New
	wasm      *runtime.Engine

	store    store.Store
	reloader *control.Reloader
	stop     context.CancelFunc // ends the reloader
	done     chan struct{}      // closed when the reloader has returned

	mu  sync.Mutex
	cfg *config.Config // the configuration in force; Tenants: the file's
	// fromStore are the tenants the store holds, as last applied.
	fromStore []config.Tenant
}

// New builds a node for cfg (already validated) and binds its listeners
// and, when cfg.Admin is set, the admin API, whose operator token is
// adminToken (or cfg.AdminTokenSHA256). Nothing is served until Serve.
func New(cfg *config.Config, log *slog.Logger, adminToken string) (*Node, error) {
	cc := cfg.Cache.WithDefaults()
	c, err := cache.New(cache.Config{MaxBytes: cc.MaxBytes, MaxObjectBytes: cc.MaxObjectBytes, TenantMaxBytes: cacheCaps(cfg.Tenants), TargetedField: cc.TargetedField})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n := &Node{log: log, proxy: proxy.New(c), cache: c, cfg: cfg, listeners: cfg.Listeners}
	n.proxy.UseLogger(log)
	dataDir := cfg.DataDir
	if dataDir == "" {
		dataDir = config.DefaultDataDir
	}
	n.wasm, err = runtime.NewEngine(context.Background(), runtime.Config{
		CacheDir: filepath.Join(dataDir, "wasm-cache"),
		Logger:   log,
	})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.store, err = openStore(cfg, dataDir); err != nil {
		n.wasm.Close(context.Background())
		return nil, fmt.Errorf("node: %w", err)
	}
	maxUpload := cfg.AdminMaxUploadBytes
	if maxUpload == 0 {
		maxUpload = config.DefaultAdminMaxUploadBytes
	}
	modules := control.NewModules(n.store, filepath.Join(dataDir, "modules"), maxUpload)
	// The node's maximums on filter limits bound the filters it starts
	// and every change the admin API accepts.
	caps := cfg.Limits.Filters.WithDefaults()
	n.proxy.UseTenantShare(cfg.Limits.Tenants)
	n.proxy.UseUpstreamMaxConns(cfg.Limits.WithDefaults().UpstreamMaxConnsPerEndpoint)
	n.proxy.UseFilters(proxy.Filters{Engine: n.wasm, Logger: log, Caps: caps, Load: func(ref string) ([]byte, error) {
		if strings.HasPrefix(ref, "sha256:") {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return modules.Loader(ctx)(ref)
		}
		return os.ReadFile(ref)
	}})
	// The admin API is bound first: its address, as bound, is one of
	// the node's own endpoints the egress policy refuses to tenants.
	if cfg.Admin != "" {
		if n.adminLn, err = net.Listen("tcp", cfg.Admin); err != nil {
			n.store.Close()
			n.wasm.Close(context.Background())
			return nil, fmt.Errorf("node: admin: %w", err)
		}
	}
	n.egress = egressPolicy(cfg, n.adminLn, log)
	n.proxy.UseEgress(n.egress)
	snap, err := n.proxy.Build(cfg.Tenants)
	if err != nil {
		if n.adminLn != nil {
			n.adminLn.Close()
		}
		n.store.Close()
		n.wasm.Close(context.Background())
		return nil, fmt.Errorf("node: %w", err)
	}
	n.proxy.Swap(snap)
	name := cfg.NodeName
	if name == "" {
		name, _ = os.Hostname()
	}
	storeType := cfg.Store.Type
	if storeType == "" {
		storeType = config.StoreEmbedded
	}
	n.reloader = &control.Reloader{Store: n.store, StoreType: storeType, Node: name, Apply: n.applyStore, Logger: log}
	if storeType == config.StoreEtcd {
		// A node started while etcd is unreachable serves the last
		// tenant layer it applied (the embedded store is on disk already).
		n.reloader.Cache = filepath.Join(dataDir, "tenants.cache")
	}
	domains := allDomains(cfg)
	for _, lc := range cfg.Listeners {
		var certs *listen.Certs
		if lc.TLS != nil {
			if certs, err = listen.LoadCerts(lc.TLS, domains); err != nil {
				n.closeListeners()
				return nil, fmt.Errorf("node: listener %s: %w", lc.Address, err)
			}
		}
		lim := cfg.Limits.WithDefaults()
		pl := proxy.Listener{Name: lc.Name, TLS: lc.TLS != nil, BodyIdle: lim.BodyIdleTimeout.D(), TunnelIdle: lim.TunnelIdleTimeout.D()}
		for _, c := range lc.TrustedProxies {
			p, _ := config.ParsePrefix(c) // validated
			pl.Trusted = append(pl.Trusted, p)
		}
		srv, err := listen.New(lc, cfg.Limits, n.proxy.Handler(pl), certs, log)
		if err == nil {
			err = srv.Listen()
		}
		if err != nil {
			n.closeListeners()
			return nil, fmt.Errorf("node: %w", err)
		}
		n.servers = append(n.servers, srv)
		n.certs = append(n.certs, certs)
	}
	if cfg.Admin != "" {
		if n.admin, err = control.NewAdmin(adminToken, cfg.AdminTokenSHA256, c); err != nil {
			n.closeListeners()
			return nil, fmt.Errorf("node: admin: %w", err)
		}
		n.admin.SetTenants(cfg.Tenants)
		n.admin.EnableTenantAPI(control.TenantAPI{
			Store: n.store, StoreType: storeType, Engine: n.wasm, Modules: modules,
			MaxUploadBytes: maxUpload, FilterCaps: caps, Egress: n.egress, Status: n.reloader.Status, Logger: log,
			Quotas: cfg.Limits.Quotas, Uploads: cfg.Limits.Uploads,
		})
		n.adminSv = &http.Server{Handler: n.admin, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		if cfg.AdminTLS != nil {
			cert, err := tls.LoadX509KeyPair(cfg.AdminTLS.CertFile, cfg.AdminTLS.KeyFile)
			if err != nil {
				n.closeListeners()
				return nil, fmt.Errorf("node: admin_tls: %w", err)
			}
			n.adminLn = tls.NewListener(n.adminLn, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
	}
	return n, nil
}

// openStore opens the store the node file names.
func openStore(cfg *config.Config, dataDir string) (store.Store, error) {
	sc := cfg.Store
	switch sc.Type {
	case config.StoreEtcd:
		var tlsFiles *store.EtcdTLS
		if t := sc.TLS; t != nil {
			tlsFiles = &store.EtcdTLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName}
		}
		return store.OpenEtcd(store.EtcdConfig{
			Endpoints: sc.Endpoints, Prefix: sc.Prefix, DialTimeout: sc.DialTimeout.D(),
			Username: sc.Username, Password: os.Getenv("WEDGE_ETCD_PASSWORD"),
			TLS: tlsFiles,
		})
	default:
		path := sc.Path
		if path == "" {
			path = filepath.Join(dataDir, "store.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return store.OpenBolt(path)
	}
}

// Ready is closed once the first snapshot of the store's tenant layer is
// active.
func (n *Node) Ready() <-chan struct{} { return n.reloader.Ready() }

// Status is the node's view of the tenant layer.
func (n *Node) Status() control.Status { return n.reloader.Status() }

func (n *Node) closeListeners() {
	for _, s := range n.servers {
		s.Close()
	}
	if n.adminLn != nil {
		n.adminLn.Close()
	}
	n.store.Close()
	n.wasm.Close(context.Background())
}

// AdminAddr is the admin API's bound address, or nil without one.
func (n *Node) AdminAddr() net.Addr {
	if n.adminLn == nil {
		return nil
	}
	return n.adminLn.Addr()
}

func allDomains(cfg *config.Config) []string { return tenantDomains(cfg.Tenants) }

func tenantDomains(ts []config.Tenant) []string {
	var ds []string
	for _, t := range ts {
		ds = append(ds, t.Domains...)
	}
	return ds
}

// Addrs returns the bound address of each listener, in configuration order.
func (n *Node) Addrs() []net.Addr {
	a := make([]net.Addr, len(n.servers))
	for i, s := range n.servers {
		a[i] = s.Addr()
	}
	return a
}

// Serve serves every listener until Shutdown. If one listener fails, the
// others are closed and its error is returned: a node with a dead
// listener must not look healthy.
func (n *Node) Serve() error {
	ctx, stop := context.WithCancel(context.Background())
	n.mu.Lock()
	n.stop, n.done = stop, make(chan struct{})
	n.mu.Unlock()
	go func() {
		defer close(n.done)
		// Purges accepted by any node of the fleet reach this node's
		// cache, admin listener or not.
		purges := &control.PurgeFollower{Store: n.store, Cache: n.cache, Logger: n.log}
		var wg sync.WaitGroup
		wg.Go(func() { purges.Run(ctx) })
		n.reloader.Run(ctx)
		wg.Wait()
	}()
	errs := make(chan error, len(n.servers))
	for i, s := range n.servers {
		attrs := []any{"listener", n.listeners[i].Name, "addr", s.Addr().String(), "tls", n.listeners[i].TLS != nil}
		if u := s.UDPAddr(); u != nil {
			attrs = append(attrs, "http3", u.String())
		}
		n.log.Info("listening", attrs...)
		go func() { errs <- s.Serve() }()
	}
	if n.adminSv != nil {
		n.log.Info("admin listening", "addr", n.adminLn.Addr().String())
		go func() {
			if err := n.adminSv.Serve(n.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("admin API stopped", "err", err)
			}
		}()
	}
	var first error
	for range n.servers {
		if err := <-errs; err != nil && first == nil {
			first = err
			for _, s := range n.servers {
				s.Shutdown(closedContext)
			}
		}
	}
	return first
}

// closedContext is already done: a Shutdown with it closes at once.
var closedContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Apply makes cfg (already validated) the node's configuration: its tenant
// layer and certificates are swapped in atomically, alongside the
// store's tenants; requests in flight finish on the previous snapshot.
// Node-layer changes (listeners, limits, egress, admin, store, data directory)
// need a restart: they are reported and left as they are. On error
// nothing changes.
func (n *Node) Apply(cfg *config.Config) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !reflect.DeepEqual(nodeLayer(n.cfg), nodeLayer(cfg)) {
		n.log.Warn("listener, limits, cache, egress, admin, store and data_dir changes take effect at the next restart; the tenant layer is applied now")
	}
	if err := n.swap(cfg.Tenants, n.fromStore); err != nil {
		return err
	}
	if n.admin != nil {
		n.admin.SetTenants(cfg.Tenants)
	}
	keep := *n.cfg
	keep.Tenants = cfg.Tenants
	n.cfg = &keep
	return nil
}

// applyStore makes tenants, read from the store at revision rev, the
// store's part of the node's tenant layer.
func (n *Node) applyStore(ctx context.Context, tenants []config.Tenant, rev int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.swap(n.cfg.Tenants, tenants)
	if err == nil {
		n.fromStore = tenants
		return nil
	}
	n.log.Warn("the store's tenant layer does not apply as a whole: applying tenant by tenant", "revision", rev, "err", err)
	served, err := n.applyEach(tenants)
	n.fromStore = served
	if err != nil {
		return fmt.Errorf("revision %d: %w", rev, err)
	}
	return nil
}

// swap validates the file's and the store's tenants together, builds
// their snapshot and certificates, and swaps them in. Called with mu
// held. On error nothing changes.
func (n *Node) swap(file, fromStore []config.Tenant) error {
	all := make([]config.Tenant, 0, len(file)+len(fromStore))
	all = append(append(all, file...), fromStore...)
	if len(fromStore) > 0 {
		whole := *n.cfg
		whole.Tenants = all
		if err := whole.Validate(); err != nil {
			return fmt.Errorf("node: the file's and the store's tenants together: %w", err)
		}
	}
	snap, err := n.proxy.Build(all)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	// Certificates are all loaded (files re-read: renewals land on
	// reload) before any is swapped in, so a failure changes nothing.
	domains := tenantDomains(all)
	swaps := make([]func(), 0, len(n.certs))
	for i, c := range n.certs {
		if c == nil {
			continue
		}
		swap, err := c.Prepare(n.listeners[i].TLS, domains)
		if err != nil {
			n.proxy.Discard(snap)
			return fmt.Errorf("node: listener %s: %w", n.listeners[i].Address, err)
		}
		swaps = append(swaps, swap)
	}
	for _, swap := range swaps {
		swap()
	}
	n.proxy.Swap(snap)
	if err := n.cache.SetTenantMaxBytes(cacheCaps(all)); err != nil {
		n.log.Error("tenant cache caps not changed", "err", err) // validated: not expected
	}
	return nil
}

// cacheCaps are the tenants' cache byte caps (cache_max_bytes), set on
// the cache at start and after every swap.
func cacheCaps(ts []config.Tenant) map[string]int64 {
	caps := map[string]int64{}
	for _, t := range ts {
		if t.CacheMaxBytes > 0 {
			caps[t.Name] = t.CacheMaxBytes
		}
	}
	return caps
}

func nodeLayer(c *config.Config) config.Config {
	cp := *c
	cp.Tenants = nil
	return cp
}

// Shutdown drains the node: listeners stop accepting, requests in flight
// finish until ctx ends, then everything left is closed. Long-lived
// upgraded connections (WebSockets) are closed once the HTTP requests are
// done, or when ctx ends.
func (n *Node) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(n.servers))
	for i, s := range n.servers {
		wg.Go(func() { errs[i] = s.Shutdown(ctx) })
	}
	if n.adminSv != nil {
		wg.Go(func() { n.adminSv.Shutdown(ctx) })
	}
	wg.Wait()
	if c := n.proxy.CloseHijacked(); c > 0 {
		n.log.Info("closed upgraded connections", "count", c)
	}
	n.mu.Lock()
	stop, done := n.stop, n.done
	n.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	n.store.Close()
	n.wasm.Close(context.Background())
	return errors.Join(errs...)
}
