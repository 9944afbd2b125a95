package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// diffInput is one input of FuzzWriteRequestDifferential.
type diffInput struct {
	method, host               string
	path, rawPath, opaque, qry string
	k1, v1, k2, v2, k3, v3     string
	body                       []byte
	chunked                    bool
	trailerKey, trailerValue   string
}

// diffSeeds are the request smuggling and header injection shapes a
// filter can produce, and ordinary requests around them.
var diffSeeds = []diffInput{
	{method: "GET", host: "site.test", path: "/a/b", qry: "x=1&y=2", k1: "Accept", v1: "*/*"},
	{method: "POST", host: "site.test", path: "/p", k1: "Content-Type", v1: "text/plain", body: []byte("hello")},
	// A tab or a space before the colon: parsers disagree on whether
	// this is Transfer-Encoding.
	{method: "POST", host: "h", path: "/", k1: "transfer-encoding\t", v1: "chunked", k2: "Content-Length", v2: "5", body: []byte("0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n")},
	{method: "POST", host: "h", path: "/", k1: "Transfer-Encoding ", v1: "chunked", body: []byte("hello")},
	{method: "POST", host: "h", path: "/", k1: " Transfer-Encoding", v1: "chunked", body: []byte("hello")},
	// Framing from the header map, in every spelling, next to a body.
	{method: "POST", host: "h", path: "/", k1: "content-length", v1: "0", k2: "Content-Length", v2: "50", k3: "CONTENT-LENGTH", v3: "5", body: []byte("hello")},
	{method: "POST", host: "h", path: "/", k1: "transfer-encoding", v1: "chunked", k2: "Transfer-Encoding", v2: "chunked", body: []byte("hello")},
	{method: "GET", host: "h", path: "/", k1: "Content-Length", v1: "5", k2: "Content-Length", v2: "6"},
	{method: "GET", host: "h", path: "/", k1: "host", v1: "evil.test", k2: "Host", v2: "evil.test"},
	{method: "POST", host: "h", path: "/", k1: "Transfer_Encoding", v1: "chunked", k2: "content_length", v2: "0", body: []byte("hello")},
	// Line breaks and control bytes in values and names.
	{method: "GET", host: "h", path: "/", k1: "X-A", v1: "v\r\nTransfer-Encoding: chunked"},
	{method: "GET", host: "h", path: "/", k1: "X-A", v1: "v\nContent-Length: 7"},
	{method: "GET", host: "h", path: "/", k1: "X-A", v1: "v\rX-B: w"},
	{method: "GET", host: "h", path: "/", k1: "X-A", v1: "v\x00w"},
	{method: "GET", host: "h", path: "/", k1: "X-A\x00", v1: "v"},
	{method: "GET", host: "h", path: "/", k1: "X-A\r\nX-B", v1: "v"},
	// obs-fold: a continuation line.
	{method: "GET", host: "h", path: "/", k1: "X-A", v1: "v\r\n folded", k2: "X-B", v2: "v\r\n\tfolded"},
	// A request line in the method.
	{method: "GET /x HTTP/1.1\r\nX:", host: "h", path: "/"},
	{method: "GET /x", host: "h", path: "/"},
	{method: "GET\t/x", host: "h", path: "/"},
	{method: "", host: "h", path: "/"},
	// ... in the target and in the Host.
	{method: "GET", host: "h", path: "/", qry: "a=1 HTTP/1.1\r\nX-Injected: 1"},
	{method: "GET", host: "h", opaque: "/a HTTP/1.1\r\nX-Injected: 1"},
	{method: "GET", host: "h", opaque: "/a%zz"},
	{method: "GET", host: "h", opaque: "x"},
	{method: "GET", host: "h\r\nX-Injected: 1", path: "/"},
	{method: "OPTIONS", host: "h", path: "*"},
	{method: "GET", host: "h", path: "*"},
	{method: "GET", host: "h", path: "/a%2Fb", rawPath: "/a%2Fb"},
	{method: "GET", host: "h", path: "//authority/path"},
	// What parsers add or drop.
	{method: "GET", host: "h", path: "/", k1: "Pragma", v1: "no-cache"},
	{method: "GET", host: "h", path: "/", k1: "X-Pad", v1: " \tpadded \t", k2: "X-Empty", v2: ""},
	{method: "GET", host: "h", path: "/", k1: "User-Agent", v1: "", k2: "user-agent", v2: ""},
	{method: "GET", host: "h", path: "/", k1: "x-dup", v1: "1", k2: "X-Dup", v2: "2", k3: "X-DUP", v3: "3"},
	{method: "GET", host: "h", path: "/", k1: "X-Obs-Text", v1: "caf\xc3\xa9 \xff"},
	// Chunked bodies, trailers included.
	{method: "PUT", host: "h", path: "/c", body: []byte("streamed"), chunked: true, trailerKey: "X-Checksum", trailerValue: "abc"},
	{method: "PUT", host: "h", path: "/c", chunked: true},
	{method: "GET", host: "h", path: "/c", chunked: true, trailerKey: "X-T", trailerValue: "v"},
	{method: "GET", host: "h", path: "/c", body: []byte("a body on a GET"), chunked: true},
	{method: "PUT", host: "h", path: "/c", body: []byte("x"), chunked: true, trailerKey: "Content-Length", trailerValue: "5"},
	{method: "PUT", host: "h", path: "/c", body: []byte("x"), chunked: true, trailerKey: "X-T", trailerValue: "v\r\n0\r\n\r\nGET / HTTP/1.1"},
}

// FuzzWriteRequestDifferential checks the upstream request writer against
// net/http's server-side parser, for arbitrary method, target, Host,
// header fields, body and trailer: either writeRequest refuses the
// request with ErrInvalidRequest, or http.ReadRequest on what it wrote
// reads exactly the same method, target, Host, header fields (each name
// and value), body and trailer, with no byte left over. No input is
// skipped: whatever a filter can put in a request is fair.
func FuzzWriteRequestDifferential(f *testing.F) {
	for _, s := range diffSeeds {
		f.Add(s.method, s.host, s.path, s.rawPath, s.opaque, s.qry, s.k1, s.v1, s.k2, s.v2, s.k3, s.v3,
			s.body, s.chunked, s.trailerKey, s.trailerValue)
	}
	f.Fuzz(func(t *testing.T, method, host, path, rawPath, opaque, qry, k1, v1, k2, v2, k3, v3 string,
		body []byte, chunked bool, trailerKey, trailerValue string) {
		checkDifferential(t, diffInput{method, host, path, rawPath, opaque, qry, k1, v1, k2, v2, k3, v3,
			body, chunked, trailerKey, trailerValue})
	})
}

// TestWriteRequestDifferentialSeeds runs the fuzzer's seeds with plain
// go test, and checks that each smuggling seed is refused.
func TestWriteRequestDifferentialSeeds(t *testing.T) {
	for i, s := range diffSeeds {
		if refused := checkDifferential(t, s); refused != smuggling(s) {
			t.Errorf("seed %d (%q %q %q: %q): refused = %v, want %v", i, s.method, s.path+s.opaque, s.k1, s.v1, refused, !refused)
		}
	}
}

// smuggling reports the seeds that must be refused: every one with a
// control byte or a space where it does not belong, a bad target, or a
// framing trailer.
func smuggling(s diffInput) bool {
	bad := func(x string) bool { return strings.ContainsAny(x, "\x00\r\n") }
	return bad(s.method) || strings.ContainsAny(s.method, " \t") || s.method == "" ||
		bad(s.host) || bad(s.qry) || s.opaque != "" ||
		bad(s.k1+s.v1+s.k2+s.v2+s.k3+s.v3) || strings.ContainsAny(s.k1+s.k2+s.k3, " \t") ||
		s.path == "*" && s.method != "OPTIONS" ||
		s.trailerKey == "Content-Length" || bad(s.trailerValue)
}

// usuallyNoBodyModel lists the methods net/http probes a body of unknown
// length for before it sends one.
func usuallyNoBodyModel(method string) bool {
	return slices.Contains([]string{"GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH"}, method)
}

// checkDifferential writes in's request and parses it back; it reports
// whether the writer refused it.
func checkDifferential(t *testing.T, in diffInput) (refused bool) {
	t.Helper()
	u := &url.URL{Path: in.path, RawPath: in.rawPath, Opaque: in.opaque, RawQuery: in.qry}
	req := &http.Request{Method: in.method, URL: u, Host: in.host, Header: http.Header{}, ContentLength: int64(len(in.body))}
	for _, kv := range [][2]string{{in.k1, in.v1}, {in.k2, in.v2}, {in.k3, in.v3}} {
		if kv[0] != "" || kv[1] != "" {
			req.Header[kv[0]] = append(req.Header[kv[0]], kv[1]) // any spelling, as a filter may
		}
	}
	if len(in.body) > 0 || in.chunked {
		req.Body = io.NopCloser(bytes.NewReader(in.body))
	}
	if in.chunked {
		req.ContentLength = -1
		if in.trailerKey != "" || in.trailerValue != "" {
			req.Trailer = http.Header{in.trailerKey: {in.trailerValue}}
		}
	}
	// An empty body of unknown length on a method that usually has none
	// is not sent at all, trailers included.
	chunked := in.chunked && (len(in.body) > 0 || !usuallyNoBodyModel(in.method))
	hasTrailer := chunked && req.Trailer != nil

	var wire bytes.Buffer
	bw := bufio.NewWriter(&wire)
	err := writeRequest(bw, req)
	bw.Flush()
	if err != nil {
		if !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("writeRequest failed without ErrInvalidRequest: %v", err)
		}
		return true // refused: nothing reaches an upstream
	}

	br := bufio.NewReader(bytes.NewReader(wire.Bytes()))
	got, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("net/http cannot parse what writeRequest accepted and wrote: %v\n%q", err, wire.Bytes())
	}
	gotBody, err := io.ReadAll(got.Body)
	if err != nil {
		t.Fatalf("net/http cannot read the body: %v\n%q", err, wire.Bytes())
	}
	if rest, _ := io.ReadAll(br); len(rest) > 0 {
		t.Fatalf("%d bytes left after the request (smuggled): %q\n%q", len(rest), rest, wire.Bytes())
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nwire: %q", append(args, wire.Bytes())...)
	}

	if got.Method != in.method {
		fail("method %q, want %q", got.Method, in.method)
	}
	target := in.opaque
	if target == "" {
		target = u.EscapedPath()
		if target == "" {
			target = "/"
		}
	}
	if in.qry != "" {
		target += "?" + in.qry
	}
	if got.RequestURI != target {
		fail("request target %q, want %q", got.RequestURI, target)
	}
	if in.opaque == "" {
		wantPath := in.path
		if wantPath == "" {
			wantPath = "/"
		}
		if got.URL.Path != wantPath || got.URL.RawQuery != in.qry {
			fail("path %q query %q, want %q %q", got.URL.Path, got.URL.RawQuery, wantPath, in.qry)
		}
	}
	if got.Host != in.host {
		fail("Host %q, want %q", got.Host, in.host)
	}

	// The header fields the parser must see: the request's own, by
	// canonical name, without the ones the writer owns, with values
	// trimmed of the whitespace around them that is not part of a value;
	// then those the writer adds.
	want := http.Header{}
	spellings := map[string]int{}
	for k, vv := range req.Header {
		ck := http.CanonicalHeaderKey(k)
		switch http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-")) {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // the writer's own, also as CGI would read them
		}
		spellings[ck]++
		for _, v := range vv {
			if k == "User-Agent" && v == "" {
				continue
			}
			want[ck] = append(want[ck], strings.Trim(v, " \t"))
		}
	}
	if p := want["Pragma"]; len(p) > 0 && p[0] == "no-cache" && want["Cache-Control"] == nil {
		want["Cache-Control"] = []string{"no-cache"} // RFC 9111 section 5.4; net/http adds it
	}
	wantLength := int64(len(in.body))
	switch {
	case chunked:
		wantLength = -1
	case len(in.body) > 0:
		want["Content-Length"] = []string{strconv.Itoa(len(in.body))}
	case in.method == "POST" || in.method == "PUT" || in.method == "PATCH":
		want["Content-Length"] = []string{"0"}
	}
	for k := range want {
		if spellings[k] > 1 {
			// Map order decides the order of values across spellings.
			slices.Sort(want[k])
			slices.Sort(got.Header[k])
		}
	}
	for k, vv := range got.Header {
		if !slices.Equal(vv, want[k]) {
			fail("header %q = %q, want %q (all: %q, want %q)", k, vv, want[k], got.Header, want)
		}
	}
	for k, vv := range want {
		if !slices.Equal(got.Header[k], vv) {
			fail("header %q = %q, want %q (all: %q, want %q)", k, got.Header[k], vv, got.Header, want)
		}
	}

	if got.ContentLength != wantLength {
		fail("Content-Length %d, want %d", got.ContentLength, wantLength)
	}
	if gotChunked := slices.Equal(got.TransferEncoding, []string{"chunked"}); gotChunked != chunked {
		fail("Transfer-Encoding %q, want chunked = %v", got.TransferEncoding, chunked)
	}
	if !bytes.Equal(gotBody, in.body) {
		fail("body %q, want %q", gotBody, in.body)
	}
	var wantTrailer http.Header
	if hasTrailer {
		wantTrailer = http.Header{http.CanonicalHeaderKey(in.trailerKey): {strings.Trim(in.trailerValue, " \t")}}
	}
	if len(got.Trailer) != len(wantTrailer) {
		fail("trailer %q, want %q", got.Trailer, wantTrailer)
	}
	for k, vv := range wantTrailer {
		if !slices.Equal(got.Trailer[k], vv) {
			fail("trailer %q = %q, want %q", k, got.Trailer[k], vv)
		}
	}
	return false
}
