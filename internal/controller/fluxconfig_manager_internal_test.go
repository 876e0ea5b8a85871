package controller

import (
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

func TestWrittenByReconcile(t *testing.T) {
	labels := func(name, ns string) map[string]string {
		return map[string]string{v1alpha1.LabelIsManaged: "true", v1alpha1.LabelName: name, v1alpha1.LabelNamespace: ns}
	}
	for _, tc := range []struct {
		desc, name, ns string
		labels         map[string]string
		want           bool
	}{
		{"the key Secret", "web-ssh-key", "apps", labels("web", "apps"), true},
		{"the auth Secret", "web-auth", "apps", labels("web", "apps"), true},
		{"the verification Secret", "web-verify", "apps", labels("web", "apps"), true},
		{"the protected settings the agent writes", "web-protected-parameters", "apps", labels("web", "apps"), false},
		{"another configuration's name", "api-auth", "apps", labels("web", "apps"), false},
		{"labels naming another namespace", "web-auth", "apps", labels("web", "other"), false},
		{"no labels", "web-auth", "apps", nil, false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := SecretMetadata()
			s.Name, s.Namespace, s.Labels = tc.name, tc.ns, tc.labels
			if got := writtenByReconcile(s); got != tc.want {
				t.Errorf("writtenByReconcile(%s/%s) = %v, want %v", tc.ns, tc.name, got, tc.want)
			}
		})
	}
}

func TestOwnPredicatesDropOnlyCreationsWithoutStatus(t *testing.T) {
	ready := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded"}}
	for _, tc := range []struct {
		desc string
		obj  client.Object
		want bool
	}{
		{"a Kustomization just created", &kustomizev1.Kustomization{}, false},
		{"a GitRepository just created", &sourcev1.GitRepository{}, false},
		{"a Kustomization with a status (a relist)", &kustomizev1.Kustomization{Status: kustomizev1.KustomizationStatus{Conditions: ready}}, true},
		{"a GitRepository with a status", &sourcev1.GitRepository{Status: sourcev1.GitRepositoryStatus{Conditions: ready}}, true},
		{"an object without conditions", SecretMetadata(), true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := ownCreate(event.CreateEvent{Object: tc.obj}); got != tc.want {
				t.Errorf("create of %s enqueues = %v, want %v", tc.desc, got, tc.want)
			}
		})
	}
}
