package node

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

// TestStoreTLS: two nodes whose node files set store.tls share an etcd
// that speaks only TLS and wants a client certificate. A tenant applied
// through one node's admin API is written to etcd and served by the
// other, which took the change from its own watch. The second node's
// file names its endpoint as host:port (dialled as https://) and its
// files relative to the node file's directory. A third node, whose CA
// file is another authority's, never reads the store and says why.
func TestStoreTLS(t *testing.T) {
	e := storetest.StartEtcdTLS(t)
	files := e.ClientTLS()
	endpoint := e.Endpoints()[0]

	parse := func(yaml, baseDir string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(yaml), "wedge.yaml", baseDir)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	writer := parse(fmt.Sprintf(`admin: 127.0.0.1:0
data_dir: %s
listeners: [{name: http, address: "127.0.0.1:0"}]
store:
  type: etcd
  endpoints: [%s]
  prefix: /tls-node/
  tls: {ca_file: %s, cert_file: %s, key_file: %s}
`, t.TempDir(), endpoint, files.CAFile, files.CertFile, files.KeyFile), "")
	dir := filepath.Dir(files.CAFile)
	if filepath.Dir(files.CertFile) != dir || filepath.Dir(files.KeyFile) != dir {
		t.Fatalf("the client files are not in one directory: %+v", files)
	}
	reader := parse(fmt.Sprintf(`data_dir: %s
listeners: [{name: http, address: "127.0.0.1:0"}]
store:
  type: etcd
  endpoints: [%s]
  prefix: /tls-node/
  tls: {ca_file: %s, cert_file: %s, key_file: %s, server_name: localhost}
`, t.TempDir(), strings.TrimPrefix(endpoint, "https://"),
		filepath.Base(files.CAFile), filepath.Base(files.CertFile), filepath.Base(files.KeyFile)), dir)

	a := startNode(t, writer)
	b := startNode(t, reader)
	mustAdmin(t, a, 201, "PUT", "/v1/tenants/acme", "")
	mustAdmin(t, a, 201, "PUT", "/v1/tenants/acme/domains/app.test", "")
	mustAdmin(t, a, 200, "PUT", "/v1/tenants/acme/routes", respondRoutes("over tls"))
	served(t, b, "app.test", "over tls")
	if st := b.Status(); !st.StoreOK {
		t.Errorf("the reading node's status: %+v, want the store reachable", st)
	}

	// A node given another authority's CA file never reads the store,
	// and its status says why.
	other := *reader
	other.DataDir = t.TempDir()
	otherTLS := *reader.Store.TLS
	otherTLS.CAFile = e.Untrusted().CAFile
	other.Store.TLS = &otherTLS
	c := startNode(t, &other)
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a bound
	for st := c.Status(); !strings.Contains(st.LastError, "etcd's certificate is not trusted"); st = c.Status() {
		if st.StoreOK {
			t.Fatalf("a node that does not trust etcd's certificate reads the store: %+v", st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("status last_error %q: want it to say etcd's certificate is not trusted", st.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
