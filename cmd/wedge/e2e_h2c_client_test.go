package main

// A minimal client for the h2c Upgrade handshake (RFC 7540 §3.2), which
// net/http's client does not speak: HTTP/1.1 up to the 101, then raw
// HTTP/2 frames.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Response is a response read from a raw HTTP/2 stream.
type h2Response struct {
	status int
	header http.Header
	body   []byte
}

// h2cUpgrade asks, on conn, for GET path of host over HTTP/1.1 with an
// Upgrade to h2c (RFC 7540 §3.2). It returns the reader holding what
// follows the server's answer and that answer's status line.
func h2cUpgrade(conn net.Conn, host, path string) (*bufio.Reader, string, error) {
	// HTTP2-Settings: SETTINGS_ENABLE_PUSH = 0, base64url without padding.
	req := "GET " + path + " HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Connection: Upgrade, HTTP2-Settings\r\n" +
		"Upgrade: h2c\r\n" +
		"HTTP2-Settings: AAIAAAAA\r\n" +
		"\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, "", err
	}
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil {
		return nil, "", fmt.Errorf("reading the status line: %w", err)
	}
	for { // the rest of the HTTP/1.1 header block
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, "", fmt.Errorf("reading the header: %w", err)
		}
		if line == "\r\n" {
			break
		}
	}
	return br, strings.TrimRight(status, "\r\n"), nil
}

// rawH2 is a minimal HTTP/2 client on a connection that an h2c Upgrade
// has switched, where the server answers the upgrade request on stream 1.
type rawH2 struct {
	conn   net.Conn
	fr     *http2.Framer
	encBuf bytes.Buffer
	enc    *hpack.Encoder
}

// startH2 sends the client preface and SETTINGS on conn; br holds what the
// server sent after its 101.
func startH2(conn net.Conn, br *bufio.Reader) (*rawH2, error) {
	c := &rawH2{conn: conn, fr: http2.NewFramer(conn, br)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.encBuf)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		return nil, err
	}
	return c, c.fr.WriteSettings()
}

// get sends a GET of path on host as a new stream id.
func (c *rawH2) get(id uint32, host, path string) error {
	c.encBuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", host}, {":path", path}} {
		c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true})
}

// read reads frames until stream id has ended, and returns its response.
// Frames of other streams are dropped.
func (c *rawH2) read(id uint32) (*h2Response, error) {
	resp := &h2Response{header: http.Header{}}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return resp, fmt.Errorf("reading HTTP/2 frames: %w", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := c.fr.WriteSettingsAck(); err != nil {
					return resp, err
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			if f.LastStreamID < id {
				return resp, fmt.Errorf("GOAWAY (last stream %d) before stream %d: %v", f.LastStreamID, id, f.ErrCode)
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return resp, fmt.Errorf("stream %d reset: %v", id, f.ErrCode)
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID != id {
				continue
			}
			for _, hf := range f.Fields {
				if hf.Name == ":status" {
					resp.status, _ = strconv.Atoi(hf.Value)
				} else if !strings.HasPrefix(hf.Name, ":") {
					resp.header.Add(hf.Name, hf.Value)
				}
			}
			if f.StreamEnded() {
				return resp, nil
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				continue
			}
			resp.body = append(resp.body, f.Data()...)
			if n := uint32(len(f.Data())); n > 0 {
				c.fr.WriteWindowUpdate(0, n)
				c.fr.WriteWindowUpdate(id, n)
			}
			if f.StreamEnded() {
				return resp, nil
			}
		}
	}
}

// h2cUpgradeGet is a whole h2c-Upgrade GET on a new connection to addr:
// the response to the upgrade request, read from stream 1.
func h2cUpgradeGet(addr, host, path string) (*h2Response, error) {
	conn, err := net.DialTimeout("tcp", addr, startTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(hangGuard))
	br, status, err := h2cUpgrade(conn, host, path)
	if err != nil {
		return nil, err
	}
	if status != "HTTP/1.1 101 Switching Protocols" {
		return nil, fmt.Errorf("status line %q, want a 101", status)
	}
	c, err := startH2(conn, br)
	if err != nil {
		return nil, err
	}
	return c.read(1)
}
