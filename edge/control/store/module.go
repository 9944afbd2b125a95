package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrTooLarge: a module is larger than the caller's limit.
var ErrTooLarge = errors.New("store: module too large")

// A module's keys. modules/SHA (SHA: the lower-case hex SHA-256 of the
// module's bytes) holds its meta, JSON such as
//
//	{"size":123456,"compressed":45678,"chunks":1,"codec":"gzip"}
//
// and modules/SHA/000000, modules/SHA/000001, … hold the gzip stream of
// the bytes cut into chunks of at most 512 KiB, well inside etcd's
// 1.5 MiB request limit. The chunks are written first, one Txn each, and
// the meta last: a module whose meta is present is complete. Listing
// "modules/" lists chunks too; a module's meta key has no "/" after its
// SHA.
const (
	modulesPrefix  = "modules/"
	chunkSize      = 512 << 10
	codecGzip      = "gzip"
	maxPreallocate = 16 << 20
)

// moduleMeta is what modules/SHA holds.
type moduleMeta struct {
	Size       int64  `json:"size"`       // bytes of the module
	Compressed int64  `json:"compressed"` // bytes of all chunks together
	Chunks     int    `json:"chunks"`
	Codec      string `json:"codec"`
}

func moduleKey(sha string) string         { return modulesPrefix + sha }
func chunkKey(sha string, i int) string   { return fmt.Sprintf("%s%s/%06d", modulesPrefix, sha, i) }
func chunksPrefix(sha string) string      { return modulesPrefix + sha + "/" }
func chunksFor(compressed int64) int      { return int((compressed + chunkSize - 1) / chunkSize) }
func maxCompressed(size int64) int64      { return size + size/64 + 1024 } // gzip's worst case is far less
func moduleErr(sha string, e error) error { return fmt.Errorf("store: module %s: %w", sha, e) }

// PutModule stores data under its hex SHA-256, which it returns. Putting
// a module that is already there writes nothing.
func PutModule(ctx context.Context, s Store, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	switch ok, err := HasModule(ctx, s, sha); {
	case err != nil:
		return "", err
	case ok:
		return sha, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return "", moduleErr(sha, err)
	}
	if err := zw.Close(); err != nil {
		return "", moduleErr(sha, err)
	}
	comp := buf.Bytes()
	meta := moduleMeta{Size: int64(len(data)), Compressed: int64(len(comp)), Chunks: chunksFor(int64(len(comp))), Codec: codecGzip}
	for i := range meta.Chunks {
		chunk := comp[i*chunkSize : min((i+1)*chunkSize, len(comp))]
		if _, err := s.Txn(ctx, nil, []Op{{Key: chunkKey(sha, i), Value: chunk}}); err != nil {
			return "", moduleErr(sha, fmt.Errorf("chunk %d: %w", i, err))
		}
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return "", moduleErr(sha, err)
	}
	_, err = s.Txn(ctx, []Cmp{{Key: moduleKey(sha), ModRev: 0}}, []Op{{Key: moduleKey(sha), Value: mj}})
	if err != nil && !errors.Is(err, ErrConflict) { // conflict: another put of it finished first
		return "", moduleErr(sha, err)
	}
	return sha, nil
}

// HasModule reports whether the module is stored (complete).
func HasModule(ctx context.Context, s Store, sha string) (bool, error) {
	sha, err := checkSHA(sha)
	if err != nil {
		return false, err
	}
	_, err = s.Get(ctx, moduleKey(sha))
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, moduleErr(sha, err)
	}
	return true, nil
}

// GetModule returns the module's bytes, checked against sha. It fails
// with ErrNotFound when it is not stored, ErrTooLarge when it is larger
// than maxBytes (zero or less: no limit but the module's recorded
// size), and ErrCorrupt when the chunks do not decompress to exactly
// the recorded size or the bytes do not hash to sha. No more than the
// recorded size (at most maxBytes) is ever decompressed.
func GetModule(ctx context.Context, s Store, sha string, maxBytes int64) ([]byte, error) {
	sha, err := checkSHA(sha)
	if err != nil {
		return nil, err
	}
	meta, err := readMeta(ctx, s, sha)
	if err != nil {
		return nil, err
	}
	if maxBytes > 0 && meta.Size > maxBytes {
		return nil, fmt.Errorf("%w: module %s is %d bytes, the limit is %d", ErrTooLarge, sha, meta.Size, maxBytes)
	}
	comp := make([]byte, 0, min(meta.Compressed, maxPreallocate))
	for i := range meta.Chunks {
		kv, err := s.Get(ctx, chunkKey(sha, i))
		if errors.Is(err, ErrNotFound) {
			if _, merr := readMeta(ctx, s, sha); errors.Is(merr, ErrNotFound) {
				return nil, merr // deleted while we read
			}
			return nil, fmt.Errorf("%w: module %s: chunk %d of %d is missing", ErrCorrupt, sha, i, meta.Chunks)
		}
		if err != nil {
			return nil, moduleErr(sha, err)
		}
		if len(kv.Value) > chunkSize || int64(len(comp)+len(kv.Value)) > meta.Compressed {
			return nil, fmt.Errorf("%w: module %s: chunk %d is %d bytes, more than its meta allows", ErrCorrupt, sha, i, len(kv.Value))
		}
		comp = append(comp, kv.Value...)
	}
	if int64(len(comp)) != meta.Compressed {
		return nil, fmt.Errorf("%w: module %s: chunks hold %d bytes, meta says %d", ErrCorrupt, sha, len(comp), meta.Compressed)
	}
	data, err := gunzip(comp, meta.Size)
	if err != nil {
		return nil, fmt.Errorf("%w: module %s: %w", ErrCorrupt, sha, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != sha {
		return nil, fmt.Errorf("%w: module %s: its bytes hash to sha256 %s", ErrCorrupt, sha, got)
	}
	return data, nil
}

// ModuleRev is the revision that completed the module (its meta's
// ModRev), or 0 when it is not stored. A Txn that makes the module used
// compares it with ModulePresent, so a module deleted meanwhile fails it.
func ModuleRev(ctx context.Context, s Store, sha string) (int64, error) {
	sha, err := checkSHA(sha)
	if err != nil {
		return 0, err
	}
	kv, err := s.Get(ctx, moduleKey(sha))
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, moduleErr(sha, err)
	}
	return kv.ModRev, nil
}

// ModulePresent is the Cmp that holds while the module completed at rev
// is stored.
func ModulePresent(sha string, rev int64) Cmp { return Cmp{Key: moduleKey(sha), ModRev: rev} }

// ListModules returns the SHA-256 of every complete module stored.
func ListModules(ctx context.Context, s Store) ([]string, error) {
	kvs, _, err := s.List(ctx, modulesPrefix)
	if err != nil {
		return nil, fmt.Errorf("store: list modules: %w", err)
	}
	var out []string
	for _, kv := range kvs {
		if sha := strings.TrimPrefix(kv.Key, modulesPrefix); !strings.Contains(sha, "/") {
			out = append(out, sha)
		}
	}
	return out, nil
}

// DeleteModule removes the module: its meta, then (in the same Txn) its
// chunks, if every one of cmps holds too. It fails with ErrNotFound when
// the module is not stored, and with ErrConflict when one of cmps fails.
func DeleteModule(ctx context.Context, s Store, sha string, cmps ...Cmp) error {
	sha, err := checkSHA(sha)
	if err != nil {
		return err
	}
	kv, err := s.Get(ctx, moduleKey(sha))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: module %s", ErrNotFound, sha)
	}
	if err != nil {
		return moduleErr(sha, err)
	}
	_, err = s.Txn(ctx, append([]Cmp{{Key: kv.Key, ModRev: kv.ModRev}}, cmps...),
		[]Op{{Key: kv.Key, Delete: true}, {Key: chunksPrefix(sha), DeletePrefix: true}})
	if errors.Is(err, ErrConflict) {
		if ok, herr := HasModule(ctx, s, sha); herr == nil && !ok {
			return fmt.Errorf("%w: module %s (deleted meanwhile)", ErrNotFound, sha)
		}
		return moduleErr(sha, err)
	}
	if err != nil {
		return moduleErr(sha, err)
	}
	return nil
}

// readMeta reads and checks a module's meta.
func readMeta(ctx context.Context, s Store, sha string) (moduleMeta, error) {
	var m moduleMeta
	kv, err := s.Get(ctx, moduleKey(sha))
	if errors.Is(err, ErrNotFound) {
		return m, fmt.Errorf("%w: module %s", ErrNotFound, sha)
	}
	if err != nil {
		return m, moduleErr(sha, err)
	}
	m, err = parseMeta(kv.Value)
	if err != nil {
		return m, fmt.Errorf("%w: module %s: meta: %w", ErrCorrupt, sha, err)
	}
	return m, nil
}

// parseMeta decodes and checks a module's meta.
func parseMeta(b []byte) (moduleMeta, error) {
	var m moduleMeta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, err
	}
	if dec.More() {
		return m, errors.New("data after the JSON object")
	}
	switch {
	case m.Codec != codecGzip:
		return m, fmt.Errorf("unknown codec %q", m.Codec)
	case m.Size < 0 || m.Compressed < 1 || m.Compressed > maxCompressed(m.Size):
		return m, fmt.Errorf("%d bytes compressed to %d is not possible", m.Size, m.Compressed)
	case m.Chunks != chunksFor(m.Compressed):
		return m, fmt.Errorf("%d bytes compressed in %d chunks, want %d", m.Compressed, m.Chunks, chunksFor(m.Compressed))
	}
	return m, nil
}

// gunzip decompresses one gzip member of exactly size bytes, reading no
// more than size+1 bytes of output however the input claims otherwise.
func gunzip(comp []byte, size int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(comp))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	out := bytes.NewBuffer(make([]byte, 0, min(size, maxPreallocate)))
	n, err := io.Copy(out, io.LimitReader(zr, size+1))
	switch {
	case err != nil:
		return nil, err
	case n > size:
		return nil, fmt.Errorf("decompresses to more than its recorded %d bytes", size)
	case n < size:
		return nil, fmt.Errorf("decompresses to %d bytes, its meta says %d", n, size)
	}
	return out.Bytes(), nil
}

// checkSHA accepts a hex SHA-256, in either case, and returns it in
// lower case.
func checkSHA(sha string) (string, error) {
	if len(sha) != 2*sha256.Size {
		return "", fmt.Errorf("store: module %q: not a hex SHA-256", sha)
	}
	if _, err := hex.DecodeString(sha); err != nil {
		return "", fmt.Errorf("store: module %q: not a hex SHA-256", sha)
	}
	return strings.ToLower(sha), nil
}
