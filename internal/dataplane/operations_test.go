package dataplane

import (
	"net/http"
	"net/url"
	"path"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

func TestOperationStatus(t *testing.T) {
	reported := func(gen int64, state string) *store.Config {
		return &store.Config{Generation: 3, Status: &store.Status{StatusReport: agentapi.StatusReport{Generation: gen, ProvisioningState: state, ErrorMessage: "boom"}}}
	}
	for _, tc := range []struct {
		name string
		kind string
		gen  int64
		cfg  *store.Config
		want string
	}{
		{"delete, still there", "delete", 0, &store.Config{Deleting: true}, arm.OperationInProgress},
		{"delete, gone", "delete", 0, nil, arm.OperationSucceeded},
		{"delete, written again", "delete", 0, &store.Config{}, arm.OperationCanceled},
		{"put, no report yet", "put", 3, &store.Config{Generation: 3}, arm.OperationInProgress},
		{"put, an older generation reported", "put", 3, reported(2, "Succeeded"), arm.OperationInProgress},
		{"put, reported", "put", 3, reported(3, "Succeeded"), arm.OperationSucceeded},
		{"put, a later generation reported", "patch", 2, reported(3, "Succeeded"), arm.OperationSucceeded},
		{"put, the cluster failed", "put", 3, reported(3, "Failed"), arm.OperationFailed},
		{"put, failed in the data plane", "put", 3, &store.Config{Generation: 3, Error: "protected settings expired"}, arm.OperationFailed},
		{"put, deleted since", "put", 3, nil, arm.OperationCanceled},
		{"put, being deleted", "put", 3, &store.Config{Generation: 3, Deleting: true}, arm.OperationCanceled},
	} {
		if got := operationStatus(tc.kind, tc.gen, tc.cfg); got.Status != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got.Status, tc.want)
		} else if (got.Status == arm.OperationFailed || got.Status == arm.OperationCanceled && tc.kind != "delete") && (got.Error == nil || got.Error.Message == "") {
			t.Errorf("%s: %s without an error", tc.name, got.Status)
		}
	}
	for _, id := range []string{"put-0-x", "put-x-y", "get-1-x", "put", "patch-2"} {
		if _, _, ok := parseOperationID(id); ok {
			t.Errorf("parseOperationID(%q) accepted", id)
		}
	}
}

// TestWritesAreLongRunningOperations: PUT and PATCH answer with an
// Azure-AsyncOperation that is InProgress until the cluster reports on the
// write's generation, as ARM's fluxConfigurations do.
func TestWritesAreLongRunningOperations(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	token := f.register(clusterA)
	cfg := clusterA + fluxPath + "/cfg"
	r := f.do(http.MethodPut, av(cfg), example(t, "create-git.json"))
	g.Expect(r.status).To(Equal(http.StatusCreated))
	op := r.header.Get("Azure-AsyncOperation")
	g.Expect(op).To(ContainSubstring(cfg + "/operations/put-1-"))
	u, err := url.Parse(op)
	g.Expect(err).NotTo(HaveOccurred())
	status := func() map[string]any {
		r := f.do(http.MethodGet, u.RequestURI(), "")
		g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		return r.json(t)
	}
	g.Expect(status()["status"]).To(Equal("InProgress"))
	g.Expect(f.do(http.MethodGet, u.Path+"/../put-0-x?api-version="+apiVersion, "").status).To(Equal(http.StatusNotFound))

	report := `{"generation":1,"complianceState":"Compliant","provisioningState":"Succeeded"}`
	g.Expect(f.do(http.MethodPut, agentapi.PathPrefix+clusterA+"/fluxConfigurations/cfg/status", report, "Authorization", "Bearer "+token).status).To(Equal(http.StatusNoContent))
	st := status()
	g.Expect(st["status"]).To(Equal("Succeeded"))
	g.Expect(st["id"]).To(Equal(cfg + "/operations/" + path.Base(u.Path)))
}
