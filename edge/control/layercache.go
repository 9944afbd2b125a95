package control

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// A node keeps the last tenant layer it applied whole in a file, so that
// started while its store is unreachable it serves that layer rather
// than none. The modules it names are verified copies in the node's
// module directory already.

// layerCacheVersion is the file's format.
const layerCacheVersion = 1

// layerCache is the file: the keys under tenants/ as read at Revision,
// and SHA256, the hex SHA-256 of KVs as encoded in the file, so a torn
// or edited file is refused rather than applied in part.
type layerCache struct {
	Version  int             `json:"version"`
	Revision int64           `json:"revision"`
	SavedAt  time.Time       `json:"saved_at"`
	SHA256   string          `json:"sha256"`
	KVs      json.RawMessage `json:"kvs"`
}

// saveLayer writes kvs read at rev to path: a temporary file, synced,
// then renamed over the old one.
func saveLayer(path string, kvs []store.KV, rev int64, now time.Time) error {
	body, err := json.Marshal(kvs)
	if err != nil {
		return fmt.Errorf("control: tenant layer cache: %w", err)
	}
	sum := sha256.Sum256(body)
	data, err := json.Marshal(layerCache{Version: layerCacheVersion, Revision: rev, SavedAt: now, SHA256: hex.EncodeToString(sum[:]), KVs: body})
	if err != nil {
		return fmt.Errorf("control: tenant layer cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("control: tenant layer cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tenants-*")
	if err != nil {
		return fmt.Errorf("control: tenant layer cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing to remove
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("control: tenant layer cache: %w", err)
	}
	return nil
}

// loadLayer reads what saveLayer wrote. A file that is not whole, not
// this format or not matching its checksum is an error.
func loadLayer(path string) (kvs []store.KV, c layerCache, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, c, fmt.Errorf("control: tenant layer cache: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, c, fmt.Errorf("control: tenant layer cache %s: %w", path, err)
	}
	if c.Version != layerCacheVersion {
		return nil, c, fmt.Errorf("control: tenant layer cache %s: version %d, want %d", path, c.Version, layerCacheVersion)
	}
	sum := sha256.Sum256(c.KVs)
	if hex.EncodeToString(sum[:]) != c.SHA256 {
		return nil, c, fmt.Errorf("control: tenant layer cache %s: checksum mismatch: damaged", path)
	}
	dec := json.NewDecoder(bytes.NewReader(c.KVs))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kvs); err != nil {
		return nil, c, fmt.Errorf("control: tenant layer cache %s: %w", path, err)
	}
	if c.Revision < 0 {
		return nil, c, errors.New("control: tenant layer cache: negative revision")
	}
	return kvs, c, nil
}
