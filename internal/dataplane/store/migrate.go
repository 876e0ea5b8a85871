package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MigrateBatch is how many records one etcd transaction of a migration
// writes.
const MigrateBatch = 500

// Migrated counts what Migrate copied, by bucket.
type Migrated map[string]int

// Migrate copies every record of a bbolt store to an etcd one, whose
// prefix must hold nothing yet, then reads every record back from etcd and
// compares it with bbolt's: a one-way copy with verification. The bbolt
// store is only read; stop its data plane first. progress (when not nil)
// hears each bucket as it is copied.
func Migrate(from *Bolt, to *Etcd, progress func(bucket string, records int)) (Migrated, error) {
	ctx, cancel := context.WithTimeout(context.Background(), to.timeout)
	resp, err := to.c.Get(ctx, to.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	if resp.Count > 0 {
		return nil, fmt.Errorf("etcd already holds %d keys under %s: migrate into an empty prefix (--etcd-prefix), or delete those keys first", resp.Count, to.prefix)
	}
	copied := Migrated{}
	err = from.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n, err := migrateBucket(name, b, to)
			copied[string(name)] = n
			if err == nil && progress != nil {
				progress(string(name), n)
			}
			return err
		})
	})
	if err != nil {
		return copied, err
	}
	return copied, verifyMigration(from, to)
}

// migrateBucket copies one bucket, MigrateBatch records a transaction.
// Its sequence stays behind: the etcd store's sequences need none.
func migrateBucket(name []byte, b *bolt.Bucket, to *Etcd) (int, error) {
	var batch [][2][]byte
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := to.Update(func(tx Tx) error {
			dst := tx.(txn).b(name)
			for _, kv := range batch {
				if err := dst.put(kv[0], kv[1]); err != nil {
					return err
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	err := b.ForEach(func(k, v []byte) error {
		batch = append(batch, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		n++
		if len(batch) == MigrateBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// verifyMigration reads every bucket of both stores and compares them.
func verifyMigration(from *Bolt, to *Etcd) error {
	return from.db.View(func(btx *bolt.Tx) error {
		return to.View(func(etx Tx) error {
			return btx.ForEach(func(name []byte, b *bolt.Bucket) error {
				want := map[string][]byte{}
				_ = b.ForEach(func(k, v []byte) error { want[string(k)] = bytes.Clone(v); return nil })
				got := 0
				var bad error
				err := etx.(txn).b(name).scan(nil, func(k, v []byte) bool {
					got++
					if w, ok := want[string(k)]; !ok || !bytes.Equal(w, v) {
						bad = fmt.Errorf("verification: %s/%q differs in etcd", name, k)
						return false
					}
					return true
				})
				switch {
				case err != nil:
					return err
				case bad != nil:
					return bad
				case got != len(want):
					return fmt.Errorf("verification: %s holds %d records in etcd, %d in bbolt", name, got, len(want))
				}
				return nil
			})
		})
	})
}
