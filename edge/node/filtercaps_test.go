package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// TestNodeFilterCapsReachTheAdminAPI: the node file's limits.filters
// bound the routes the admin API accepts, not the defaults: with
// max_instances 2, a route asking for 3 instances (which the default
// maximum, 4, would take) is refused with 400 naming the maximum; 2 are
// accepted. On today's main limits.filters did not exist.
func TestNodeFilterCapsReachTheAdminAPI(t *testing.T) {
	wasm, err := os.ReadFile("../../bin/filters/headers.wasm")
	if err != nil {
		t.Fatalf("%v (run make filters)", err)
	}
	const op = "operator-secret"
	dataDir = t.TempDir()
	cfg := cfgWith("127.0.0.1:9", "hi")
	cfg.Admin = "127.0.0.1:0"
	cfg.Limits.Filters = config.FilterCaps{MaxInstances: 2}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), op)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	admin := "http://" + n.AdminAddr().String()
	do := func(want int, method, path, ctype string, body []byte) string {
		t.Helper()
		req, _ := http.NewRequest(method, admin+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+op)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return string(b)
	}
	do(201, "PUT", "/v1/tenants/globex", "", nil)
	do(201, "PUT", "/v1/tenants/globex/domains/globex.test", "", nil)
	do(201, "PUT", "/v1/tenants/globex/filters/headers", "application/wasm", wasm)
	do(201, "PUT", "/v1/tenants/globex/upstreams/web", "", []byte(`{"endpoints":["127.0.0.1:9"]}`))
	route := func(instances string) []byte {
		return []byte(`{"routes":[{"upstream":"web","filters":[{"name":"h","module":"headers",` +
			`"config":{"response":{"set":{"x-hi":"there"}}},"limits":{"instances":` + instances + `}}]}]}`)
	}
	body := do(400, "PUT", "/v1/tenants/globex/routes", "", route("3"))
	if want := "routes[0].filters[0].limits.instances: 3: the node allows at most 2"; !strings.Contains(body, want) {
		t.Fatalf("PUT routes over the node's max_instances: %s, want it to say %q", body, want)
	}
	do(200, "PUT", "/v1/tenants/globex/routes", "", route("2"))
}
