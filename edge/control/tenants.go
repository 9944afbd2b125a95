package control

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store"
)

// The operator's endpoints: tenants, their limits, domains and tokens.

func (a *Admin) listTenants(w http.ResponseWriter, r *http.Request) error {
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	kvs, _, err := a.api.Store.List(r.Context(), tenantsPrefix)
	if err != nil {
		return err
	}
	states, errs := parseTenants(kvs)
	if len(errs) > 0 {
		return errorf(http.StatusInternalServerError, "%v", errors.Join(errs...))
	}
	out := struct {
		Tenants []Tenant `json:"tenants"`
	}{[]Tenant{}}
	for _, ts := range states {
		out.Tenants = append(out.Tenants, ts.api())
	}
	slices.SortFunc(out.Tenants, func(x, y Tenant) int { return strings.Compare(x.Name, y.Name) })
	return writeJSON(w, http.StatusOK, out, 0, 0)
}

func (a *Admin) getTenant(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ts.api(), ts.rev, 0)
}

// fileTenant refuses to manage a tenant of the node file through the API.
func (a *Admin) fileTenant(name string) error {
	if _, ok := a.tenants.Load().byName[name]; ok {
		return errorf(http.StatusConflict, "tenant %q is defined in the node's configuration file; change it there", name)
	}
	return nil
}

func (a *Admin) putTenant(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	if err := checkTenantName(name); err != nil {
		return err
	}
	if err := a.fileTenant(name); err != nil {
		return err
	}
	var doc tenantBody
	if _, err := readDoc(w, r, "tenant", &doc, true); err != nil {
		return err
	}
	if ps := doc.Limits.Quotas.Validate("limits.quotas"); len(ps) > 0 {
		return invalid(fmt.Sprintf("tenant %q: the change is invalid (%d problem(s)); nothing was changed", name, len(ps)), ps)
	}
	ts, rev, err := a.update(r.Context(), name, func(ts *tenantState) (*change, error) {
		if err := checkMatch(r, fmt.Sprintf("tenant %q", name), ts.rev); err != nil {
			return nil, err
		}
		cand := ts.clone()
		cand.doc.Name, cand.doc.Limits = name, doc.Limits
		if ts.rev == 0 {
			cand.doc.Created = nowUTC()
		}
		if err := a.validate(r, cand, false); err != nil {
			return nil, err
		}
		return &change{
			cmps: []store.Cmp{{Key: tenantKey(name), ModRev: ts.rev}},
			ops:  []store.Op{{Key: tenantKey(name), Value: jsonOf(cand.doc)}},
		}, nil
	})
	if err != nil {
		return err
	}
	out := ts.api()
	out.Limits, out.Revision = doc.Limits, rev
	status := http.StatusOK
	if ts.rev == 0 {
		status = http.StatusCreated
	}
	return writeJSON(w, status, out, rev, rev)
}

func checkTenantName(name string) error {
	t := config.Tenant{Name: name}
	if err := config.ValidateTenant(&t); err != nil {
		return errorf(http.StatusBadRequest, "tenant name %q: must be 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit", name)
	}
	return nil
}

func (a *Admin) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		if err := checkMatch(r, fmt.Sprintf("tenant %q", name), ts.rev); err != nil {
			return nil, err
		}
		ch := &change{
			noSerial: true,
			cmps:     []store.Cmp{{Key: serialKey(name), ModRev: ts.serialRev}},
			ops:      []store.Op{{Key: tenantPrefix(name), DeletePrefix: true}},
		}
		for d := range ts.domains {
			ch.ops = append(ch.ops, store.Op{Key: domainIndexKey(d), Delete: true})
		}
		for _, tok := range ts.tokens {
			ch.ops = append(ch.ops, store.Op{Key: tokenIndexKey(tok.doc.SHA256), Delete: true})
		}
		return ch, nil
	})
	if err != nil {
		return err
	}
	a.collectSoon()
	return noContent(w, rev)
}

func (a *Admin) listDomains(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.scopedTenant(r)
	if err != nil {
		return err
	}
	out := struct {
		Domains []Domain `json:"domains"`
	}{[]Domain{}}
	for _, d := range ts.domainList() {
		out.Domains = append(out.Domains, Domain{Domain: d, Revision: ts.domains[d]})
	}
	return writeJSON(w, http.StatusOK, out, 0, 0)
}

// normDomain checks and lower-cases a domain from a path.
func normDomain(d string) (string, error) {
	if err := config.CheckDomain(d); err != nil {
		return "", errorf(http.StatusBadRequest, "domain: %v", err)
	}
	return strings.ToLower(d), nil
}

func (a *Admin) addDomain(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	d, err := normDomain(r.PathValue("domain"))
	if err != nil {
		return err
	}
	if owner, ok := a.tenants.Load().domainOwner[d]; ok {
		return errorf(http.StatusConflict, "domain %q belongs to tenant %q of the node's configuration file", d, owner)
	}
	existed := false
	ts, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		// If-Match names the revision of the tenant's claim on d: a
		// conditional PUT of a domain not (or no longer) the tenant's is
		// a conflict, not a fresh claim.
		if err := checkMatch(r, fmt.Sprintf("domain %q", d), ts.domains[d]); err != nil {
			return nil, err
		}
		if _, ok := ts.domains[d]; ok {
			existed = true
			return nil, nil
		}
		if q := a.quotasOf(ts); len(ts.domains) >= q.MaxDomains {
			return nil, errorf(http.StatusConflict, "tenant %q: quota max_domains (%d) reached: it has %d domains; nothing was changed", name, q.MaxDomains, len(ts.domains))
		}
		_, err := a.api.Store.Get(r.Context(), domainIndexKey(d))
		switch {
		case err == nil:
			return nil, errorf(http.StatusConflict, "domain %q belongs to another tenant", d)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		return &change{
			cmps: []store.Cmp{{Key: domainIndexKey(d)}},
			ops: []store.Op{
				{Key: domainIndexKey(d), Value: jsonOf(domainIndex{Tenant: name})},
				{Key: tenantDomainKey(name, d), Value: []byte("{}")},
			},
		}, nil
	})
	if err != nil {
		return err
	}
	if existed {
		return writeJSON(w, http.StatusOK, Domain{Domain: d, Tenant: name, Revision: ts.domains[d]}, ts.domains[d], 0)
	}
	return writeJSON(w, http.StatusCreated, Domain{Domain: d, Tenant: name, Revision: rev}, rev, rev)
}

func (a *Admin) removeDomain(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	d, err := normDomain(r.PathValue("domain"))
	if err != nil {
		return err
	}
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		cur, ok := ts.domains[d]
		if !ok {
			return nil, errorf(http.StatusNotFound, "tenant %q has no domain %q", name, d)
		}
		if err := checkMatch(r, fmt.Sprintf("domain %q", d), cur); err != nil {
			return nil, err
		}
		cand := ts.clone()
		delete(cand.domains, d)
		if err := a.validate(r, cand, false); err != nil {
			return nil, err
		}
		return &change{ops: []store.Op{
			{Key: domainIndexKey(d), Delete: true},
			{Key: tenantDomainKey(name, d), Delete: true},
		}}, nil
	})
	if err != nil {
		return err
	}
	return noContent(w, rev)
}

func (a *Admin) createToken(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	var doc tokenBody
	if _, err := readDoc(w, r, "token", &doc, true); err != nil {
		return err
	}
	secret := "wedge_" + randomHex(24)
	sum := sha256.Sum256([]byte(secret))
	td := tokenDoc{ID: "t_" + randomHex(6), SHA256: hex.EncodeToString(sum[:]), Description: doc.Description, Created: nowUTC()}
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		return &change{
			cmps: []store.Cmp{{Key: tokenIndexKey(td.SHA256)}, {Key: tenantTokenKey(name, td.ID)}},
			ops: []store.Op{
				{Key: tenantTokenKey(name, td.ID), Value: jsonOf(td)},
				{Key: tokenIndexKey(td.SHA256), Value: jsonOf(tokenIndex{Tenant: name, ID: td.ID})},
			},
		}, nil
	})
	if err != nil {
		return err
	}
	a.neg.forget(sum)
	return writeJSON(w, http.StatusCreated, Token{ID: td.ID, Token: secret, Description: td.Description, Created: td.Created}, rev, rev)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *Admin) listTokens(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tenant")
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	ts, err := a.existing(r.Context(), name)
	if err != nil {
		return err
	}
	out := struct {
		Tokens []Token `json:"tokens"`
	}{[]Token{}}
	for _, t := range ts.tokens {
		out.Tokens = append(out.Tokens, Token{ID: t.doc.ID, Description: t.doc.Description, Created: t.doc.Created})
	}
	slices.SortFunc(out.Tokens, func(x, y Token) int { return x.Created.Compare(y.Created)*2 + strings.Compare(x.ID, y.ID) })
	return writeJSON(w, http.StatusOK, out, 0, 0)
}

func (a *Admin) revokeToken(w http.ResponseWriter, r *http.Request) error {
	name, id := r.PathValue("tenant"), r.PathValue("id")
	if err := a.operatorOnly(r); err != nil {
		return err
	}
	_, rev, err := a.updateExisting(r.Context(), name, func(ts *tenantState) (*change, error) {
		tok, ok := ts.tokens[id]
		if !ok {
			return nil, errorf(http.StatusNotFound, "tenant %q has no token %q", name, id)
		}
		if err := checkMatch(r, fmt.Sprintf("token %q", id), tok.rev); err != nil {
			return nil, err
		}
		return &change{ops: []store.Op{
			{Key: tenantTokenKey(name, id), Delete: true},
			{Key: tokenIndexKey(tok.doc.SHA256), Delete: true},
		}}, nil
	})
	if err != nil {
		return err
	}
	return noContent(w, rev)
}
