package auth

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// fakeGenerator counts generations and their concurrency; each blocks until
// released when gate is set.
type fakeGenerator struct {
	calls, running, peak atomic.Int32
	gate                 chan struct{}
	err                  error
}

func (f *fakeGenerator) generate() (*KeyPair, error) {
	n := f.calls.Add(1)
	r := f.running.Add(1)
	for {
		p := f.peak.Load()
		if r <= p || f.peak.CompareAndSwap(p, r) {
			break
		}
	}
	if f.gate != nil {
		<-f.gate
	}
	f.running.Add(-1)
	if f.err != nil {
		return nil, f.err
	}
	return &KeyPair{PublicKey: []byte(fmt.Sprintf("key-%d", n))}, nil
}

// readyLog passes Ready calls on.
type readyLog struct{ ch chan string }

func newReadyLog() *readyLog { return &readyLog{ch: make(chan string, 100)} }

func (l *readyLog) ready(key string) { l.ch <- key }

func TestKeyPoolDeliversOnceThenForgets(t *testing.T) {
	gen := &fakeGenerator{gate: make(chan struct{})}
	log := newReadyLog()
	p := &KeyPool{Generate: gen.generate, Workers: 1, Ready: log.ready}

	for i := 0; i < 3; i++ {
		if kp, err := p.Take("ns/a"); kp != nil || err != nil {
			t.Fatalf("Take #%d before the key is ready = %v, %v; want nil, nil", i, kp, err)
		}
	}
	close(gen.gate)
	if got := <-log.ch; got != "ns/a" {
		t.Fatalf("Ready(%q), want ns/a", got)
	}
	kp, err := p.Take("ns/a")
	if err != nil || kp == nil || string(kp.PublicKey) != "key-1" {
		t.Fatalf("Take after Ready = %v, %v; want key-1", kp, err)
	}
	if n := gen.calls.Load(); n != 1 {
		t.Errorf("three Takes of one key generated %d keys, want 1", n)
	}
	// Taken means forgotten: the next Take starts a new generation.
	if kp, _ := p.Take("ns/a"); kp != nil {
		t.Fatalf("a taken key was handed out again")
	}
	<-log.ch
	if n := gen.calls.Load(); n != 2 {
		t.Errorf("generations = %d, want 2", n)
	}
}

func TestKeyPoolBoundsConcurrency(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			gen := &fakeGenerator{gate: make(chan struct{})}
			log := newReadyLog()
			p := &KeyPool{Generate: gen.generate, Workers: workers, Ready: log.ready}
			const keys = 12
			for i := 0; i < keys; i++ {
				if kp, err := p.Take(fmt.Sprintf("k%d", i)); kp != nil || err != nil {
					t.Fatalf("Take before any generation = %v, %v", kp, err)
				}
			}
			if got := p.Pending(); got != keys {
				t.Errorf("Pending = %d, want %d", got, keys)
			}
			want := int32(max(1, workers))
			for gen.running.Load() < want { // every worker is busy
				time.Sleep(time.Millisecond)
			}
			time.Sleep(10 * time.Millisecond) // room for an extra generation to start, if the bound were broken
			close(gen.gate)
			seen := map[string]bool{}
			for i := 0; i < keys; i++ {
				seen[<-log.ch] = true
			}
			if peak := gen.peak.Load(); peak != want {
				t.Errorf("peak concurrent generations = %d, want %d", peak, want)
			}
			if len(seen) != keys || p.Pending() != 0 {
				t.Errorf("ready keys = %d (pending %d), want %d (0)", len(seen), p.Pending(), keys)
			}
		})
	}
}

func TestKeyPoolForget(t *testing.T) {
	gen := &fakeGenerator{gate: make(chan struct{})}
	log := newReadyLog()
	p := &KeyPool{Generate: gen.generate, Workers: 1, Ready: log.ready}
	_, _ = p.Take("running") // starts at once, blocks on the gate
	_, _ = p.Take("queued")
	p.Forget("queued")  // never generated
	p.Forget("running") // generated, then dropped
	close(gen.gate)
	_, _ = p.Take("after")
	if got := <-log.ch; got != "after" {
		t.Fatalf("Ready(%q), want only 'after'", got)
	}
	if n := gen.calls.Load(); n != 2 {
		t.Errorf("generations = %d, want 2 (running and after)", n)
	}
	if kp, _ := p.Take("running"); kp != nil {
		t.Errorf("a forgotten key's result was kept")
	}
}

func TestKeyPoolReportsErrors(t *testing.T) {
	gen := &fakeGenerator{err: errors.New("no entropy")}
	log := newReadyLog()
	p := &KeyPool{Generate: gen.generate, Workers: 1, Ready: log.ready}
	_, _ = p.Take("k")
	<-log.ch
	if _, err := p.Take("k"); err == nil || err.Error() != "no entropy" {
		t.Fatalf("Take after a failed generation: err = %v, want no entropy", err)
	}
}
