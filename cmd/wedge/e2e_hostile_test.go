package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestE2EHostileTenant (issue 11): tenant A misbehaves in every way at
// once, through the real binary: a filter that loops on every request, a
// memory bomb, a purge flood, an upload flood, floods of unknown tokens,
// and upstream pools aimed at the node's admin API, a loopback port and
// cloud metadata. Tenant B's requests, sent throughout, all succeed; each
// of A's attacks gets a precise refusal or its own failure, never
// another tenant's data or the control plane.
func TestE2EHostileTenant(t *testing.T) {
	origin := startOrigin(t, nil)
	spare := startOrigin(t, nil) // a loopback service the operator did not allow
	sum := sha256.Sum256([]byte(cliOperator))
	cfg := fmt.Sprintf(`listeners:
  - name: http
    address: 127.0.0.1:0
admin: 127.0.0.1:0
admin_token_sha256: %s
data_dir: %s
store: {path: %s}
egress: {allow: [%q]}
tenants:
  - name: bee
    domains: [b.test]
    upstreams:
      - name: origin
        endpoints: [%s]
    routes:
      - upstream: origin
`, hex.EncodeToString(sum[:]), sharedDataDir, filepath.Join(t.TempDir(), "store.db"), origin, origin)
	w := startWedge(t, cfg, "http")
	n := &cliNode{wedgeNode: w, admin: "http://" + w.waitMsg(0, "admin listening").str("addr")}
	front := "http://" + n.addr("http")
	op := map[string]string{"WEDGE_ADMIN": n.admin, "WEDGE_TOKEN": cliOperator}

	// Tenant A, made through the admin API as any tenant is.
	n.ok(t, op, "tenant", "create", "ant")
	n.ok(t, op, "domain", "add", "a.test", "--tenant", "ant")
	r := wedgeCLI(t, op, "token", "create", "--tenant", "ant")
	token := strings.TrimSpace(r.stdout)
	if r.code != 0 || token == "" {
		t.Fatalf("token create: %s", r)
	}
	ten := map[string]string{"WEDGE_ADMIN": n.admin, "WEDGE_TOKEN": token, "WEDGE_TENANT": "ant"}
	n.ok(t, ten, "filter", "push", "hostile", binPath(t, "wat/hostile.wasm"))
	n.ok(t, ten, "upstream", "apply", "origin", "--endpoint", origin)
	// A name is not refused when written (it may resolve anywhere later),
	// but every address it resolves to is checked when dialled.
	adminPort := n.admin[strings.LastIndexByte(n.admin, ':')+1:]
	n.ok(t, ten, "upstream", "apply", "byname", "--endpoint", "localhost:"+adminPort)
	routes := writeCLIFile(t, t.TempDir(), "routes.yaml", `- name: loop
  match: {path_prefix: /loop}
  upstream: origin
  filters:
    - {name: loop, module: hostile, config: "loop:request_headers", limits: {call_deadline: 100ms, instances: 1}}
- name: bomb
  match: {path_prefix: /bomb}
  upstream: origin
  filters:
    - {name: bomb, module: hostile, config: "grow:request_headers", limits: {max_memory_bytes: 16777216, instances: 1}}
- name: ssrf
  match: {path_prefix: /ssrf}
  upstream: byname
- name: ok
  upstream: origin
`)
	n.ok(t, ten, "routes", "apply", "-f", routes)
	n.served(t, "a.test", "/ok", "A's healthy route", func(r *http.Response) bool { return r.StatusCode == 200 })

	// SSRF, refused when written: literal addresses the node's egress
	// policy denies, each naming the field.
	for _, ep := range []string{strings.TrimPrefix(n.admin, "http://"), spare, "169.254.169.254:80", "127.0.0.1:2379"} {
		r := wedgeCLI(t, ten, "upstream", "apply", "evil", "--endpoint", ep)
		if r.code != 1 || !strings.Contains(r.stderr, "egress") || !strings.Contains(r.stderr, "endpoints[0]") {
			t.Errorf("pool aimed at %s: want a refusal naming the field and the egress policy; %s", ep, r)
		}
	}

	// SSRF by name: refused when dialled, naming the policy.
	req, _ := http.NewRequest("POST", front+"/ssrf/v1/tenants", strings.NewReader(`{}`))
	req.Host = "a.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(body), "egress") {
		t.Errorf("a pool named localhost:<admin port>: %d %q, want 502 naming the egress policy", resp.StatusCode, body)
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	attack := func(name string, allowed []int, req func() *http.Request) *atomic.Int64 {
		var count atomic.Int64
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := client.Do(req())
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("%s: %v", name, err)
					}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok := false
				for _, s := range allowed {
					ok = ok || resp.StatusCode == s
				}
				if !ok {
					t.Errorf("%s: status %d, want one of %v", name, resp.StatusCode, allowed)
					return
				}
				count.Add(1)
			}
		})
		return &count
	}
	data := func(method, url, host, bearer string, body []byte) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequest(method, url, bytes.NewReader(body))
			if host != "" {
				req.Host = host
			}
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			return req
		}
	}
	var attacks []*atomic.Int64
	for range 4 {
		// The looping filter: cut at its deadline (503), or refused at
		// once while its instance's queue is full (503).
		attacks = append(attacks, attack("loop", []int{503}, data("GET", front+"/loop", "a.test", "", nil)))
	}
	attacks = append(attacks,
		attack("bomb", []int{503}, data("GET", front+"/bomb", "a.test", "", nil)),
		attack("purge flood", []int{200, 429}, data("POST", n.admin+"/v1/tenants/ant/purge", "", token, []byte(`{"host":"a.test"}`))),
		attack("unknown tokens", []int{401, 429}, func() *http.Request {
			req := data("GET", n.admin+"/v1/tenants/ant/filters", "", rand.Text(), nil)()
			return req
		}),
	)
	wasm, err := os.ReadFile(binPath(t, "wat/add_header.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	var uploads atomic.Int64
	for i := range 2 {
		attacks = append(attacks, attack("upload flood", []int{200, 201, 409, 413, 429}, func() *http.Request {
			// A new module each time: a byte of a custom section differs.
			mod := append(append([]byte(nil), wasm...), 0, 3, 1, 'x', byte(uploads.Add(1)))
			req := data("PUT", fmt.Sprintf("%s/v1/tenants/ant/filters/flood%d", n.admin, i), "", token, mod)()
			req.Header.Set("Content-Type", "application/wasm")
			return req
		}))
	}

	// Tenant B, throughout.
	var served, failed atomic.Int64
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Do(data("GET", front+"/b", "b.test", "", nil)())
		if err != nil {
			t.Fatalf("tenant B: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			failed.Add(1)
			t.Errorf("tenant B got %d while A attacked", resp.StatusCode)
		} else {
			served.Add(1)
		}
	}
	stop()
	wg.Wait()
	var total int64
	for _, a := range attacks {
		total += a.Load()
	}
	t.Logf("tenant B: %d requests served, %d failed, while A's attacks made %d requests", served.Load(), failed.Load(), total)
	if served.Load() == 0 || total == 0 {
		t.Fatalf("nothing measured: B served %d, A's attacks %d", served.Load(), total)
	}
	// The node still serves A's own healthy route.
	n.served(t, "a.test", "/ok", "A's healthy route after the storm", func(r *http.Response) bool { return r.StatusCode == 200 })
}
