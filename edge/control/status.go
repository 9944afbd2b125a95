package control

import (
	"net/http"
	"slices"
	"strings"
)

// readyz says only whether the node serves its first snapshot of the
// tenant layer: anyone may ask, so it names no error (they may name
// tenants); GET /v1/status, with a token, says why.
func (a *Admin) readyz(w http.ResponseWriter, r *http.Request) error {
	if !a.api.Status().Ready {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false}, 0, 0)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ready": true}, 0, 0)
}

// status is the node's view of the tenant layer, for a token: the
// operator's sees the last error whole; a tenant's, only what of it is
// about that tenant.
func (a *Admin) status(w http.ResponseWriter, r *http.Request) error {
	p, err := a.caller(r)
	if err != nil {
		return err
	}
	st := a.api.Status()
	if !p.operator {
		st.LastError = st.tenantErrs[p.tenant]
	}
	return writeJSON(w, http.StatusOK, st, 0, 0)
}

func (a *Admin) nodes(w http.ResponseWriter, r *http.Request) error {
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	kvs, _, err := a.api.Store.List(r.Context(), nodesPrefix)
	if err != nil {
		return err
	}
	out := struct {
		Nodes []NodeStatus `json:"nodes"`
	}{[]NodeStatus{}}
	for _, kv := range kvs {
		var d nodeDoc
		if unjson(kv.Value, &d) == nil {
			out.Nodes = append(out.Nodes, NodeStatus(d))
		}
	}
	slices.SortFunc(out.Nodes, func(x, y NodeStatus) int { return strings.Compare(x.Node, y.Node) })
	return writeJSON(w, http.StatusOK, out, 0, 0)
}
