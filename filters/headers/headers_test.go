package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

var h = sdktest.Headers

func TestHeaders(t *testing.T) {
	tests := []struct {
		name         string
		config       string
		request      []sdk.Header
		response     []sdk.Header
		wantRequest  []sdk.Header
		wantResponse []sdk.Header
	}{
		{
			name:        "request set add remove",
			config:      `{"request":{"set":{"x-set":"new"},"add":{"x-add":"2"},"remove":["x-gone"]}}`,
			request:     h(":path", "/", "x-set", "old", "x-add", "1", "x-gone", "a", "x-gone", "b"),
			wantRequest: h(":path", "/", "x-set", "new", "x-add", "1", "x-add", "2"),
			response:    h(":status", "200", "x-set", "untouched"), wantResponse: h(":status", "200", "x-set", "untouched"),
		},
		{
			name:         "response only",
			config:       `{"response":{"set":{"Strict-Transport-Security":"max-age=63072000"},"remove":["Server","x-powered-by"]}}`,
			request:      h(":path", "/", "server", "client-sent"),
			wantRequest:  h(":path", "/", "server", "client-sent"),
			response:     h(":status", "200", "server", "origin/1.0", "x-powered-by", "php"),
			wantResponse: h(":status", "200", "strict-transport-security", "max-age=63072000"),
		},
		{
			name:         "both sides, sorted order, absent removals",
			config:       `{"request":{"set":{"x-b":"2","x-a":"1"},"remove":["x-none"]},"response":{"add":{"x-z":"26","x-y":"25"}}}`,
			request:      h(":path", "/"),
			wantRequest:  h(":path", "/", "x-a", "1", "x-b", "2"),
			response:     h(":status", "204"),
			wantResponse: h(":status", "204", "x-y", "25", "x-z", "26"),
		},
		{
			name:         "set then add the same header",
			config:       `{"response":{"set":{"vary":"accept"},"add":{"vary":"origin"}}}`,
			response:     h(":status", "200", "vary", "cookie"),
			wantResponse: h(":status", "200", "vary", "accept", "vary", "origin"),
		},
		{
			name:        "empty value and value with inner spaces",
			config:      `{"request":{"set":{"x-empty":"","x-sp":"a b\tc"}}}`,
			request:     h(":path", "/"),
			wantRequest: h(":path", "/", "x-empty", "", "x-sp", "a b\tc"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := sdktest.NewHost(t)
			p, err := host.NewPlugin(newPlugin, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			s := p.NewStream()
			if a := s.SendRequestHeaders(tt.request, true); a != sdk.Continue {
				t.Errorf("request action %v", a)
			}
			if a := s.SendResponseHeaders(tt.response, true); a != sdk.Continue {
				t.Errorf("response action %v", a)
			}
			s.Finish()
			if got := s.RequestHeaders(); !slices.Equal(got, tt.wantRequest) {
				t.Errorf("request headers\n got %v\nwant %v", got, tt.wantRequest)
			}
			if got := s.ResponseHeaders(); !slices.Equal(got, tt.wantResponse) {
				t.Errorf("response headers\n got %v\nwant %v", got, tt.wantResponse)
			}
			if s.LocalResponse() != nil {
				t.Errorf("unexpected local response %+v", s.LocalResponse())
			}
			if logs := host.Logs(); len(logs) != 0 {
				t.Errorf("unexpected logs %v", logs)
			}
		})
	}
}

func TestBadConfigRefused(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string // every one must be in the error
	}{
		{"empty", ``, []string{"nothing to do"}},
		{"empty object", `{}`, []string{"nothing to do"}},
		{"empty side", `{"request":{}}`, []string{"request: no operations"}},
		{"unknown top-level field", `{"requests":{"set":{"x":"1"}}}`, []string{`unknown field "requests"`}},
		{"unknown operation", `{"request":{"replace":{"x":"1"}}}`, []string{`unknown field "replace"`}},
		{"wrong type", `{"request":{"remove":"x-a"}}`, []string{"cannot unmarshal"}},
		{"space in name", `{"request":{"set":{"x a":"1"}}}`, []string{`request.set["x a"]: invalid header name`}},
		{"colon in name", `{"response":{"add":{"x:a":"1"}}}`, []string{`response.add["x:a"]: invalid header name`}},
		{"empty name", `{"request":{"remove":[""]}}`, []string{`request.remove[""]: empty header name`}},
		{"pseudo-header", `{"request":{"set":{":path":"/admin"}}}`, []string{`request.set[":path"]: pseudo-headers`}},
		{"framing header", `{"request":{"set":{"Content-Length":"0"}}}`, []string{`request.set["Content-Length"]: header content-length cannot be changed`}},
		{"host header", `{"request":{"remove":["host"]}}`, []string{"rewrite filter"}},
		{"CRLF in value", `{"response":{"set":{"x-a":"1\r\nset-cookie: x=1"}}}`, []string{`response.set["x-a"]: invalid header value: control byte`}},
		{"NUL in value", `{"response":{"add":{"x-a":"a\u0000b"}}}`, []string{`response.add["x-a"]: invalid header value`}},
		{"surrounding space", `{"request":{"set":{"x-a":" 1"}}}`, []string{"leading or trailing whitespace"}},
		{"same name twice by case", `{"request":{"set":{"X-A":"1","x-a":"2"}}}`, []string{`same header as request.set["X-A"]`}},
		{"set and removed", `{"request":{"set":{"x-a":"1"},"remove":["X-A"]}}`, []string{`request.set["x-a"]: also removed by request.remove["X-A"]`}},
		{"every error reported", `{"request":{"set":{"x a":"1"}},"response":{"remove":["te"]}}`,
			[]string{`request.set["x a"]`, `response.remove["te"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := sdktest.NewHost(t)
			_, err := host.NewPlugin(newPlugin, tt.config)
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if !host.Logged(sdk.LevelError, tt.want[0]) {
				t.Errorf("the reason was not logged at error level: %v", host.Logs())
			}
		})
	}
}

// TestStatelessFilter pins that streams share the plugin as their filter:
// a request costs the SDK no filter allocation.
func TestStatelessFilter(t *testing.T) {
	p, err := newPlugin(sdk.PluginConfig{Data: []byte(`{"request":{"set":{"x":"1"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if p.NewFilter() != p.NewFilter() {
		t.Error("NewFilter returns a new filter per stream")
	}
}
