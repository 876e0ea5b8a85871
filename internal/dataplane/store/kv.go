package store

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// bucket is a named set of ordered keys inside one transaction: what every
// Tx method reads and writes, so that one implementation of Tx (txn)
// serves each engine: bbolt (bolt.go) and etcd (etcd.go).
type bucket interface {
	// get is the value of key, nil when there is none.
	get(key []byte) ([]byte, error)
	put(key, value []byte) error
	// del deletes key; a missing key is no error.
	del(key []byte) error
	// scan calls fn in key order with the records whose keys start with
	// prefix, until fn returns false.
	scan(prefix []byte, fn func(k, v []byte) bool) error
	// scanBack calls fn in reverse key order with the records whose keys
	// are at least from and below to (nil: no upper bound), until fn
	// returns false.
	scanBack(from, to []byte, fn func(k, v []byte) bool) error
	// count is how many keys start with prefix, the transaction's writes
	// included; no conflict is decided on it (see Tx.CountClusters).
	count(prefix []byte) (int, error)
	// nextSequence is a number that grows with every call, for unique keys.
	nextSequence() (uint64, error)
}

// engineTx is one transaction of an engine, by bucket.
type engineTx interface {
	bucket(name []byte) bucket
}

// txn implements Tx on an engine's transaction.
type txn struct{ e engineTx }

func (t txn) b(name []byte) bucket { return t.e.bucket(name) }

func get[T any](b bucket, key string) (*T, error) {
	raw, err := b.get([]byte(key))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("corrupt record %q: %w", key, err)
	}
	return &v, nil
}

func put(b bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.put([]byte(key), raw)
}

// all decodes every record of b whose key starts with prefix (nil: every
// record).
func all[T any](b bucket, prefix []byte) ([]T, error) {
	var out []T
	var bad error
	err := b.scan(prefix, func(k, v []byte) bool {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			bad = fmt.Errorf("corrupt record %q: %w", k, err)
			return false
		}
		out = append(out, x)
		return true
	})
	if err == nil {
		err = bad
	}
	return out, err
}

// keysWith are the keys of b that start with prefix.
func keysWith(b bucket, prefix []byte) ([][]byte, error) {
	var keys [][]byte
	err := b.scan(prefix, func(k, _ []byte) bool { keys = append(keys, bytes.Clone(k)); return true })
	return keys, err
}

// deleteExisting deletes key, ErrNotFound when it is not there.
func deleteExisting(b bucket, key string) error {
	v, err := b.get([]byte(key))
	if err != nil {
		return err
	}
	if v == nil {
		return ErrNotFound
	}
	return b.del([]byte(key))
}
