package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

func rules(rs ...map[string]any) string {
	b, err := json.Marshal(map[string]any{"rules": rs})
	if err != nil {
		panic(err)
	}
	return string(b)
}

type r = map[string]any

func TestRewrite(t *testing.T) {
	tests := []struct {
		name   string
		config string
		method string // default GET
		host   string // :authority; default site.test
		path   string
		// wantPath is the :path after the filter when the request goes
		// on; wantStatus and wantLocation describe a redirect.
		wantPath     string
		wantStatus   int
		wantLocation string
	}{
		{name: "rewrite with a group", config: rules(r{"match": "^/old/(.*)$", "rewrite": "/new/$1"}),
			path: "/old/a/b", wantPath: "/new/a/b"},
		{name: "query kept by default", config: rules(r{"match": "^/old/(.*)$", "rewrite": "/new/$1"}),
			path: "/old/a?x=1&y=2", wantPath: "/new/a?x=1&y=2"},
		{name: "query appended to the template's own", config: rules(r{"match": "^/old/(.*)$", "rewrite": "/new?page=$1"}),
			path: "/old/3?x=1", wantPath: "/new?page=3&x=1"},
		{name: "template ending in ?", config: rules(r{"match": "^/a$", "rewrite": "/b?"}),
			path: "/a?x=1", wantPath: "/b?x=1"},
		{name: "query dropped", config: rules(r{"match": "^/old/(.*)$", "rewrite": "/new/$1", "query": "drop"}),
			path: "/old/a?x=1", wantPath: "/new/a"},
		{name: "drop keeps the template's query", config: rules(r{"match": "^/old$", "rewrite": "/new?v=2", "query": "drop"}),
			path: "/old?x=1", wantPath: "/new?v=2"},
		{name: "empty query", config: rules(r{"match": "^/old$", "rewrite": "/new"}),
			path: "/old?", wantPath: "/new"},
		{name: "match is on the path only", config: rules(r{"match": "^/a$", "rewrite": "/b"}),
			path: "/a?to=/c", wantPath: "/b?to=/c"},
		{name: "named groups and $$", config: rules(r{"match": "^/u/(?P<user>[^/]+)/(?P<tab>\\w+)$", "rewrite": "/users/${user}/$$/${tab}-${1}x"}),
			path: "/u/ann/posts", wantPath: "/users/ann/$/posts-annx"},
		{name: "no match", config: rules(r{"match": "^/old/", "rewrite": "/new"}),
			path: "/other/old/", wantPath: "/other/old/"},
		{name: "first matching rule wins", config: rules(
			r{"match": "^/a/b", "rewrite": "/first"},
			r{"match": "^/a", "rewrite": "/second"}),
			path: "/a/b/c", wantPath: "/first"},
		{name: "later rule when the first does not match", config: rules(
			r{"match": "^/a/b", "rewrite": "/first"},
			r{"match": "^/a", "rewrite": "/second"}),
			path: "/a/x", wantPath: "/second"},
		{name: "methods", config: rules(
			r{"match": "^/api", "rewrite": "/write", "methods": []string{"post", "PUT"}},
			r{"match": "^/api", "rewrite": "/read"}),
			method: "PUT", path: "/api", wantPath: "/write"},
		{name: "methods not matched", config: rules(
			r{"match": "^/api", "rewrite": "/write", "methods": []string{"POST"}},
			r{"match": "^/api", "rewrite": "/read"}),
			method: "GET", path: "/api", wantPath: "/read"},
		{name: "host, port and case aside", config: rules(r{"match": "^/", "rewrite": "/shop", "host": "Shop.Example.com"}),
			host: "SHOP.example.com:8443", path: "/", wantPath: "/shop"},
		{name: "host not matched", config: rules(r{"match": "^/", "rewrite": "/shop", "host": "shop.example.com"}),
			host: "www.example.com", path: "/", wantPath: "/"},
		{name: "wildcard host", config: rules(r{"match": "^/", "rewrite": "/sub", "host": "*.example.com"}),
			host: "a.b.example.com", path: "/", wantPath: "/sub"},
		{name: "wildcard does not match the apex", config: rules(r{"match": "^/", "rewrite": "/sub", "host": "*.example.com"}),
			host: "example.com", path: "/", wantPath: "/"},
		{name: "wildcard does not match a longer name", config: rules(r{"match": "^/", "rewrite": "/sub", "host": "*.example.com"}),
			host: "evilexample.com", path: "/", wantPath: "/"},
		{name: "IPv6 host", config: rules(r{"match": "^/", "rewrite": "/v6", "host": "[2001:db8::1]"}),
			host: "[2001:db8::1]:8080", path: "/", wantPath: "/v6"},

		{name: "redirect, default 302, query kept", config: rules(r{"match": "^/blog/(.*)$", "redirect": "https://blog.example.com/$1"}),
			path: "/blog/post-1?utm=x", wantStatus: 302, wantLocation: "https://blog.example.com/post-1?utm=x"},
		{name: "redirect 301, query dropped", config: rules(r{"match": "^/old$", "redirect": "/new", "status": 301, "query": "drop"}),
			path: "/old?x=1", wantStatus: 301, wantLocation: "/new"},
		{name: "redirect 307", config: rules(r{"match": "^/a$", "redirect": "/b", "status": 307}),
			method: "POST", path: "/a", wantStatus: 307, wantLocation: "/b"},
		{name: "redirect 308, query before the fragment", config: rules(r{"match": "^/doc/(\\w+)$", "redirect": "https://docs.example.com/v2?p=$1#top", "status": 308}),
			path: "/doc/intro?lang=en", wantStatus: 308, wantLocation: "https://docs.example.com/v2?p=intro&lang=en#top"},
		{name: "local redirect cannot become protocol-relative", config: rules(r{"match": "^/go(.*)$", "redirect": "/$1"}),
			path: "/go//evil.example/x", wantStatus: 302, wantLocation: "/evil.example/x"},
		{name: "local redirect with backslashes", config: rules(r{"match": "^/go(.*)$", "redirect": "/$1"}),
			path: "/go/\\evil.example", wantStatus: 302, wantLocation: "/evil.example"},
		{name: "rewrite before a redirect that also matches", config: rules(
			r{"match": "^/x", "rewrite": "/y"},
			r{"match": "^/x", "redirect": "/z"}),
			path: "/x", wantPath: "/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			p, err := h.NewPlugin(newPlugin, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			method, host := tt.method, tt.host
			if method == "" {
				method = "GET"
			}
			if host == "" {
				host = "site.test"
			}
			s := p.NewStream()
			a := s.SendRequestHeaders(sdktest.Headers(":method", method, ":authority", host, ":path", tt.path, "accept", "*/*"), true)
			lr := s.LocalResponse()
			if tt.wantStatus == 0 {
				if a != sdk.Continue || lr != nil {
					t.Fatalf("action %v, local response %+v; want the request to go on", a, lr)
				}
				want := sdktest.Headers(":method", method, ":authority", host, ":path", tt.wantPath, "accept", "*/*")
				if got := s.RequestHeaders(); !equalHeaders(got, want) {
					t.Errorf("request headers:\n got %v\nwant %v", got, want)
				}
				return
			}
			if a != sdk.Pause || lr == nil {
				t.Fatalf("action %v, local response %+v; want a redirect", a, lr)
			}
			if lr.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", lr.StatusCode, tt.wantStatus)
			}
			if len(lr.Headers) != 1 || lr.Headers[0].Name != "location" || lr.Headers[0].Value != tt.wantLocation {
				t.Errorf("headers %v, want only location: %s", lr.Headers, tt.wantLocation)
			}
		})
	}
}

func equalHeaders(a, b []sdk.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRewriteHostHeader uses Host when the request has no :authority.
func TestRewriteHostHeader(t *testing.T) {
	h := sdktest.NewHost(t)
	p, err := h.NewPlugin(newPlugin, rules(r{"match": "^/$", "rewrite": "/h", "host": "a.test"}))
	if err != nil {
		t.Fatal(err)
	}
	s := p.NewStream()
	s.SendRequestHeaders(sdktest.Headers(":path", "/", "host", "a.test."), true)
	if got := s.RequestHeaders()[0].Value; got != "/h" {
		t.Errorf(":path %q, want /h", got)
	}
	// No :path at all: nothing to do.
	s = p.NewStream()
	if a := s.SendRequestHeaders(sdktest.Headers("host", "a.test"), true); a != sdk.Continue || s.LocalResponse() != nil {
		t.Errorf("a request without :path: %v %+v", a, s.LocalResponse())
	}
}

func TestRewriteBadConfig(t *testing.T) {
	tests := []struct {
		name, config string
		want         []string
	}{
		{"empty", ``, []string{"rules: at least one rule is required"}},
		{"no rules", `{"rules":[]}`, []string{"rules: at least one rule is required"}},
		{"unknown field", `{"rules":[{"match":"^/","rewrite":"/","to":"/x"}]}`, []string{`unknown field "to"`}},
		{"bad regex", rules(r{"match": "^/(a", "rewrite": "/b"}), []string{"rules[0].match: error parsing regexp: missing closing )"}},
		{"perl syntax RE2 lacks", rules(r{"match": "^/(?=a)", "rewrite": "/b"}), []string{"rules[0].match: error parsing regexp"}},
		{"no match", rules(r{"rewrite": "/b"}), []string{"rules[0].match: a regular expression is required"}},
		{"both rewrite and redirect", rules(r{"match": "^/", "rewrite": "/b", "redirect": "/c"}),
			[]string{"rules[0].rewrite: a rule either rewrites or redirects"}},
		{"neither", rules(r{"match": "^/"}), []string{"rules[0].rewrite: give rewrite (a new path) or redirect"}},
		{"redirect status not 3xx", rules(r{"match": "^/", "redirect": "/b", "status": 200}),
			[]string{"rules[0].status: 200 is not a redirect status"}},
		{"redirect status 304", rules(r{"match": "^/", "redirect": "/b", "status": 304}), []string{"rules[0].status: 304 is not a redirect status"}},
		{"status on a rewrite", rules(r{"match": "^/", "rewrite": "/b", "status": 301}), []string{"rules[0].status: only for redirect rules"}},
		{"rewrite not a path", rules(r{"match": "^/", "rewrite": "b"}), []string{`rules[0].rewrite: "b": a path must start with /`}},
		{"rewrite with a fragment", rules(r{"match": "^/", "rewrite": "/b#c"}), []string{"rules[0].rewrite: \"/b#c\": a path has no fragment"}},
		{"rewrite with a space", rules(r{"match": "^/", "rewrite": "/a b"}), []string{`rules[0].rewrite: "/a b": byte ' ' at 2`}},
		{"group out of range", rules(r{"match": "^/(a)$", "rewrite": "/$2"}), []string{`rules[0].rewrite: "/$2": $2 is not a group of the match`}},
		{"$1x", rules(r{"match": "^/(a)$", "rewrite": "/$1x"}), []string{`$1x is not a group of the match (for group 1 followed by "x" write ${1}x)`}},
		{"unknown named group", rules(r{"match": "^/(?P<id>\\d+)$", "rewrite": "/${name}"}), []string{"$name is not a group"}},
		{"lone $", rules(r{"match": "^/$", "rewrite": "/a$"}), []string{"a lone $ (write $$ for a dollar sign)"}},
		{"unclosed ${", rules(r{"match": "^/(a)$", "rewrite": "/${1"}), []string{"${ without a closing }"}},
		{"redirect to a relative path", rules(r{"match": "^/", "redirect": "b"}), []string{`rules[0].redirect: "b": want a path starting with / or an http:// or https:// URL`}},
		{"redirect protocol-relative", rules(r{"match": "^/", "redirect": "//evil.example/"}), []string{"want a path starting with / or an http"}},
		{"redirect to another scheme", rules(r{"match": "^/", "redirect": "javascript://x/"}), []string{"want a path starting with / or an http"}},
		{"redirect host from a group", rules(r{"match": "^/(.*)$", "redirect": "https://$1.example.com/"}),
			[]string{"the host part may not hold a group ($), userinfo (@) or backslash"}},
		{"redirect with userinfo", rules(r{"match": "^/", "redirect": "https://example.com@evil.example/"}), []string{"userinfo (@)"}},
		{"redirect without host", rules(r{"match": "^/", "redirect": "https:///x"}), []string{"the URL has no host"}},
		{"bad query", rules(r{"match": "^/", "rewrite": "/", "query": "merge"}), []string{`rules[0].query: "merge": want "keep" or "drop"`}},
		{"bad method", rules(r{"match": "^/", "rewrite": "/", "methods": []string{"GET", "BAD METHOD"}}), []string{`rules[0].methods[1]: "BAD METHOD" is not a method name`}},
		{"bad host", rules(r{"match": "^/", "rewrite": "/", "host": "example.com:8080"}), []string{`rules[0].host: "example.com:8080": want a host name`}},
		{"bad wildcard", rules(r{"match": "^/", "rewrite": "/", "host": "*."}), []string{"rules[0].host: \"*.\": a wildcard needs a domain"}},
		{"inner wildcard", rules(r{"match": "^/", "rewrite": "/", "host": "a.*.example.com"}), []string{"rules[0].host"}},
		{"each rule named by its index, all at once", rules(
			r{"match": "^/ok", "rewrite": "/fine"},
			r{"match": "(", "rewrite": "/x"},
			r{"match": "^/", "redirect": "/y", "status": 404},
			r{"match": "^/", "rewrite": "/z", "redirect": "/w"}),
			[]string{"rules[1].match", "rules[2].status: 404", "rules[3].rewrite: a rule either"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			_, err := h.NewPlugin(newPlugin, tt.config)
			if err == nil {
				t.Fatal("the configuration was accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q\ndoes not say %q", err, w)
				}
			}
			if !h.Logged(sdk.LevelError, tt.want[0]) {
				t.Errorf("the reason was not logged at error level: %v", h.Logs())
			}
		})
	}
}
