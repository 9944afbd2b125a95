package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLineMapFind(t *testing.T) {
	m := lineMap{
		"listeners":                        1,
		"listeners[0]":                     2,
		"listeners[0].tls":                 4,
		"tenants":                          10,
		"tenants[0]":                       11,
		"tenants[0].routes":                14,
		"tenants[0].routes[1]":             20,
		"tenants[0].routes[1].respond":     21,
		"tenants[0].routes[1].respond.hea": 99, // must not match a cut key
		"tenants[0].routes[1].respond.headers[X.Y]": 23,
	}
	tests := []struct {
		path string
		want int
	}{
		{"listeners", 1},
		{"listeners[0]", 2},
		{"listeners[0].tls", 4},
		{"listeners[0].tls.certificates", 4},              // missing: its parent
		{"listeners[0].tls.certificates[0].cert_file", 4}, // several levels up
		{"listeners[0].address", 2},
		{"listeners[3].address", 1}, // an index that was not written
		{"tenants[0].routes[1].upstream", 20},
		{"tenants[0].routes[1].respond.headers[X.Y]", 23},
		{"tenants[0].routes[1].respond.headers[X-Z]", 21},
		{"tenants[0].routes[1].respond.headers[A.B]", 21},
		{"admin", 0}, // nothing written above a missing top-level field
		{"", 0},
	}
	for _, tt := range tests {
		if got := m.find(tt.path); got != tt.want {
			t.Errorf("find(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

// TestParseLines checks that a problem's line is that of the key or list
// item it names, and that a missing field takes its parent's.
func TestParseLines(t *testing.T) {
	const doc = `listeners:
  - name: x
    tls:
      certificates:
        - key_file: k.pem
tenants:

  - name: a
    upstreams:
      - name: p
    routes:
      -
        match:
          path: /x
          path_regex: y
`
	_, err := Parse([]byte(doc), "", "")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse: %v, want a *config.Error", err)
	}
	want := map[string]int{
		"listeners[0].address":                       2,  // the list item
		"listeners[0].tls.certificates[0].cert_file": 5,  // the list item
		"tenants[0].upstreams[0].endpoints":          10, // the list item
		"tenants[0].routes[0]":                       13, // where its mapping starts, after "-"
		"tenants[0].routes[0].match":                 13, // the key, not "path:"
	}
	got := map[string]int{}
	for _, p := range ce.Problems {
		got[p.Path] = p.Line
	}
	for path, line := range want {
		if got[path] != line {
			t.Errorf("%s: line %d, want %d (problems: %v)", path, got[path], line, err)
		}
	}
}

func TestErrorsAsFieldError(t *testing.T) {
	_, err := Parse([]byte("listeners: [{address: nope}]\nadmin: 'x'\n"), "wedge.yaml", "")
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *FieldError) = false", err)
	}
	if fe.Path != "listeners[0].address" || fe.Line != 1 {
		t.Errorf("first FieldError = %+v, want listeners[0].address at line 1", fe)
	}
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("errors.As(%v, *Error) = %v, want two problems", err, ce)
	}
	// Each problem is in the error's tree, so errors.Is finds it.
	for _, p := range ce.Problems {
		if !errors.Is(err, p) {
			t.Errorf("errors.Is(err, %v) = false", p)
		}
	}
	// Through a caller's wrapping, too.
	wrapped := fmt.Errorf("serve: %w", err)
	if !errors.As(wrapped, &fe) || !errors.As(wrapped, &ce) {
		t.Errorf("errors.As does not see through %%w")
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&FieldError{Path: "a.b", Line: 3, Msg: "bad"}, "a.b: bad (line 3)"},
		{&FieldError{Path: "a.b", Msg: "bad"}, "a.b: bad"},
		{&FieldError{Line: 3, Msg: "bad"}, "bad (line 3)"},
		{&FieldError{Msg: "bad"}, "bad"},
		{&Error{File: "w.yaml", Problems: []*FieldError{{Path: "a", Line: 1, Msg: "bad"}}}, "config: w.yaml: a: bad (line 1)"},
		{&Error{Problems: []*FieldError{{Path: "a", Msg: "bad"}}}, "config: a: bad"},
		{&Error{File: "w.yaml", Problems: []*FieldError{{Path: "a", Line: 1, Msg: "bad"}, {Msg: "worse"}}},
			"config: w.yaml: 2 problems:\n  a: bad (line 1)\n  worse"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// copyFile copies a file of testdata into dir.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadFileRelativePaths checks that LoadFile resolves relative paths
// in the file against the file's directory, not the working directory.
func TestLoadFileRelativePaths(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "etc", "wedge")
	copyFile(t, "testdata/certs/cert.pem", filepath.Join(conf, "tls", "cert.pem"))
	copyFile(t, "testdata/certs/key.pem", filepath.Join(conf, "tls", "key.pem"))
	abs, err := filepath.Abs("testdata/certs/cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	absKey, err := filepath.Abs("testdata/certs/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`listeners:
  - address: ":443"
    tls:
      certificates:
        - cert_file: tls/cert.pem
          key_file: ./tls/key.pem
        - cert_file: %q
          key_file: %q
data_dir: state
`, abs, absKey)
	if err := os.WriteFile(filepath.Join(conf, "wedge.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	// From elsewhere, by absolute path.
	cfg, err := LoadFile(filepath.Join(conf, "wedge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	certs := cfg.Listeners[0].TLS.Certificates
	want := []Certificate{
		{filepath.Join(conf, "tls", "cert.pem"), filepath.Join(conf, "tls", "key.pem")},
		{abs, absKey}, // absolute paths are kept
	}
	if certs[0] != want[0] || certs[1] != want[1] {
		t.Errorf("certificates = %+v, want %+v", certs, want)
	}
	if got := cfg.DataDir; got != filepath.Join(conf, "state") {
		t.Errorf("data_dir = %q, want %q", got, filepath.Join(conf, "state"))
	}

	// By a path relative to the working directory.
	t.Chdir(root)
	cfg, err = LoadFile(filepath.Join("etc", "wedge", "wedge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Listeners[0].TLS.Certificates[0].CertFile, filepath.Join("etc", "wedge", "tls", "cert.pem"); got != want {
		t.Errorf("cert_file = %q, want %q", got, want)
	}
}

func TestParseLeavesPathsWithoutBaseDir(t *testing.T) {
	cfg, err := Parse([]byte(`listeners:
  - address: ":443"
    tls:
      certificates: [{cert_file: testdata/certs/cert.pem, key_file: testdata/certs/key.pem}]
data_dir: state
`), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Listeners[0].TLS.Certificates[0]; c.CertFile != "testdata/certs/cert.pem" || c.KeyFile != "testdata/certs/key.pem" {
		t.Errorf("certificate = %+v, want the paths as written", c)
	}
	if cfg.DataDir != "state" {
		t.Errorf("data_dir = %q, want state", cfg.DataDir)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadFile(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("LoadFile(missing) = %v, want a config: error wrapping fs.ErrNotExist", err)
	}

	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(big)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadFile(big) = %v, want a size error", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listeners: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(bad)
	var ce *Error
	if !errors.As(err, &ce) || ce.File != bad {
		t.Errorf("LoadFile(bad) = %v, want a *config.Error naming %s", err, bad)
	}
}

// TestParseKeepsListIndices is a regression test: yaml.v3 drops a list
// element it cannot decode, so the elements after it were validated, and
// reported, under the wrong index and line.
func TestParseKeepsListIndices(t *testing.T) {
	_, err := Parse([]byte(`listeners: [{address: ":80"}]
tenants:
  - name: a
    upstreams:
      - name: p
        endpoints:
          - "10.0.0.1:80"
          - [oops]
          - nope
`), "", "")
	want := `config: 2 problems:
  tenants[0].upstreams[0].endpoints[1]: want a string, got a list (line 8)
  tenants[0].upstreams[0].endpoints[2]: "nope" is not host:port (line 9)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error:\n%v\nwant:\n%s", err, want)
	}
}

// TestParseAliasBomb checks that nested aliases ("billion laughs") are cut
// off instead of being expanded without bound: here a thousand tenants of a
// thousand routes of a thousand headers, from a file of 15 KB.
func TestParseAliasBomb(t *testing.T) {
	const fan = 1000
	list := func(item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+", ", fan), ", ") + "]"
	}
	doc := `listeners: [{address: ":80"}]
tenants: [
  {name: a, routes: [&r {respond: {}, match: {headers: ` + list("{name: a}") + `}}]},
  &t {name: b, routes: ` + list("*r") + `},
  ` + strings.Trim(list("*t"), "[]") + `]
`
	_, err := Parse([]byte(doc), "bomb.yaml", "")
	want := fmt.Sprintf("config: bomb.yaml: aliases expand to more than %d nodes (line 3)", maxAliasNodes)
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %.500v\nwant %s", err, want)
	}
}
