package dataplane

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/policy"
)

const builtinPath = "/providers/Microsoft.Authorization/policyDefinitions/"

// TestBuiltinDefinitionsCompile: each of Azure's built-in Flux v2
// definitions compiles as it is: its rule, aliases, expressions and
// parameters.
func TestBuiltinDefinitionsCompile(t *testing.T) {
	if len(builtinDefinitions) != 8 {
		t.Fatalf("%d built-in definitions, want Azure's 8 GitOps Flux v2 ones", len(builtinDefinitions))
	}
	for _, d := range sortedBuiltins() {
		var props policy.DefinitionProperties
		if err := json.Unmarshal(d.Properties, &props); err != nil {
			t.Fatal(err)
		}
		if _, err := policy.ParseDefinition(props); err != nil {
			t.Errorf("%s (%s): %v", d.Name, props.DisplayName, err)
		}
	}
}

func TestBuiltinDefinitionsAreServedReadOnly(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	r := f.do(http.MethodGet, builtinPath+policyAPI, "")
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(r.json(t)["value"]).To(HaveLen(8))
	r = f.do(http.MethodGet, builtinPath+"83ea2fd1-9eaf-2f6d-f672-cd7b2ac798f6"+policyAPI, "")
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(r.json(t)["properties"]).To(HaveKeyWithValue("policyType", "BuiltIn"))
	g.Expect(r.json(t)).NotTo(HaveKey("systemData"))
	g.Expect(f.do(http.MethodGet, builtinPath+"00000000-0000-0000-0000-000000000001"+policyAPI, "").code()).To(Equal("PolicyDefinitionNotFound"))
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		r = f.do(m, builtinPath+"83ea2fd1-9eaf-2f6d-f672-cd7b2ac798f6"+policyAPI, correctedBaseline(t))
		g.Expect(r.status).To(Equal(http.StatusForbidden), m)
		g.Expect(r.code()).To(Equal("BuiltInPolicyDefinitionReadOnly"))
	}
	// A subscription lists the built-ins with its own.
	g.Expect(f.do(http.MethodPut, defPath+"mine"+policyAPI, correctedBaseline(t)).status).To(Equal(http.StatusCreated))
	g.Expect(f.do(http.MethodGet, strings.TrimSuffix(defPath, "/")+policyAPI, "").json(t)["value"]).To(HaveLen(9))
}

// TestBuiltinFluxDefinitionsDeploy assigns each built-in whose deployment
// needs no Key Vault and no extension resource, with the parameters
// Azure's documents give, and checks the configuration a new cluster gets
// and that it is compliant, before and after its agent reports.
func TestBuiltinFluxDefinitionsDeploy(t *testing.T) {
	for _, tc := range []struct {
		name, id, params string
		want             map[string]any // properties of the configuration, by path
	}{
		{"no secrets", "83ea2fd1-9eaf-2f6d-f672-cd7b2ac798f6",
			`{"configurationName":{"value":"cluster-config"},"repositoryUrl":{"value":"https://github.com/Azure/arc-k8s-demo"},"repositoryRefBranch":{"value":"main"},"kustomizationPath":{"value":"./apps"}}`,
			map[string]any{"scope": "cluster", "namespace": "default", "sourceKind": "GitRepository", "gitRepository.url": "https://github.com/Azure/arc-k8s-demo",
				"gitRepository.repositoryRef.branch": "main", "gitRepository.syncIntervalInSeconds": 600.0, "kustomizations.kustomization-1.path": "./apps",
				"kustomizations.kustomization-1.prune": false, "suspend": false}},
		{"HTTPS CA certificate", "2630c91f-8a20-8f43-14a2-2485b648e2a9",
			`{"configurationName":{"value":"ca-config"},"repositoryUrl":{"value":"https://git.example.com/org/repo"},"repositoryRefTag":{"value":"v1.2.0"},"repositoryHttpsCACert":{"value":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"},"configurationNamespace":{"value":"team-a"},"configurationScope":{"value":"namespace"}}`,
			map[string]any{"scope": "namespace", "namespace": "team-a", "gitRepository.url": "https://git.example.com/org/repo", "gitRepository.repositoryRef.tag": "v1.2.0",
				"gitRepository.httpsCACert": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"}},
		{"local auth reference", "b6c7fd52-4723-5f4d-a157-3d39bd16a1d7",
			`{"configurationName":{"value":"local-auth"},"repositoryUrl":{"value":"ssh://git@github.com/org/repo.git"},"repositoryLocalAuthRef":{"value":"my-git-secret"},"repositoryRefCommit":{"value":"0123456789abcdef0123456789abcdef01234567"}}`,
			map[string]any{"gitRepository.url": "ssh://git@github.com/org/repo.git", "gitRepository.localAuthRef": "my-git-secret",
				"gitRepository.repositoryRef.commit": "0123456789abcdef0123456789abcdef01234567"}},
		{"bucket with a local secret", "b8c1d6c1-6137-97c6-9c34-d4627e54ca26",
			`{"configurationName":{"value":"bucket-config"},"bucketUrl":{"value":"https://minio.example.com"},"bucketName":{"value":"manifests"},"bucketLocalAuthRef":{"value":"minio-creds"}}`,
			map[string]any{"sourceKind": "Bucket", "bucket.url": "https://minio.example.com", "bucket.bucketName": "manifests", "bucket.localAuthRef": "minio-creds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)
			r := f.do(http.MethodPut, assignPath+"flux"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},
				"properties":{"policyDefinitionId":"`+builtinPath+tc.id+`","parameters":`+tc.params+`}}`)
			g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
			assignmentID := r.json(t)["id"].(string)
			f.assign(r.json(t)["identity"].(map[string]any)["principalId"].(string), "Contributor", sub1)

			token := f.register(cluster("c1"))
			st := f.states(assignmentID)["c1"]
			g.Expect(st.Error).To(BeEmpty())
			g.Expect(st.ComplianceState).To(Equal("Compliant"))
			var name string
			_ = json.Unmarshal(json.RawMessage(strings.SplitN(strings.SplitN(tc.params, `"configurationName":{"value":`, 2)[1], "}", 2)[0]), &name)
			cfg := f.do(http.MethodGet, av(cluster("c1")+fluxPath+"/"+name), "")
			g.Expect(cfg.status).To(Equal(http.StatusOK), string(cfg.body))
			props := cfg.json(t)["properties"].(map[string]any)
			for path, want := range tc.want {
				g.Expect(at(props, path)).To(Equal(want), path)
			}
			// The agent reports success: still compliant. A failure: not.
			report := `{"generation":1,"complianceState":"Compliant","provisioningState":"Succeeded"}`
			g.Expect(f.do(http.MethodPut, agentapi.PathPrefix+cluster("c1")+"/fluxConfigurations/"+name+"/status", report, "Authorization", "Bearer "+token).status).To(Equal(http.StatusNoContent))
			g.Expect(f.states(assignmentID)["c1"].ComplianceState).To(Equal("Compliant"))
		})
	}
}

// at reads a dotted path of nested maps; a key may hold dots only at the
// last step.
func at(m map[string]any, path string) any {
	head, rest, more := strings.Cut(path, ".")
	v, ok := m[head]
	if !ok || !more {
		return v
	}
	if next, isMap := v.(map[string]any); isMap {
		return at(next, rest)
	}
	return nil
}

// TestBuiltinsSayWhatIsMissing: the built-ins that read a Key Vault that
// does not exist are assigned and evaluated, and their state says what is
// missing to deploy them.
func TestBuiltinsSayWhatIsMissing(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	vault := sub1 + "/resourceGroups/fleet/providers/Microsoft.KeyVault/vaults/v"
	cases := map[string]struct{ id, params, why string }{
		"ssh": {"9e980dca-f3e1-8da3-6717-ad37b1ca6b27", `{"configurationName":{"value":"ssh"},"repositoryUrl":{"value":"ssh://git@github.com/o/r.git"},"keyVaultSecretName":{"value":"s"},"keyVaultName":{"value":"` + vault + `"}}`,
			"the Key Vault " + vault + " was not found"},
		"https": {"bf1a31be-3b79-5ba8-c9e0-9a8c9ad9f749", `{"configurationName":{"value":"https"},"repositoryUrl":{"value":"https://github.com/o/r"},"repositoryHttpsUser":{"value":"git"},"httpsKeyKeyVaultSecretName":{"value":"s"},"keyVaultName":{"value":"` + vault + `"}}`,
			"the Key Vault " + vault + " was not found"},
		"bucket-kv": {"5174c1db-ca42-e0d4-b320-4f1cf6a1fa93", `{"configurationName":{"value":"bkv"},"bucketUrl":{"value":"https://minio.example.com"},"bucketName":{"value":"m"},"bucketAccessKey":{"value":"AKIA"},"keyVaultSecretName":{"value":"s"},"keyVaultName":{"value":"` + vault + `"}}`,
			"the Key Vault " + vault + " was not found"},
	}
	for name, tc := range cases {
		r := f.do(http.MethodPut, assignPath+name+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},
			"properties":{"policyDefinitionId":"`+builtinPath+tc.id+`","parameters":`+tc.params+`}}`)
		g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
		f.assign(r.json(t)["identity"].(map[string]any)["principalId"].(string), "Contributor", sub1)
	}
	f.register(cluster("c1"))
	for name, tc := range cases {
		st := f.states(assignPath + name)["c1"]
		g.Expect(st.ComplianceState).To(Equal("NonCompliant"), name)
		g.Expect(st.Error).To(ContainSubstring(tc.why), name)
	}
}
