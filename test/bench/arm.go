package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
)

// measureARM runs measure 8: ARM requests as signed-in principals (every
// request verifies a token and decides from role assignments), and sign-in
// while a burst of wrong secrets hits the token endpoint.
func measureARM(o options, rep *report) error {
	dir, err := os.MkdirTemp("", "bench-arm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	progress("Starting the data plane")
	d, err := startDataPlane(o, dir)
	if err != nil {
		return err
	}
	defer d.stop()
	const cluster = "arm"
	if err := d.call(http.MethodPut, clusterPath(cluster), map[string]any{"location": "bench"}, nil); err != nil {
		return err
	}
	victim, err := d.principal("bench-flux", "d54924f5-7e9f-4c24-8fcf-80f58de59c85", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench")
	if err != nil {
		return err
	}
	scoped := d.clientAs(victim.AppID, victim.Password)
	n := 5 * o.samples
	for _, who := range []struct {
		name string
		c    *armclient.Client
	}{{"the owner (Owner at /)", d.arm}, {"a principal with a role on the resource group", scoped}} {
		progress("8. %d ARM requests (PUT, GET, LIST of fluxConfigurations) as %s", n, who.name)
		lat, err := armRequests(who.c, cluster, n)
		if err != nil {
			return err
		}
		rep.add(row{name: fmt.Sprintf("8. ARM request with sign-in and authorization, as %s (%d requests)", who.name, n),
			value: fmt.Sprintf("p50 %s, p99 %s", ms(median(lat)), ms(percentile(lat, 99))), target: "p99 < 100 ms"})
	}

	progress("8. Sign-in of one client while another's wrong secrets arrive (1000, 32 at a time)")
	owner := d.owner
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	alone, err := signIns(hc, d.url, owner.AppID, owner.Password, 100, nil)
	if err != nil {
		return err
	}
	var refused, limited atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= 1000 {
				switch code, _ := signIn(hc, d.url, victim.AppID, "wrong-"+uuid.NewString()); code {
				case http.StatusUnauthorized:
					refused.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	during, err := signIns(hc, d.url, owner.AppID, owner.Password, 0, done)
	if err != nil {
		return err
	}
	rep.add(row{name: fmt.Sprintf("8. valid sign-in during 1,000 failed ones of another client (%d sign-ins)", len(during)),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(median(during)), ms(percentile(during, 99))),
		floor: fmt.Sprintf("p99 %s (alone, %d sign-ins)", ms(percentile(alone, 99)), len(alone)),
		ratio: fmt.Sprintf("%.2f", float64(percentile(during, 99))/float64(percentile(alone, 99)))})
	rep.note("Measure 8's failed sign-ins: %d answered 401 (wrong secret, checked), %d answered 429 (over the per-client-and-address limit, not checked).", refused.Load(), limited.Load())
	return nil
}

// armRequests sends n requests, a third each PUT, GET and LIST of
// fluxConfigurations in cluster, and returns their latencies.
func armRequests(c *armclient.Client, cluster string, n int) ([]time.Duration, error) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, n)
	for i := range n {
		// PUT arm0, GET arm0, LIST, PUT arm1, ...: a GET reads what exists.
		name := fmt.Sprintf("arm%d", (i/3)%20)
		req := armclient.Request{Method: http.MethodGet, Path: configPath(cluster, name)}
		switch i % 3 {
		case 0:
			req = armclient.Request{Method: http.MethodPut, Path: configPath(cluster, name), Body: armConfig("bench-arm")}
		case 2:
			req.Path = arm.FluxConfigID(clusterPath(cluster), "")
		}
		start := time.Now()
		if _, err := c.Do(ctx, req, nil); err != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
		}
		lat = append(lat, time.Since(start))
	}
	return lat, nil
}

// signIn asks the token endpoint for a token as az does.
func signIn(hc *http.Client, base, appID, secret string) (int, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret},
		"scope": {arm.DefaultAudience + "/.default"}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/adfs/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// signIns times valid sign-ins: n of them, or until done closes.
func signIns(hc *http.Client, base, appID, secret string, n int, done <-chan struct{}) ([]time.Duration, error) {
	var lat []time.Duration
	for i := 0; n == 0 || i < n; i++ {
		if done != nil {
			select {
			case <-done:
				return lat, nil
			default:
			}
		}
		start := time.Now()
		code, err := signIn(hc, base, appID, secret)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("a valid sign-in was answered %d", code)
		}
		lat = append(lat, time.Since(start))
	}
	return lat, nil
}
