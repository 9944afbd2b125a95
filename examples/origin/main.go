// Command origin is the example upstream that the quickstart and the tests
// proxy to. It echoes what it received, so the headers an edge adds
// (X-Forwarded-For, Via, a filter's) are visible.
//
//	GET /anything        JSON echo of method, path, host and headers
//	GET /bytes/N         N bytes of 'x'
//	GET /slow?ms=N       answers after N milliseconds
//	GET /trailers        a chunked body followed by trailers
//	GET /ws              WebSocket echo
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/wedgeproxy/wedge/examples/origin/handler"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: handler.New("example-origin"), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("origin listening on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}
