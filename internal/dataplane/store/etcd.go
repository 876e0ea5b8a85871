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
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Etcd is the Store on an etcd cluster (go.etcd.io/etcd/client/v3), for
// hubs of several replicas: its records live under a key prefix, one etcd
// key each (<prefix><bucket>/<key>), so that one etcd can hold several
// hubs.
//
// Transactions are optimistic and serialized, as bbolt's are: a
// transaction reads at the revision it started at (seeing its own writes
// over it), buffers its writes, and commits them in one etcd transaction
// only if no other transaction committed since it started (every commit
// rewrites the hub's lock key, compared by revision); otherwise it runs
// again on fresh reads. No read-modify-write race between replicas can
// lose an update, and a commit is acknowledged once a quorum has it on
// disk.
//
// An Update writes all its keys in one etcd transaction: etcd's
// --max-txn-ops (default 128) and --max-request-bytes (default 1.5 MiB)
// bound it; run etcd with --max-txn-ops=10000 --max-request-bytes=
// 33554432 for hubs whose clusters hold many configurations.
type Etcd struct {
	c      *clientv3.Client
	prefix string
	// writing lets one Update of this process run at a time: they would
	// only conflict with each other (and run again), so they wait here
	// instead, and only other replicas' commits make one run again.
	writing sync.Mutex
	// batching gathers concurrent Batch calls into one transaction.
	batching sync.Mutex
	batch    *etcdBatch
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

// ErrContention is an Update's answer when it lost to concurrent
// transactions maxAttempts times.
var ErrContention = errors.New("etcd: the transaction lost to concurrent writers too often; retry")

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
	e := &Etcd{c: c, prefix: opts.Prefix, timeout: opts.Timeout}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	if _, err := c.Get(ctx, e.lockKey()); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("etcd at %s does not answer: %w", strings.Join(opts.Endpoints, ","), err)
	}
	return e, nil
}

// lockKey is rewritten by every commit: a transaction commits only if it
// is unchanged since the transaction began.
func (e *Etcd) lockKey() string { return e.prefix + "lock" }

// View implements Store: reads at one revision.
func (e *Etcd) View(fn func(Tx) error) error {
	t, err := e.begin()
	if err != nil {
		return err
	}
	return fn(txn{t})
}

// Update implements Store.
func (e *Etcd) Update(fn func(Tx) error) error {
	e.writing.Lock()
	defer e.writing.Unlock()
	for attempt := range maxAttempts {
		t, err := e.begin()
		if err != nil {
			return err
		}
		if err := fn(txn{t}); err != nil {
			return err
		}
		if t.err != nil {
			return t.err
		}
		ok, err := t.commit()
		if err != nil || ok {
			return err
		}
		// Another transaction committed first: run again on its result,
		// after a short random pause that grows with the attempts.
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

// etcdTx is one transaction: the revision it reads at, and its writes.
type etcdTx struct {
	e   *Etcd
	rev int64
	// lockRev is the lock key's ModRevision at rev (0: never written).
	lockRev int64
	// writes are the values put (nil: deleted), by full key.
	writes map[string][]byte
	// err is the first failure of a write, returned by Update.
	err error
}

func (e *Etcd) begin() (*etcdTx, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	resp, err := e.c.Get(ctx, e.lockKey())
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	t := &etcdTx{e: e, rev: resp.Header.Revision, writes: map[string][]byte{}}
	if len(resp.Kvs) > 0 {
		t.lockRev = resp.Kvs[0].ModRevision
	}
	return t, nil
}

func (t *etcdTx) commit() (bool, error) {
	if len(t.writes) == 0 {
		return true, nil
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range t.writes {
			if !yield(k) {
				return
			}
		}
	})
	ops := make([]clientv3.Op, 0, len(keys)+1)
	for _, k := range keys {
		if v := t.writes[k]; v != nil {
			ops = append(ops, clientv3.OpPut(k, string(v)))
		} else {
			ops = append(ops, clientv3.OpDelete(k))
		}
	}
	ops = append(ops, clientv3.OpPut(t.e.lockKey(), ""))
	ctx, cancel := context.WithTimeout(context.Background(), t.e.timeout)
	defer cancel()
	resp, err := t.e.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(t.e.lockKey()), "=", t.lockRev)).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("etcd: committing %d writes: %w", len(ops), err)
	}
	return resp.Succeeded, nil
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
	ctx, cancel := context.WithTimeout(context.Background(), b.t.e.timeout)
	defer cancel()
	resp, err := b.t.e.c.Get(ctx, k, clientv3.WithRev(b.t.rev))
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0].Value, nil
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

func (b etcdBucket) nextSequence() (uint64, error) {
	seq := etcdBucket{t: b.t, prefix: b.t.e.prefix + "sequences/"}
	key := []byte(strings.TrimSuffix(strings.TrimPrefix(b.prefix, b.t.e.prefix), "/"))
	v, err := seq.get(key)
	if err != nil {
		return 0, err
	}
	var n uint64
	if len(v) > 0 {
		if _, err := fmt.Sscan(string(v), &n); err != nil {
			return 0, fmt.Errorf("etcd: corrupt sequence %q: %w", v, err)
		}
	}
	n++
	return n, seq.put(key, []byte(fmt.Sprint(n)))
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
// false.
func (b etcdBucket) read(start, end string, reverse bool, fn func(k string, v []byte) bool) error {
	lo, hi := start, end
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(hi), clientv3.WithRev(b.t.rev), clientv3.WithLimit(etcdPage)}
		if reverse {
			opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.t.e.timeout)
		resp, err := b.t.e.c.Get(ctx, lo, opts...)
		cancel()
		if err != nil {
			return fmt.Errorf("etcd: %w", err)
		}
		for _, kv := range resp.Kvs {
			if !fn(string(kv.Key), kv.Value) {
				return nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
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
	t, err := e.begin()
	if err != nil {
		return err
	}
	go e.watch(ctx, t.rev, fn)
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
				if ok && bucket != "sequences" {
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
