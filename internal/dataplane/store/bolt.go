package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketClusters  = []byte("clusters")
	bucketTokens    = []byte("tokens")
	bucketConfigs   = []byte("configs")
	bucketRevisions = []byte("revisions")
	bucketGroups    = []byte("resourceGroups")
)

// Bolt is the embedded default Store: one bbolt file, every write fsynced
// before Update returns.
type Bolt struct {
	db *bolt.DB
}

// OpenBolt opens (creating if needed) the store in dir.
func OpenBolt(dir string) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "dataplane.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("failed to open %s (is another data plane using it?): %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		buckets := append([][]byte{bucketClusters, bucketTokens, bucketConfigs, bucketRevisions, bucketGroups}, accessBuckets...)
		for _, b := range append(buckets, typeBuckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("failed to initialize %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// View implements Store.
func (b *Bolt) View(fn func(Tx) error) error {
	return b.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Update implements Store.
func (b *Bolt) Update(fn func(Tx) error) error {
	return b.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Batch implements Store with bbolt's DB.Batch: concurrent calls within a
// few milliseconds are committed together; a failing fn is retried alone
// so that its error does not roll back the others.
func (b *Bolt) Batch(fn func(Tx) error) error {
	return b.db.Batch(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Close implements Store.
func (b *Bolt) Close() error { return b.db.Close() }

type boltTx struct{ tx *bolt.Tx }

func get[T any](b *bolt.Bucket, key string) (*T, error) {
	raw := b.Get([]byte(key))
	if raw == nil {
		return nil, ErrNotFound
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("corrupt record %q: %w", key, err)
	}
	return &v, nil
}

func put(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// all decodes every record of b whose key starts with prefix (nil: every
// record).
func all[T any](b *bolt.Bucket, prefix []byte) ([]T, error) {
	var out []T
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, fmt.Errorf("corrupt record %q: %w", k, err)
		}
		out = append(out, x)
	}
	return out, nil
}

func (t boltTx) Cluster(id string) (*Cluster, error) {
	return get[Cluster](t.tx.Bucket(bucketClusters), Key(id))
}

func (t boltTx) CountClusters(subscription string) (int, error) {
	prefix := []byte(Key("/subscriptions/" + subscription + "/"))
	n := 0
	c := t.tx.Bucket(bucketClusters).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n, nil
}

func (t boltTx) Clusters() ([]Cluster, error) {
	return all[Cluster](t.tx.Bucket(bucketClusters), nil)
}

func (t boltTx) PutCluster(c *Cluster) error {
	old, err := t.Cluster(c.ID)
	if err != nil && err != ErrNotFound {
		return err
	}
	// The token index holds the current and the previous token of each
	// cluster.
	tokens := t.tx.Bucket(bucketTokens)
	if old != nil {
		for _, h := range old.tokenHashes() {
			if !slices.Contains(c.tokenHashes(), h) {
				if err := tokens.Delete([]byte(h)); err != nil {
					return err
				}
			}
		}
	}
	for _, h := range c.tokenHashes() {
		if err := tokens.Put([]byte(h), []byte(Key(c.ID))); err != nil {
			return err
		}
	}
	return put(t.tx.Bucket(bucketClusters), Key(c.ID), c)
}

func (t boltTx) DeleteCluster(id string) error {
	c, err := t.Cluster(id)
	if err != nil {
		return err
	}
	for _, h := range c.tokenHashes() {
		if err := t.tx.Bucket(bucketTokens).Delete([]byte(h)); err != nil {
			return err
		}
	}
	configs, err := t.Configs(id)
	if err != nil {
		return err
	}
	for _, cfg := range configs {
		if err := t.DeleteConfig(id, cfg.Name); err != nil {
			return err
		}
	}
	exts, err := t.Extensions(id)
	if err != nil {
		return err
	}
	for _, e := range exts {
		if err := t.DeleteExtension(e.ID); err != nil {
			return err
		}
	}
	if err := t.tx.Bucket(bucketRevisions).Delete([]byte(Key(id))); err != nil {
		return err
	}
	return t.tx.Bucket(bucketClusters).Delete([]byte(Key(id)))
}

func (t boltTx) ClusterIDByToken(tokenHash string) (string, error) {
	v := t.tx.Bucket(bucketTokens).Get([]byte(tokenHash))
	if v == nil {
		return "", ErrNotFound
	}
	return string(v), nil
}

// configKey orders a cluster's configurations together.
func configKey(clusterID, name string) string { return Key(clusterID) + "\x00" + name }

func (t boltTx) Config(clusterID, name string) (*Config, error) {
	return get[Config](t.tx.Bucket(bucketConfigs), configKey(clusterID, name))
}

func (t boltTx) Configs(clusterID string) ([]Config, error) {
	return all[Config](t.tx.Bucket(bucketConfigs), []byte(Key(clusterID)+"\x00"))
}

func (t boltTx) PutConfig(c *Config) error {
	return put(t.tx.Bucket(bucketConfigs), configKey(c.ClusterID, c.Name), c)
}

func (t boltTx) DeleteConfig(clusterID, name string) error {
	return t.tx.Bucket(bucketConfigs).Delete([]byte(configKey(clusterID, name)))
}

func (t boltTx) Revision(clusterID string) (uint64, error) {
	v := t.tx.Bucket(bucketRevisions).Get([]byte(Key(clusterID)))
	if v == nil {
		return 0, nil
	}
	return binary.BigEndian.Uint64(v), nil
}

func (t boltTx) BumpRevision(clusterID string) (uint64, error) {
	r, err := t.Revision(clusterID)
	if err != nil {
		return 0, err
	}
	r++
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], r)
	return r, t.tx.Bucket(bucketRevisions).Put([]byte(Key(clusterID)), buf[:])
}

// tokenHashes are the hashes of the tokens c answers to.
func (c *Cluster) tokenHashes() []string {
	if c.PreviousTokenHash == "" {
		return []string{c.TokenHash}
	}
	return []string{c.TokenHash, c.PreviousTokenHash}
}

func (t boltTx) ResourceGroup(id string) (*ResourceGroup, error) {
	return get[ResourceGroup](t.tx.Bucket(bucketGroups), Key(id))
}

func (t boltTx) ResourceGroups(subscription string) ([]ResourceGroup, error) {
	return all[ResourceGroup](t.tx.Bucket(bucketGroups), []byte(Key("/subscriptions/"+subscription+"/")))
}

func (t boltTx) PutResourceGroup(g *ResourceGroup) error {
	return put(t.tx.Bucket(bucketGroups), Key(g.ID), g)
}

func (t boltTx) DeleteResourceGroup(id string) error {
	if _, err := t.ResourceGroup(id); err != nil {
		return err
	}
	return t.tx.Bucket(bucketGroups).Delete([]byte(Key(id)))
}
