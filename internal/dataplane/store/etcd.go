package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Etcd is the Store on an etcd cluster (go.etcd.io/etcd/client/v3), for
// hubs of several replicas: its records live under a key prefix, one etcd
// key each (<prefix><bucket>/<key>), so that one etcd can hold several
// hubs.
//
// Transactions are optimistic and serializable. A transaction reads at one
// revision (fixed by its first read, seeing its own writes over it),
// remembers what it read (each key's mod revision, each range it scanned)
// and buffers its writes; it commits them in one etcd transaction that
// compares, in etcd, that nothing it read has changed since: each key read
// still has the revision it had, and no key of a scanned range was written
// or deleted after the transaction's revision. Otherwise it runs again on
// fresh reads. Transactions that touch different keys (two clusters'
// status reports) never wait for each other, in one replica or across
// replicas; no read-modify-write race can lose an update; a commit is
// acknowledged once a quorum has it on disk.
//
// etcd keeps no trace of a deleted key that a range comparison could see,
// so a commit that deletes a key also writes a tombstone for it,
// <prefix>tombstones/<bucket>/<key>, which a scanned range's comparison
// covers too. Tombstones are attached to a lease that etcd expires after
// tombstoneTTL; a transaction older than maxTxnAge runs again instead of
// committing, so that no tombstone it must see is gone.
//
// An Update writes all its keys in one etcd transaction: etcd's
// --max-txn-ops (default 128, counting the comparisons too) and
// --max-request-bytes (default 1.5 MiB) bound it; run etcd with
// --max-txn-ops=10000 --max-request-bytes=33554432 for hubs whose clusters
// hold many configurations.
type Etcd struct {
	c      *clientv3.Client
	prefix string
	// batching gathers concurrent Batch calls into one transaction.
	batching sync.Mutex
	batch    *etcdBatch
	// leasing guards the lease of the tombstones written now.
	leasing   sync.Mutex
	lease     clientv3.LeaseID
	leaseFrom time.Time
	// seqBase and seq make nextSequence's numbers: unique across replicas
	// without a counter in etcd that every append would conflict on.
	seqBase uint64
	seq     atomic.Uint32
	// Timeout bounds each call to etcd.
	timeout time.Duration
}

// EtcdOptions say which etcd to use, and where in it.
type EtcdOptions struct {
	Endpoints []string
	// TLS is the client's TLS configuration (nil: plain connections).
	TLS *tls.Config
	// Prefix is the hub's key prefix, e.g. /arcgitops/hub-1/.
	Prefix string
	// Timeout bounds each call (default 10 s).
	Timeout time.Duration
}

// maxAttempts bounds how often a transaction runs again after losing to a
// concurrent one.
const maxAttempts = 100

// Tombstones live at least tombstoneTTL - tombstoneLeaseUse; a transaction
// older than maxTxnAge runs again rather than commit.
const (
	tombstoneTTL      = 11 * time.Minute
	tombstoneLeaseUse = time.Minute
	maxTxnAge         = 5 * time.Minute
)

// ErrContention is an Update's answer when it lost to concurrent
// transactions maxAttempts times.
var ErrContention = errors.New("etcd: the transaction lost to concurrent writers too often; retry")

// errStale says a transaction's revision is gone (compacted): it runs
// again at a new one.
var errStale = errors.New("etcd: the transaction's revision was compacted")

// OpenEtcd connects to etcd and checks that it answers.
func OpenEtcd(opts EtcdOptions) (*Etcd, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcd: give at least one endpoint")
	}
	if opts.Prefix == "" || !strings.HasSuffix(opts.Prefix, "/") {
		return nil, fmt.Errorf("etcd: the key prefix %q must end with /", opts.Prefix)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: opts.Endpoints, TLS: opts.TLS, DialTimeout: opts.Timeout})
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	e := &Etcd{c: c, prefix: opts.Prefix, timeout: opts.Timeout, seqBase: uint64(rand.Uint32()|1<<31) << 32}
	if _, err := e.revision(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("etcd at %s does not answer: %w", strings.Join(opts.Endpoints, ","), err)
	}
	return e, nil
}

// revision is etcd's current revision (a linearizable read).
func (e *Etcd) revision() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	resp, err := e.c.Get(ctx, e.prefix+"tombstones/", clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd: %w", err)
	}
	return resp.Header.Revision, nil
}

// View implements Store: reads at one revision.
func (e *Etcd) View(fn func(Tx) error) error {
	for range maxAttempts {
		err := fn(txn{e.begin()})
		if !errors.Is(err, errStale) {
			return err
		}
	}
	return ErrContention
}

// Update implements Store. fn may run more than once: after a conflict it
// runs again on fresh reads.
func (e *Etcd) Update(fn func(Tx) error) error {
	for attempt := range maxAttempts {
		t := e.begin()
		err := fn(txn{t})
		if err == nil {
			var ok bool
			if ok, err = t.commit(); ok || err != nil {
				return err
			}
		} else if !errors.Is(err, errStale) {
			return err
		}
		// Another transaction changed what this one read: run again on its
		// result, after a short random pause that grows with the attempts.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(attempt+1, 20)))))
	}
	return ErrContention
}

// BatchDelay is how long a Batch call waits for others to share its
// transaction; BatchSize, how many share one at most.
const (
	BatchDelay = 2 * time.Millisecond
	BatchSize  = 100
)

// etcdBatch is the Batch calls that will share a transaction.
type etcdBatch struct {
	calls []batchCall
	timer *time.Timer
}

type batchCall struct {
	fn   func(Tx) error
	done chan error
}

// Batch implements Store as bbolt's DB.Batch does: calls that come within
// BatchDelay of each other share one etcd transaction (one raft commit,
// one fsync per member); when one fn fails, it runs again alone, to return
// its own error, and the others again without it (fn is idempotent).
func (e *Etcd) Batch(fn func(Tx) error) error {
	done := make(chan error, 1)
	e.batching.Lock()
	if e.batch == nil {
		b := &etcdBatch{}
		b.timer = time.AfterFunc(BatchDelay, func() { e.runBatch(b) })
		e.batch = b
	}
	b := e.batch
	b.calls = append(b.calls, batchCall{fn, done})
	if len(b.calls) >= BatchSize && b.timer.Stop() {
		go e.runBatch(b)
	}
	e.batching.Unlock()
	return <-done
}

func (e *Etcd) runBatch(b *etcdBatch) {
	e.batching.Lock()
	if e.batch == b {
		e.batch = nil
	}
	calls := b.calls
	e.batching.Unlock()
	for len(calls) > 0 {
		failed := -1
		err := e.Update(func(tx Tx) error {
			for i, c := range calls {
				if err := c.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range calls {
				c.done <- err
			}
			return
		}
		alone := calls[failed]
		calls = append(calls[:failed:failed], calls[failed+1:]...)
		alone.done <- e.Update(alone.fn)
	}
}

// Close implements Store.
func (e *Etcd) Close() error { return e.c.Close() }

// etcdTx is one transaction: the revision it reads at, what it read, and
// its writes.
type etcdTx struct {
	e *Etcd
	// rev is the revision the transaction reads at, fixed by its first
	// read (0: none yet), at began.
	rev   int64
	began time.Time
	// reads are the keys read from etcd, with what was read.
	reads map[string]etcdRead
	// ranges are the ranges [start, end) scans read from etcd.
	ranges [][2]string
	// writes are the values put (nil: deleted), by full key.
	writes map[string][]byte
}

// etcdRead is a key as a transaction read it: its value (nil: none) and
// the revision that last wrote it (0: none).
type etcdRead struct {
	value []byte
	mod   int64
}

func (e *Etcd) begin() *etcdTx {
	return &etcdTx{e: e, reads: map[string]etcdRead{}, writes: map[string][]byte{}}
}

// get reads from etcd at the transaction's revision, the first read fixing
// it at etcd's current one.
func (t *etcdTx) get(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if t.rev != 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.e.timeout)
	defer cancel()
	resp, err := t.e.c.Get(ctx, key, opts...)
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return nil, errStale
	case err != nil:
		return nil, fmt.Errorf("etcd: %w", err)
	}
	if t.rev == 0 {
		t.rev, t.began = resp.Header.Revision, time.Now()
	}
	return resp, nil
}

// tombstone is the key that says key was deleted.
func (t *etcdTx) tombstone(key string) string {
	return t.e.prefix + "tombstones/" + key[len(t.e.prefix):]
}

// commit writes the transaction's writes if nothing it read changed since
// its revision; false when something did.
func (t *etcdTx) commit() (bool, error) {
	if len(t.writes) == 0 {
		return true, nil
	}
	if t.rev != 0 && time.Since(t.began) > maxTxnAge {
		return false, nil // tombstones it must see may have expired
	}
	cmps := make([]clientv3.Cmp, 0, len(t.reads)+2*len(t.ranges))
	for k, r := range t.reads {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", r.mod))
	}
	for _, r := range t.ranges {
		cmps = append(cmps,
			clientv3.Compare(clientv3.ModRevision(r[0]).WithRange(r[1]), "<", t.rev+1),
			clientv3.Compare(clientv3.ModRevision(t.tombstone(r[0])).WithRange(t.tombstone(r[1])), "<", t.rev+1))
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range t.writes {
			if !yield(k) {
				return
			}
		}
	})
	ops := make([]clientv3.Op, 0, len(keys))
	for _, k := range keys {
		if v := t.writes[k]; v != nil {
			ops = append(ops, clientv3.OpPut(k, string(v)))
			continue
		}
		lease, err := t.e.tombstoneLease()
		if err != nil {
			return false, err
		}
		ops = append(ops, clientv3.OpDelete(k), clientv3.OpPut(t.tombstone(k), "", clientv3.WithLease(lease)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.e.timeout)
	defer cancel()
	resp, err := t.e.c.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("etcd: committing %d writes: %w", len(ops), err)
	}
	return resp.Succeeded, nil
}

// tombstoneLease is the lease tombstones written now are attached to: a
// new one each tombstoneLeaseUse, never kept alive, so that etcd deletes
// them tombstoneTTL after it was granted (or later).
func (e *Etcd) tombstoneLease() (clientv3.LeaseID, error) {
	e.leasing.Lock()
	defer e.leasing.Unlock()
	if e.lease != 0 && time.Since(e.leaseFrom) < tombstoneLeaseUse {
		return e.lease, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	from := time.Now()
	resp, err := e.c.Grant(ctx, int64(tombstoneTTL/time.Second))
	if err != nil {
		return 0, fmt.Errorf("etcd: granting the tombstones' lease: %w", err)
	}
	e.lease, e.leaseFrom = resp.ID, from
	return e.lease, nil
}

func (t *etcdTx) bucket(name []byte) bucket {
	return etcdBucket{t: t, prefix: t.e.prefix + string(name) + "/"}
}

// etcdBucket is a bucket of a transaction: the keys under prefix.
type etcdBucket struct {
	t      *etcdTx
	prefix string
}

func (b etcdBucket) get(key []byte) ([]byte, error) {
	k := b.prefix + string(key)
	if v, ok := b.t.writes[k]; ok {
		return v, nil
	}
	if r, ok := b.t.reads[k]; ok {
		return r.value, nil
	}
	resp, err := b.t.get(k)
	if err != nil {
		return nil, err
	}
	var r etcdRead
	if len(resp.Kvs) > 0 {
		r = etcdRead{value: resp.Kvs[0].Value, mod: resp.Kvs[0].ModRevision}
	}
	b.t.reads[k] = r
	return r.value, nil
}

func (b etcdBucket) put(key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	b.t.writes[b.prefix+string(key)] = bytes.Clone(value)
	return nil
}

func (b etcdBucket) del(key []byte) error {
	b.t.writes[b.prefix+string(key)] = nil
	return nil
}

// nextSequence implements bucket: unique across replicas (a random base
// per process, above any sequence bbolt gave, so that a migrated activity
// log's events of one instant stay first), growing within one, and read
// from no shared key, so that appends never conflict.
func (b etcdBucket) nextSequence() (uint64, error) {
	return b.t.e.seqBase | uint64(b.t.e.seq.Add(1)), nil
}

// count implements bucket with a count-only read, which transfers no
// record and is not remembered: concurrent creates do not conflict on it.
// The transaction's own writes in the range count as they will be.
func (b etcdBucket) count(prefix []byte) (int, error) {
	start := b.prefix + string(prefix)
	end := clientv3.GetPrefixRangeEnd(start)
	resp, err := b.t.get(start, clientv3.WithRange(end), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	n := int(resp.Count)
	for k, v := range b.t.writes {
		if k < start || k >= end {
			continue
		}
		resp, err := b.t.get(k, clientv3.WithCountOnly())
		if err != nil {
			return 0, err
		}
		switch existed := resp.Count > 0; {
		case v != nil && !existed:
			n++
		case v == nil && existed:
			n--
		}
	}
	return n, nil
}

// etcdPage is how many records one etcd call reads of a scan (a variable:
// the tests read two at a time to cross many pages).
var etcdPage int64 = 1000

// scan implements bucket: etcd's records at the transaction's revision,
// page by page, merged with the transaction's own writes.
func (b etcdBucket) scan(prefix []byte, fn func(k, v []byte) bool) error {
	start := b.prefix + string(prefix)
	end := clientv3.GetPrefixRangeEnd(start)
	return b.merge(start, end, false, fn)
}

func (b etcdBucket) scanBack(from, to []byte, fn func(k, v []byte) bool) error {
	end := clientv3.GetPrefixRangeEnd(b.prefix)
	if to != nil {
		end = b.prefix + string(to)
	}
	return b.merge(b.prefix+string(from), end, true, fn)
}

// merge calls fn with the records of [start, end) in key order (or
// reverse), the transaction's writes over etcd's.
func (b etcdBucket) merge(start, end string, reverse bool, fn func(k, v []byte) bool) error {
	var own []string // written keys in range, in the scan's order
	for k := range b.t.writes {
		if k >= start && k < end {
			own = append(own, k)
		}
	}
	slices.Sort(own)
	if reverse {
		slices.Reverse(own)
	}
	// emitOwn sends the written keys that come before k in the scan's
	// order (every one left when last), and k itself when it is written.
	emitOwn := func(k string, last bool) (written, more bool) {
		for len(own) > 0 && (last || own[0] == k || (own[0] < k) != reverse) {
			w := own[0]
			own = own[1:]
			if v := b.t.writes[w]; v != nil && !fn([]byte(w[len(b.prefix):]), v) {
				return w == k, false
			}
			if w == k {
				return true, true
			}
		}
		_, written = b.t.writes[k]
		return written, true
	}
	more := true
	err := b.read(start, end, reverse, func(k string, v []byte) bool {
		var written bool
		if written, more = emitOwn(k, false); !more || written {
			return more
		}
		more = fn([]byte(k[len(b.prefix):]), v)
		return more
	})
	if err == nil && more {
		emitOwn("", true)
	}
	return err
}

// read calls fn with etcd's records of [start, end) at the transaction's
// revision, in key order (or reverse), a page at a time, until fn returns
// false; the transaction remembers the part of the range it read.
func (b etcdBucket) read(start, end string, reverse bool, fn func(k string, v []byte) bool) error {
	lo, hi := start, end
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(hi), clientv3.WithLimit(etcdPage)}
		if reverse {
			opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		}
		resp, err := b.t.get(lo, opts...)
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			if !fn(string(kv.Key), kv.Value) {
				// Read up to kv, and no further.
				if reverse {
					start = string(kv.Key)
				} else {
					end = string(kv.Key) + "\x00"
				}
				b.t.ranges = append(b.t.ranges, [2]string{start, end})
				return nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			b.t.ranges = append(b.t.ranges, [2]string{start, end})
			return nil
		}
		if last := string(resp.Kvs[len(resp.Kvs)-1].Key); reverse {
			hi = last
		} else {
			lo = last + "\x00"
		}
	}
}

// Change is a key a committed transaction wrote, by bucket; a Change with
// no Bucket says the watch lost its place (etcd compacted the history it
// needed): anything may have changed.
type Change struct{ Bucket, Key string }

// Watcher is a store that tells of the writes of every process using it
// (etcd's replicas), not only its own.
type Watcher interface {
	// Watch calls fn with what transactions committed from now on, in
	// commit order (one or several whole transactions a call), until ctx
	// ends. It returns once watching.
	Watch(ctx context.Context, fn func([]Change)) error
}

// Watch implements Watcher with an etcd watch on the hub's prefix: a call
// holds whole transactions (etcd never splits a revision's events), one
// or several.
func (e *Etcd) Watch(ctx context.Context, fn func([]Change)) error {
	rev, err := e.revision()
	if err != nil {
		return err
	}
	go e.watch(ctx, rev, fn)
	return nil
}

func (e *Etcd) watch(ctx context.Context, rev int64, fn func([]Change)) {
	for ctx.Err() == nil {
		wch := e.c.Watch(clientv3.WithRequireLeader(ctx), e.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for resp := range wch {
			if resp.CompactRevision != 0 {
				// The history since rev is gone: start over from now.
				rev = resp.CompactRevision - 1
				fn([]Change{{}})
				break
			}
			if resp.Err() != nil {
				break
			}
			var changes []Change
			for _, ev := range resp.Events {
				bucket, key, ok := strings.Cut(strings.TrimPrefix(string(ev.Kv.Key), e.prefix), "/")
				if ok && bucket != "tombstones" { // tombstones: written with deletes, expired by etcd
					changes = append(changes, Change{Bucket: bucket, Key: key})
				}
				rev = max(rev, ev.Kv.ModRevision)
			}
			if len(changes) > 0 {
				fn(changes)
			}
		}
		select { // the watch ended (an etcd member away, no leader): again
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// The buckets of the Changes the data plane follows: a cluster's desired
// state revision (long polls), and the records the Resource Graph shows.
const (
	ChangedRevision         = "revisions"
	ChangedCluster          = "clusters"
	ChangedConfig           = "configs"
	ChangedGroup            = "resourceGroups"
	ChangedVault            = "vaults"
	ChangedExtension        = "extensions"
	ChangedPolicyState      = "policyStates"
	ChangedPolicyAssignment = "policyAssignments"
)
