package main

import (
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// measureBurst runs measure 7's second half: o.burst SSH configurations
// with generated RSA-4096 keys (the manager's default) created at once, and
// while their keys are generated, one HTTPS configuration every
// probeEvery, timed from its creation until it has converged. The same
// probe, timed before the burst, is the floor.
func measureBurst(o options, rep *report) error {
	c, err := startCluster()
	if err != nil {
		return err
	}
	defer c.stop()
	progress("Starting the manager with its defaults (rsa-4096 keys)")
	r, err := c.withManager(o, "manager-rsa")
	if err != nil {
		return err
	}
	defer r.stop()
	ctx, w, k := r.ctx, r.w, c.env.Client
	if err := createNamespaces(ctx, k, "probe"); err != nil {
		return err
	}
	probes := 0
	probe := func() (time.Duration, error) {
		fc := &v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("probe-%d", probes%namespaces), Name: fmt.Sprintf("https%d", probes)},
			Spec: httpsSpec()}
		probes++
		start := time.Now()
		if err := k.Create(ctx, fc); err != nil {
			return 0, err
		}
		err := waitFor(20*time.Minute, func() (bool, error) {
			got := &v1alpha1.FluxConfig{}
			if err := w.Get(ctx, client.ObjectKeyFromObject(fc), got); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			ks := &metav1.PartialObjectMetadata{}
			ks.SetGroupVersionKind(kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind))
			err := w.Get(ctx, client.ObjectKey{Namespace: fc.Namespace, Name: fc.Name + "-apps"}, ks)
			return converged(got) && err == nil, client.IgnoreNotFound(err)
		})
		return time.Since(start), err
	}

	progress("7. Reconcile latency of an HTTPS configuration, alone")
	var alone []time.Duration
	for i := 0; i < 10; i++ {
		d, err := probe()
		if err != nil {
			return err
		}
		alone = append(alone, d)
		time.Sleep(200 * time.Millisecond)
	}

	progress("7. Burst: %d SSH configurations with RSA-4096 keys at once; an HTTPS configuration every %s meanwhile", o.burst, probeEvery)
	if err := createNamespaces(ctx, k, "burst"); err != nil {
		return err
	}
	start := time.Now()
	err = parallel(o.burst, 8, func(i int) error {
		return k.Create(ctx, &v1alpha1.FluxConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("burst-%d", i%namespaces), Name: fmt.Sprintf("c%d", i)},
			Spec:       spec(),
		})
	})
	if err != nil {
		return err
	}
	created := time.Since(start)
	done := make(chan error, 1)
	var took time.Duration
	go func() {
		err := waitConverged(ctx, w, "burst", o.burst, 60*time.Minute)
		took = time.Since(start)
		done <- err
	}()
	var during []time.Duration
	for finished := false; !finished; {
		d, err := probe()
		if err != nil {
			return err
		}
		during = append(during, d)
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			finished = true
		case <-time.After(max(0, probeEvery-d)):
		}
	}
	rep.add(row{name: fmt.Sprintf("7. burst of %d SSH configurations with RSA-4096 keys, until all converged", o.burst),
		value: fmt.Sprintf("%s (%.1f keys/s; created in %s)", secs(took), float64(o.burst)/took.Seconds(), secs(created))})
	rep.add(row{name: fmt.Sprintf("7. HTTPS configuration converged during the burst (%d probes)", len(during)),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(percentile(during, 50)), ms(percentile(during, 99))),
		floor: fmt.Sprintf("p50 %s (alone, %d probes)", ms(median(alone)), len(alone)),
		ratio: fmt.Sprintf("%.2f", percentile(during, 50).Seconds()/median(alone).Seconds())})
	return nil
}

// probeEvery is the pace of HTTPS probes during the burst.
const probeEvery = 2 * time.Second

// httpsSpec is a configuration without a generated key.
func httpsSpec() v1alpha1.FluxConfigSpec {
	s := spec()
	s.GitRepository.URL = "https://github.com/org/fleet"
	return s
}
