package auth

import (
	"container/list"
	"sync"
)

// KeyPool generates SSH key pairs in the background, at most Workers at a
// time, so that slow generations (RSA 4096: about 0.4 s of CPU each) never
// hold a reconcile worker: a burst of new SSH configurations waits in the
// pool's queue while every other configuration is reconciled.
//
// Take asks for the key pair of a key (a FluxConfig's namespace/name);
// until it is ready Take returns nil and the pool calls Ready(key) when it
// is. Results wait, one per key, until taken or forgotten.
type KeyPool struct {
	// Generate makes one key pair (GenerateKeyPair of the manager's
	// algorithm in production).
	Generate func() (*KeyPair, error)
	// Workers is how many generations run at once (at least 1).
	Workers int
	// Ready is called, outside the pool's lock, when a key's result is in.
	Ready func(key string)

	mu      sync.Mutex
	queue   *list.List               // keys waiting, oldest first
	queued  map[string]*list.Element // keys in queue
	running map[string]bool
	done    map[string]keyResult
	active  int
}

type keyResult struct {
	kp  *KeyPair
	err error
}

// Take returns the generated key pair of key, or its generation's error,
// and forgets it; when there is none yet it queues the generation (once)
// and returns nil, nil.
func (p *KeyPool) Take(key string) (*KeyPair, error) {
	p.mu.Lock()
	p.init()
	if r, ok := p.done[key]; ok {
		delete(p.done, key)
		p.mu.Unlock()
		return r.kp, r.err
	}
	if _, ok := p.queued[key]; !ok && !p.running[key] {
		p.queued[key] = p.queue.PushBack(key)
	}
	start := p.next()
	p.mu.Unlock()
	start()
	return nil, nil
}

// Forget drops whatever the pool holds for key: queued, or a result
// nobody took (the FluxConfig is gone). A generation already running
// finishes and is dropped when it ends.
func (p *KeyPool) Forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	if e, ok := p.queued[key]; ok {
		p.queue.Remove(e)
		delete(p.queued, key)
	}
	delete(p.done, key)
	if p.running[key] {
		p.running[key] = false // the result is dropped
	}
}

// Pending is the number of keys queued or being generated.
func (p *KeyPool) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queued) + p.active
}

func (p *KeyPool) init() {
	if p.queue == nil {
		p.queue = list.New()
		p.queued = map[string]*list.Element{}
		p.running = map[string]bool{}
		p.done = map[string]keyResult{}
	}
}

// next starts as many queued generations as the workers allow; it is
// called with the lock held and returns a function that starts them after
// the lock is released.
func (p *KeyPool) next() func() {
	var keys []string
	for p.active < max(1, p.Workers) && p.queue.Len() > 0 {
		key := p.queue.Remove(p.queue.Front()).(string)
		delete(p.queued, key)
		p.running[key] = true
		p.active++
		keys = append(keys, key)
	}
	return func() {
		for _, key := range keys {
			go p.generate(key)
		}
	}
}

func (p *KeyPool) generate(key string) {
	kp, err := p.Generate()
	p.mu.Lock()
	wanted := p.running[key]
	delete(p.running, key)
	p.active--
	if wanted {
		p.done[key] = keyResult{kp: kp, err: err}
	}
	start := p.next()
	p.mu.Unlock()
	start()
	if wanted && p.Ready != nil {
		p.Ready(key)
	}
}
