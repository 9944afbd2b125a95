package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

var errHeaderValue = errors.New("upstream: request header contains a line break")

// writeRequest writes req's head and, when it has one, its body of known
// length to bw, as HTTP/1.1. It writes the header fields in map order
// without sorting or copying them. Requests whose body length is unknown
// (chunked) or that carry trailers are written by net/http instead.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	if req.Body != nil && (req.ContentLength <= 0 || req.Trailer != nil) {
		return req.Write(bw)
	}
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	if req.URL.Opaque != "" {
		bw.WriteString(req.URL.Opaque)
	} else {
		p := req.URL.EscapedPath()
		if p == "" {
			p = "/"
		}
		bw.WriteString(p)
	}
	if req.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(req.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if strings.ContainsAny(host, "\r\n") {
		return errHeaderValue
	}
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for k, vv := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // framing is ours to write
		}
		for _, v := range vv {
			if k == "User-Agent" && v == "" {
				continue
			}
			if strings.ContainsAny(v, "\r\n") || strings.ContainsAny(k, "\r\n: ") {
				return errHeaderValue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if req.Close {
		bw.WriteString("Connection: close\r\n")
	}
	switch {
	case req.Body != nil:
		bw.WriteString("Content-Length: ")
		var num [20]byte
		bw.Write(strconv.AppendInt(num[:0], req.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		n, err := io.Copy(bw, io.LimitReader(req.Body, req.ContentLength))
		req.Body.Close()
		if err != nil {
			return err
		}
		if n != req.ContentLength {
			return fmt.Errorf("upstream: request body ended after %d of %d bytes", n, req.ContentLength)
		}
		return nil
	case req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH":
		bw.WriteString("Content-Length: 0\r\n\r\n")
	default:
		bw.WriteString("\r\n")
	}
	return nil
}
