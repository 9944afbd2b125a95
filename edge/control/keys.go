package control

import (
	"encoding/json"
	"strings"
	"time"
)

// The tenant layer's keys in the store (relative to its prefix). Every
// key of a tenant lives under "tenants/NAME/", so one List reads a
// tenant whole and one Watch of "tenants/" sees every change a node must
// apply. Two indexes sit beside it, written in the same transactions:
// domains/DOMAIN (a domain belongs to at most one tenant: its creation
// compares absent) and tokens/SHA256 (a token's tenant, found with one
// read). nodes/NAME records the revision each node serves.
const (
	tenantsPrefix = "tenants/"
	domainsPrefix = "domains/"
	tokensPrefix  = "tokens/"
	nodesPrefix   = "nodes/"
)

func tenantPrefix(t string) string       { return tenantsPrefix + t + "/" }
func tenantKey(t string) string          { return tenantPrefix(t) + "tenant" }
func serialKey(t string) string          { return tenantPrefix(t) + "serial" }
func routesKey(t string) string          { return tenantPrefix(t) + "routes" }
func tenantDomainKey(t, d string) string { return tenantPrefix(t) + "domains/" + d }
func tenantTokenKey(t, id string) string { return tenantPrefix(t) + "tokens/" + id }
func upstreamKey(t, name string) string  { return tenantPrefix(t) + "upstreams/" + name }
func filterKey(t, name string) string    { return tenantPrefix(t) + "filters/" + name }
func domainIndexKey(d string) string     { return domainsPrefix + d }
func tokenIndexKey(sumHex string) string { return tokensPrefix + sumHex }
func nodeKey(node string) string         { return nodesPrefix + node }
func moduleRef(sha string) string        { return "sha256:" + sha }
func refSHA(ref string) (string, bool)   { return strings.CutPrefix(ref, "sha256:") }
func jsonOf(v any) []byte                { b, _ := json.Marshal(v); return b }
func unjson(b []byte, v any) error       { return json.Unmarshal(b, v) }
func nowUTC() time.Time                  { return time.Now().UTC().Truncate(time.Second) }

// tenantDoc is what tenants/NAME/tenant holds.
type tenantDoc struct {
	Name    string    `json:"name"`
	Limits  Limits    `json:"limits"`
	Created time.Time `json:"created"`
}

// tokenDoc is what tenants/NAME/tokens/ID holds: never the token itself.
type tokenDoc struct {
	ID          string    `json:"id"`
	SHA256      string    `json:"sha256"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
}

// tokenIndex is what tokens/SHA256 holds.
type tokenIndex struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
}

// domainIndex is what domains/DOMAIN holds.
type domainIndex struct {
	Tenant string `json:"tenant"`
}

// filterDoc is what tenants/NAME/filters/FILTER holds: every version
// uploaded, and which one routes use.
type filterDoc struct {
	Name     string          `json:"name"`
	Current  int             `json:"current"`
	Versions []FilterVersion `json:"versions"`
}

// current returns the version routes use.
func (f *filterDoc) current() FilterVersion {
	for _, v := range f.Versions {
		if v.Version == f.Current {
			return v
		}
	}
	return FilterVersion{}
}

// nodeDoc is what nodes/NAME holds.
type nodeDoc struct {
	Node      string    `json:"node"`
	Revision  int64     `json:"revision"`
	AppliedAt time.Time `json:"applied_at"`
}
