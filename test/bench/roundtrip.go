package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

// measureRoundTrips runs measures 5 (an ARM PUT -> the FluxConfig in the
// cluster) and 4 (a Flux object's Ready change -> the data plane's GET),
// with the manager's agent long-polling a data plane process.
func measureRoundTrips(o options, rep *report) error {
	c, err := startCluster()
	if err != nil {
		return err
	}
	defer c.stop()
	progress("Starting the data plane and the manager with its agent")
	d, err := startDataPlane(o, c.dir)
	if err != nil {
		return err
	}
	defer d.stop()
	const cluster = "roundtrip"
	tokenFile, _, err := d.register(c.dir, cluster)
	if err != nil {
		return err
	}
	r, err := c.withManager(o, "manager-agent", "--ssh-key-algorithm=ed25519", "--dataplane-url="+d.url,
		"--agent-token-file="+tokenFile, "--cluster-resource-id="+clusterPath(cluster), "--cluster-scope-namespaces=*")
	if err != nil {
		return err
	}
	defer r.stop()
	ctx, w := r.ctx, r.w

	if o.measures["propagation"] {
		progress("5. Propagation: %d ARM PUTs, each until its FluxConfig is in the cluster", o.samples)
		var lat []time.Duration
		for i := 0; i < o.samples; i++ {
			name := fmt.Sprintf("p%d", i)
			start := time.Now()
			if err := d.call(http.MethodPut, configPath(cluster, name), armConfig("bench-propagation"), nil); err != nil {
				return err
			}
			if err := waitFor(30*time.Second, func() (bool, error) {
				err := w.Get(ctx, client.ObjectKey{Namespace: "bench-propagation", Name: name}, &v1alpha1.FluxConfig{})
				return err == nil, client.IgnoreNotFound(err)
			}); err != nil {
				return fmt.Errorf("configuration %s did not reach the cluster: %w", name, err)
			}
			lat = append(lat, time.Since(start))
		}
		rep.add(row{name: fmt.Sprintf("5. propagation, ARM PUT -> FluxConfig in the cluster (%d PUTs)", o.samples),
			value: fmt.Sprintf("p50 %s, p99 %s", ms(percentile(lat, 50)), ms(percentile(lat, 99))), target: "p99 < 1 s"})
	}

	if o.measures["roundtrip"] {
		progress("4. Status round trip: %d Ready changes of a Kustomization, each until the data plane's GET shows it", o.samples)
		const ns, name = "bench-roundtrip", "rt"
		if err := d.call(http.MethodPut, configPath(cluster, name), armConfig(ns), nil); err != nil {
			return err
		}
		repo := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-apps"}}
		if err := waitFor(30*time.Second, func() (bool, error) {
			err := c.env.Client.Get(ctx, client.ObjectKeyFromObject(ks), ks)
			return err == nil, client.IgnoreNotFound(err)
		}); err != nil {
			return fmt.Errorf("the round trip's Kustomization was not created: %w", err)
		}
		if err := setReady(ctx, c.env.Client, repo, metav1.ConditionTrue); err != nil {
			return err
		}
		var lat []time.Duration
		for i := 0; i < o.samples; i++ {
			// Alternate Ready=True (Compliant) and Ready=False (Non-Compliant).
			status, want := metav1.ConditionTrue, string(v1alpha1.ComplianceCompliant)
			if i%2 == 1 {
				status, want = metav1.ConditionFalse, string(v1alpha1.ComplianceNonCompliant)
			}
			start := time.Now()
			if err := setReady(ctx, c.env.Client, ks, status); err != nil {
				return err
			}
			if err := waitFor(30*time.Second, func() (bool, error) {
				got, err := d.complianceState(cluster, name)
				return got == want, err
			}); err != nil {
				return fmt.Errorf("the data plane did not show %s: %w", want, err)
			}
			lat = append(lat, time.Since(start))
		}
		rep.add(row{name: fmt.Sprintf("4. status round trip, Kustomization Ready change -> data plane GET (%d changes)", o.samples),
			value: fmt.Sprintf("p50 %s, p99 %s", ms(percentile(lat, 50)), ms(percentile(lat, 99))), target: "p99 < 2 s"})
	}
	return nil
}

// setReady plays Flux: Ready True (Succeeded) or False (Failed) for obj's
// current generation.
func setReady(ctx context.Context, k client.Client, obj client.Object, status metav1.ConditionStatus) error {
	reason := meta.SucceededReason
	if status != metav1.ConditionTrue {
		reason = meta.FailedReason
	}
	return testenv.SetReady(ctx, k, obj, status, reason, "set by the bench")
}

// waitFor polls done every millisecond until it holds, fails, or timeout
// passes.
func waitFor(timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("not within %s", timeout)
}
