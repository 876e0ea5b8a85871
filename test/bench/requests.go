package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// requestCosts measures the kube-apiserver CPU of each kind of request the
// operator and the floor send, before any manager runs, so that measure 1's
// ratio can be read request by request. FluxConfigs are the floor's copy
// (same schema and validation).
func requestCosts(ctx context.Context, c *cluster, rep *report) error {
	progress("1. kube-apiserver CPU per kind of request")
	k := c.env.Client
	const n, ns = 300, "request-costs"
	if err := k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	floorFC := func(i int) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: floorGroup, Version: v1alpha1.GroupVersion.Version, Kind: "FluxConfig"})
		u.SetNamespace(ns)
		u.SetName(fmt.Sprintf("fc%d", i))
		return u
	}
	ks := func(i int, prefix string) *unstructured.Unstructured {
		m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(&kustomizev1.Kustomization{
			Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: 10 * time.Minute}, Path: "./apps",
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet"}, ServiceAccountName: "flux-applier"}})
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		u.SetGroupVersionKind(kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind))
		u.SetNamespace(ns)
		u.SetName(fmt.Sprintf("%s%d", prefix, i))
		return u
	}
	secret := func(i int, prefix string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"data": map[string]any{"identity": "a2V5"}}}
		u.SetNamespace(ns)
		u.SetName(fmt.Sprintf("%s%d", prefix, i))
		return u
	}
	status := `{"status":{"observedGeneration":1,"complianceState":"Pending","provisioningState":"Succeeded","conditions":[{"type":"Ready","status":"Unknown","reason":"Progressing","message":"waiting","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}]}}`
	apply := func(obj *unstructured.Unstructured) error {
		return k.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("bench"), client.ForceOwnership)
	}
	kinds := []struct {
		name string
		f    func(i int) error
	}{
		{"FluxConfig create", func(i int) error {
			fc := floorFC(i)
			m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(&v1alpha1.FluxConfig{Spec: spec()})
			fc.Object["spec"] = m["spec"]
			return k.Create(ctx, fc)
		}},
		{"finalizer patch", func(i int) error {
			return k.Patch(ctx, floorFC(i), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":["bench/cleanup"]}}`)))
		}},
		{"status patch", func(i int) error {
			return k.Status().Patch(ctx, floorFC(i), client.RawPatch(types.MergePatchType, []byte(status)))
		}},
		{"status apply", func(i int) error {
			fc := floorFC(i)
			body := `{"apiVersion":"` + floorGroup + `/v1alpha1","kind":"FluxConfig","metadata":{"name":"` + fc.GetName() + `","namespace":"` + ns + `"},` + status[1:len(status)-1] + `}`
			return k.Status().Patch(ctx, fc, client.RawPatch(types.ApplyPatchType, []byte(body)), client.FieldOwner("bench"), client.ForceOwnership)
		}},
		{"Kustomization create", func(i int) error { return k.Create(ctx, ks(i, "created")) }},
		{"Kustomization apply", func(i int) error { return apply(ks(i, "applied")) }},
		{"Secret create", func(i int) error { return k.Create(ctx, secret(i, "created")) }},
		{"Secret apply", func(i int) error { return apply(secret(i, "applied")) }},
	}
	var parts []string
	for _, kind := range kinds {
		cpu0, err := cpuTime(c.apiserver)
		if err != nil {
			return err
		}
		if err := parallel(n, 8, kind.f); err != nil {
			return fmt.Errorf("%s: %w", kind.name, err)
		}
		cpu1, err := cpuTime(c.apiserver)
		if err != nil {
			return err
		}
		parts = append(parts, fmt.Sprintf("%s %.1f", kind.name, float64((cpu1-cpu0).Microseconds())/1000/n))
	}
	rep.add(row{name: fmt.Sprintf("1. kube-apiserver CPU per request, ms (%d of each, FluxConfig in the floor's copy of the CRD)", n),
		value: strings.Join(parts, ", ")})
	return nil
}
