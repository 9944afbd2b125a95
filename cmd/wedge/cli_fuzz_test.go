package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseApplyFile: any declarative file is either a plan or an error,
// never a panic; a plan's tenants each have a name.
func FuzzParseApplyFile(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "examples", "gitops", "tenants.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("tenants:\n  - name: a\n    domains: [a.test]\n    routes:\n      - respond: {body: x}\n"))
	f.Add([]byte("tenants: [{name: a, filters: [{name: f, module: ./x.wasm}], upstreams: [{name: u, endpoints: ['127.0.0.1:1']}]}]"))
	f.Add([]byte("tenants:\n  - name: a\n    limits: {request_rate: -1, filter_call_deadline: 1y}\n"))
	f.Add([]byte("{"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, err := parseApplyFile("fuzz.yaml", data, dir)
		if err != nil {
			return
		}
		if plan == nil {
			t.Fatal("no plan and no error")
		}
	})
}
