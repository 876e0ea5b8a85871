package e2e

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/localenv"
)

// TestSample creates `make run`'s sample configuration as make run does:
// Compliant only once its Helm release is installed, the release's chart
// taken from the configuration's own repository.
func TestSample(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	g.Expect(env.CreateSample(t.TempDir())).To(Succeed())
	props := waitCompliance(t, "sample", "Compliant")
	g.Expect(configMap(g, "demo", "hello").Data["message"]).To(Equal("Hello from arcgitops"))
	g.Expect(configMap(g, "demo", localenv.SampleReleaseConfigMap).Data["message"]).To(Equal("Hello from a Helm release"))
	g.Expect(props["statuses"]).To(ContainElement(And(HaveKeyWithValue("kind", "HelmRelease"), HaveKeyWithValue("name", "hello"),
		HaveKeyWithValue("complianceState", "Compliant"))))
}
