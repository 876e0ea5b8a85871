package store

import (
	"bytes"
	"encoding/binary"
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
	return b.db.View(func(tx *bolt.Tx) error { return fn(txn{boltTx{tx}}) })
}

// Update implements Store.
func (b *Bolt) Update(fn func(Tx) error) error {
	return b.db.Update(func(tx *bolt.Tx) error { return fn(txn{boltTx{tx}}) })
}

// Batch implements Store with bbolt's DB.Batch: concurrent calls within a
// few milliseconds are committed together; a failing fn is retried alone
// so that its error does not roll back the others.
func (b *Bolt) Batch(fn func(Tx) error) error {
	return b.db.Batch(func(tx *bolt.Tx) error { return fn(txn{boltTx{tx}}) })
}

// Close implements Store.
func (b *Bolt) Close() error { return b.db.Close() }

// boltTx is a bbolt transaction as an engine.
type boltTx struct{ tx *bolt.Tx }

func (t boltTx) bucket(name []byte) bucket { return boltBucket{t.tx.Bucket(name)} }

type boltBucket struct{ b *bolt.Bucket }

func (b boltBucket) get(key []byte) ([]byte, error) { return b.b.Get(key), nil }
func (b boltBucket) put(key, value []byte) error    { return b.b.Put(key, value) }
func (b boltBucket) del(key []byte) error           { return b.b.Delete(key) }
func (b boltBucket) nextSequence() (uint64, error)  { return b.b.NextSequence() }

func (b boltBucket) scan(prefix []byte, fn func(k, v []byte) bool) error {
	c := b.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !fn(k, v) {
			break
		}
	}
	return nil
}

func (b boltBucket) count(prefix []byte) (int, error) {
	n := 0
	c := b.b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n, nil
}

func (b boltBucket) scanBack(from, to []byte, fn func(k, v []byte) bool) error {
	c := b.b.Cursor()
	k, v := c.Last()
	if to != nil {
		// Seek finds the first key at or after to; the range ends one step
		// back from it.
		if sk, _ := c.Seek(to); sk != nil {
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
	}
	for ; k != nil && bytes.Compare(k, from) >= 0; k, v = c.Prev() {
		if !fn(k, v) {
			break
		}
	}
	return nil
}

func (t txn) Cluster(id string) (*Cluster, error) {
	return get[Cluster](t.b(bucketClusters), Key(id))
}

func (t txn) CountClusters(subscription string) (int, error) {
	return t.b(bucketClusters).count([]byte(Key("/subscriptions/" + subscription + "/")))
}

func (t txn) Clusters() ([]Cluster, error) {
	return all[Cluster](t.b(bucketClusters), nil)
}

func (t txn) PutCluster(c *Cluster) error {
	old, err := t.Cluster(c.ID)
	if err != nil && err != ErrNotFound {
		return err
	}
	// The token index holds the current and the previous token of each
	// cluster.
	tokens := t.b(bucketTokens)
	if old != nil {
		for _, h := range old.tokenHashes() {
			if !slices.Contains(c.tokenHashes(), h) {
				if err := tokens.del([]byte(h)); err != nil {
					return err
				}
			}
		}
	}
	for _, h := range c.tokenHashes() {
		if err := tokens.put([]byte(h), []byte(Key(c.ID))); err != nil {
			return err
		}
	}
	return put(t.b(bucketClusters), Key(c.ID), c)
}

func (t txn) DeleteCluster(id string) error {
	c, err := t.Cluster(id)
	if err != nil {
		return err
	}
	for _, h := range c.tokenHashes() {
		if err := t.b(bucketTokens).del([]byte(h)); err != nil {
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
	if err := t.b(bucketRevisions).del([]byte(Key(id))); err != nil {
		return err
	}
	return t.b(bucketClusters).del([]byte(Key(id)))
}

func (t txn) ClusterIDByToken(tokenHash string) (string, error) {
	v, err := t.b(bucketTokens).get([]byte(tokenHash))
	if err == nil && v == nil {
		err = ErrNotFound
	}
	return string(v), err
}

// configKey orders a cluster's configurations together.
func configKey(clusterID, name string) string { return Key(clusterID) + "\x00" + name }

func (t txn) Config(clusterID, name string) (*Config, error) {
	return get[Config](t.b(bucketConfigs), configKey(clusterID, name))
}

func (t txn) Configs(clusterID string) ([]Config, error) {
	return all[Config](t.b(bucketConfigs), []byte(Key(clusterID)+"\x00"))
}

func (t txn) PutConfig(c *Config) error {
	return put(t.b(bucketConfigs), configKey(c.ClusterID, c.Name), c)
}

func (t txn) DeleteConfig(clusterID, name string) error {
	return t.b(bucketConfigs).del([]byte(configKey(clusterID, name)))
}

func (t txn) Revision(clusterID string) (uint64, error) {
	v, err := t.b(bucketRevisions).get([]byte(Key(clusterID)))
	if err != nil || v == nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

func (t txn) BumpRevision(clusterID string) (uint64, error) {
	r, err := t.Revision(clusterID)
	if err != nil {
		return 0, err
	}
	r++
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], r)
	return r, t.b(bucketRevisions).put([]byte(Key(clusterID)), buf[:])
}

// tokenHashes are the hashes of the tokens c answers to.
func (c *Cluster) tokenHashes() []string {
	if c.PreviousTokenHash == "" {
		return []string{c.TokenHash}
	}
	return []string{c.TokenHash, c.PreviousTokenHash}
}

func (t txn) ResourceGroup(id string) (*ResourceGroup, error) {
	return get[ResourceGroup](t.b(bucketGroups), Key(id))
}

func (t txn) ResourceGroups(subscription string) ([]ResourceGroup, error) {
	return all[ResourceGroup](t.b(bucketGroups), []byte(Key("/subscriptions/"+subscription+"/")))
}

func (t txn) PutResourceGroup(g *ResourceGroup) error {
	return put(t.b(bucketGroups), Key(g.ID), g)
}

func (t txn) DeleteResourceGroup(id string) error {
	if _, err := t.ResourceGroup(id); err != nil {
		return err
	}
	return t.b(bucketGroups).del([]byte(Key(id)))
}
