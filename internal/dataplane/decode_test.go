package dataplane

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDeepNestingIsRefusedCheaply: a body of nested objects or arrays, up
// to the 1 MiB cap, is refused for its depth, and decoding it allocates
// about what it reads, not the square of its depth (48 KiB of nested
// objects allocated 101 MiB before the cap, 1 MiB got the process killed).
func TestDeepNestingIsRefusedCheaply(t *testing.T) {
	cases := map[string]string{
		"arrays":            strings.Repeat("[", 1<<20),
		"objects":           strings.Repeat(`{"a":`, (1<<20)/5),
		"arrays of objects": strings.Repeat(`[{"k":`, (1<<20)/6),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			e := decodeStrict([]byte(body), &armBody{})
			runtime.ReadMemStats(&after)
			if e == nil || !strings.Contains(e.message, "deeper than 32 levels") {
				t.Fatalf("error = %v, want the depth refused", e)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Errorf("refusing %d bytes allocated %d MiB", len(body), alloc>>20)
			}
		})
	}

	// What ARM bodies need still decodes: 8 levels, as deep as a
	// postBuild.substituteFrom entry, and a duplicate key deep inside is
	// named by its path.
	ok := `{"properties":{"kustomizations":{"k":{"postBuild":{"substituteFrom":[{"kind":"ConfigMap","name":"x"}]}}}}}`
	if e := checkDuplicateKeys([]byte(ok)); e != nil {
		t.Errorf("an ARM-deep body is refused: %v", e)
	}
	dup := `{"properties":{"kustomizations":{"k":{"postBuild":{"substituteFrom":[{"kind":"ConfigMap","kind":"Secret"}]}}}}}`
	if e := checkDuplicateKeys([]byte(dup)); e == nil || !strings.Contains(e.Error(), `"kind" twice in properties.kustomizations.k.postBuild.substituteFrom`) {
		t.Errorf("duplicate deep key: %v", e)
	}
}

// TestBodySlotsBoundConcurrentBodies: with every body slot taken by a
// client still sending its body, another write waits, then gets 503 with
// Retry-After; reads are not held up, and a slot frees once the slow body
// is done.
func TestBodySlotsBoundConcurrentBodies(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxConcurrentBodies = 1; o.BodySlotWait = 100 * time.Millisecond })
	f.register(clusterA)
	slow, finish := io.Pipe()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, f.ts.URL+av(clusterA+fluxPath+"/slow"), slow)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.ownerToken())
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	body := example(t, "create-git.json")
	_, _ = finish.Write([]byte(body[:10])) // the slow client holds the only slot
	for deadline := time.Now().Add(10 * time.Second); len(f.srv.bodies) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the slow write never took the slot")
		}
		time.Sleep(5 * time.Millisecond)
	}

	r := f.do(http.MethodPut, av(clusterA+fluxPath+"/other"), body)
	if r.status != http.StatusServiceUnavailable || r.code() != "ServerBusy" || r.header.Get("Retry-After") == "" {
		t.Errorf("a write while the slot is held: %d %s, Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := f.do(http.MethodGet, av(clusterA+fluxPath), ""); r.status != http.StatusOK {
		t.Errorf("a read waited for a body slot: %d", r.status)
	}

	_, _ = finish.Write([]byte(body[10:]))
	_ = finish.Close()
	if code := <-done; code != http.StatusCreated {
		t.Fatalf("the slow write: %d", code)
	}
	if r := f.do(http.MethodPut, av(clusterA+fluxPath+"/other"), body); r.status != http.StatusCreated {
		t.Errorf("a write after the slot freed: %d %s", r.status, r.body)
	}
}
