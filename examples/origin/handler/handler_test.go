package handler

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestOrigin(t *testing.T) {
	srv := httptest.NewServer(New("test-origin"))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/bytes/70000")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != 70000 || strings.Trim(string(b), "x") != "" {
		t.Errorf("/bytes/70000 gave %d bytes", len(b))
	}

	resp, err = http.Post(srv.URL+"/echo/path?a=1", "text/plain", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	var e Echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if e.Server != "test-origin" || e.Method != "POST" || e.Path != "/echo/path" || e.Query != "a=1" || e.Body != "hi" {
		t.Errorf("echo = %+v", e)
	}

	resp, err = http.Get(srv.URL + "/trailers")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
		t.Errorf("trailer X-Checksum = %q", got)
	}

	start := time.Now()
	resp, err = http.Get(srv.URL + "/slow?ms=50")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("/slow?ms=50 answered after %v", time.Since(start))
	}
}
