package store

import (
	"bytes"
	"compress/gzip"
	"testing"
)

func FuzzParseMeta(f *testing.F) {
	f.Add([]byte(`{"size":123456,"compressed":45678,"chunks":1,"codec":"gzip"}`))
	f.Add([]byte(`{"size":0,"compressed":23,"chunks":1,"codec":"gzip"}`))
	f.Add([]byte(`{"size":3670016,"compressed":3671140,"chunks":8,"codec":"gzip"}`))
	f.Add([]byte(`{"size":1,"compressed":1,"chunks":1,"codec":"zstd"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeta(b)
		if err != nil {
			return
		}
		if m.Size < 0 || m.Compressed < 1 || m.Chunks < 1 || int64(m.Chunks-1)*chunkSize >= m.Compressed || int64(m.Chunks)*chunkSize < m.Compressed {
			t.Fatalf("accepted impossible meta %+v", m)
		}
	})
}

func FuzzGunzip(f *testing.F) {
	for _, s := range []string{"", "a", "hello, module", string(make([]byte, 5000))} {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(s))
		zw.Close()
		f.Add(buf.Bytes(), int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, comp []byte, size int64) {
		if size < 0 || size > 1<<20 {
			return
		}
		out, err := gunzip(comp, size)
		if err == nil && int64(len(out)) != size {
			t.Fatalf("gunzip returned %d bytes, want exactly %d", len(out), size)
		}
	})
}
