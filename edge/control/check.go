package control

import (
	"context"
	"errors"
	"net/http"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/proxy"
	"github.com/wedgeproxy/wedge/runtime"
)

// checkModule accepts an uploaded module only if it compiles as a
// Proxy-Wasm filter and starts: _initialize, the root context and
// on_vm_start run in a real instance. A filter that refuses the empty
// plugin configuration is accepted: it needs the configuration its
// routes will give it, which routes are checked with.
//
// The check runs in the namespace uploadNamespace(tenant), which no
// tenant can name, so whatever shared data and queues it touches are
// neither any tenant's nor another tenant's upload check's.
func (a *Admin) checkModule(ctx context.Context, tenant, name string, bin []byte) error {
	m, err := a.api.Engine.Compile(ctx, bin)
	if err != nil {
		return errorf(http.StatusBadRequest, "filter %q: the module is refused: %v", name, err)
	}
	defer m.Close(context.WithoutCancel(ctx))
	p, err := a.api.Engine.NewPlugin(ctx, m, runtime.PluginConfig{Name: name, Namespace: uploadNamespace(tenant), Limits: runtime.Limits{Instances: 1}})
	if err != nil {
		var fe *runtime.FilterError
		if errors.As(err, &fe) && fe.Kind == runtime.Refused && fe.Callback == "proxy_on_configure" {
			return nil
		}
		return errorf(http.StatusBadRequest, "filter %q: the module does not start: %v", name, err)
	}
	p.Close(context.WithoutCancel(ctx))
	return nil
}

// uploadNamespace is the namespace a tenant's uploads are checked in:
// "upload-check/TENANT". Tenant names have no '/', so it is none of
// theirs; one per tenant (not per upload) because the engine keeps a
// namespace's shared data for its life.
func uploadNamespace(tenant string) string { return "upload-check/" + tenant }

// checkFilters compiles and starts every filter of t's routes with its
// configuration and limits, as a node would, then stops them. Modules
// come from pending (by hex SHA-256) or the store, verified.
func (a *Admin) checkFilters(ctx context.Context, t config.Tenant, pending map[string][]byte) error {
	has := false
	for _, r := range t.Routes {
		has = has || len(r.Filters) > 0
	}
	if !has {
		return nil
	}
	s := proxy.New(nil)
	s.UseEgress(a.api.Egress)
	load := a.api.Modules.Loader(ctx)
	s.UseFilters(proxy.Filters{Engine: a.api.Engine, Logger: a.log, Caps: a.api.FilterCaps.WithDefaults(), Load: func(ref string) ([]byte, error) {
		if sha, ok := refSHA(ref); ok && pending[sha] != nil {
			return pending[sha], nil
		}
		return load(ref)
	}})
	snap, err := s.Build([]config.Tenant{t})
	if err != nil {
		return err
	}
	s.Discard(snap) // closes what the check started
	return nil
}
