package agent

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// TestStaleCacheDoesNotTakeOverAHandAppliedFluxConfig: a FluxConfig applied
// by hand that the agent's cache has not seen yet is found through the API
// server before anything is applied, and refused in the data plane.
func TestStaleCacheDoesNotTakeOverAHandAppliedFluxConfig(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	byHand := &v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "by-hand", Name: "mine"},
		Spec: v1alpha1.FluxConfigSpec{GitRepository: &v1alpha1.GitRepositoryDefinition{URL: "https://example.com/mine"}}}
	cache := fake.NewClientBuilder().WithScheme(scheme).Build() // has not seen it yet
	apiServer := fake.NewClientBuilder().WithScheme(scheme).WithObjects(byHand).Build()

	var mu sync.Mutex
	var reports []string
	dp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reports = append(reports, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(dp.Close)
	clusterID := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c"
	a := &Agent{Client: cache, APIReader: apiServer, Log: logr.Discard(),
		DataPlane: &agentapi.Client{BaseURL: dp.URL, ClusterID: clusterID, Token: "t"}}
	props, _ := json.Marshal(map[string]any{"namespace": "by-hand", "scope": "namespace", "gitRepository": map[string]any{"url": "https://example.com/theirs",
		"repositoryRef": map[string]any{"branch": "main"}}, "kustomizations": map[string]any{"k": map[string]any{}}})
	c := &agentapi.Configuration{Name: "mine", Generation: 1, Properties: props}
	p, err := desiredProperties(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.syncOne(context.Background(), c, p); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.FluxConfig{}
	if err := cache.Get(context.Background(), client.ObjectKey{Namespace: "by-hand", Name: "mine"}, got); err == nil {
		t.Errorf("the agent applied over a hand-applied FluxConfig: %+v", got.Spec.GitRepository)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 || !strings.Contains(reports[0], `"provisioningState":"Failed"`) || !strings.Contains(reports[0], "that the agent does not manage exists") {
		t.Errorf("reports: %v", reports)
	}
}
