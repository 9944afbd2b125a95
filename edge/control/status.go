package control

import (
	"net/http"
	"slices"
	"strings"
)

func (a *Admin) readyz(w http.ResponseWriter, r *http.Request) error {
	st := a.api.Status()
	if !st.Ready {
		msg := st.LastError
		if msg == "" {
			msg = "the tenant layer has not been loaded from the store yet"
		}
		return writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": msg}, 0, 0)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ready": true, "revision": st.Revision}, 0, 0)
}

func (a *Admin) status(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, a.api.Status(), 0, 0)
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
