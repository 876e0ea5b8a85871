package dataplane

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
)

func TestLiftTypedSecrets(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, in, out string
		secrets       map[string]string
		bad           string
	}{
		{name: "none", in: `{"gitRepository":{"url":"https://x"}}`, out: `{"gitRepository":{"url":"https://x"}}`},
		{name: "account key and SAS token, plain text",
			in:      `{"azureBlob":{"url":"u","accountKey":"k","sasToken":"s"}}`,
			out:     `{"azureBlob":{"url":"u"}}`,
			secrets: map[string]string{"accountKey": b64("k"), "sasToken": b64("s")}},
		{name: "service principal: secret, certificate (already base64), password",
			in:      `{"azureBlob":{"servicePrincipal":{"clientId":"c","clientSecret":"cs","clientCertificate":"Y2VydA==","clientCertificatePassword":"p"}}}`,
			out:     `{"azureBlob":{"servicePrincipal":{"clientId":"c"}}}`,
			secrets: map[string]string{"clientSecret": b64("cs"), "clientCertificate": "Y2VydA==", "clientCertificatePassword": b64("p")}},
		{name: "OCI tlsConfig keeps its (now empty) object",
			in:      `{"ociRepository":{"tlsConfig":{"clientCertificate":"Yw==","privateKey":"aw==","caCertificate":"Y2E="}}}`,
			out:     `{"ociRepository":{"tlsConfig":{}}}`,
			secrets: map[string]string{"tlsClientCertificate": "Yw==", "tlsPrivateKey": "aw==", "tlsCaCertificate": "Y2E="}},
		{name: "null is absent", in: `{"azureBlob":{"url":"u","accountKey":null}}`, out: `{"azureBlob":{"url":"u"}}`, secrets: map[string]string{}},
		{name: "not a string", in: `{"azureBlob":{"accountKey":1}}`, bad: `"accountKey" must be a string`},
		{name: "certificate not base64", in: `{"azureBlob":{"servicePrincipal":{"clientCertificate":"-----BEGIN"}}}`, bad: "properties.azureBlob.servicePrincipal.clientCertificate: must be base64-encoded"},
		{name: "not an object is left to the decoder", in: `{"azureBlob":"x"}`, out: `{"azureBlob":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, secrets, e := liftTypedSecrets(json.RawMessage(tc.in))
			if tc.bad != "" {
				if e == nil || !strings.Contains(e.message, tc.bad) {
					t.Fatalf("error %v, want one saying %q", e, tc.bad)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			var got, want any
			_ = json.Unmarshal(out, &got)
			_ = json.Unmarshal([]byte(tc.out), &want)
			if !equalJSON(got, want) {
				t.Errorf("properties %s, want %s", out, tc.out)
			}
			if len(secrets) != len(tc.secrets) {
				t.Errorf("secrets %v, want %v", secrets, tc.secrets)
			}
			for k, v := range tc.secrets {
				if secrets[k] != v {
					t.Errorf("secret %s = %q, want %q", k, secrets[k], v)
				}
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestTypedSecretsAreWriteOnly: the spec's AzureBlob example, with its
// x-ms-secret accountKey, is accepted; the key reaches the agent as a
// protected setting and is never returned.
func TestTypedSecretsAreWriteOnly(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	token := f.register(clusterA)
	cfg := clusterA + fluxPath + "/srs-fluxconfig"
	r := f.do(http.MethodPut, av(cfg), example(t, "create-azureblob.json"))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(string(r.body)).NotTo(ContainSubstring("testaccountkey"))
	g.Expect(string(f.do(http.MethodGet, av(cfg), "").body)).NotTo(ContainSubstring("testaccountkey"))

	var state agentapi.DesiredState
	r = f.do(http.MethodGet, agentapi.PathPrefix+clusterA+"/fluxConfigurations", "", "Authorization", "Bearer "+token)
	g.Expect(json.Unmarshal(r.body, &state)).To(Succeed())
	g.Expect(state.Configurations).To(HaveLen(1))
	g.Expect(state.Configurations[0].ProtectedSettings.Values).To(Equal(map[string]string{
		"accountKey": base64.StdEncoding.EncodeToString([]byte("testaccountkey"))}))
	g.Expect(string(state.Configurations[0].Properties)).NotTo(ContainSubstring("testaccountkey"))

	// A PATCH with a typed secret replaces the protected settings.
	r = f.do(http.MethodPatch, av(cfg), `{"properties":{"azureBlob":{"sasToken":"sv=2024&sig=x"}}}`)
	g.Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
	g.Expect(string(r.body)).NotTo(ContainSubstring("sig=x"))
	r = f.do(http.MethodGet, agentapi.PathPrefix+clusterA+"/fluxConfigurations", "", "Authorization", "Bearer "+token)
	g.Expect(json.Unmarshal(r.body, &state)).To(Succeed())
	g.Expect(state.Configurations[0].ProtectedSettings.Values).To(HaveKey("sasToken"))

	// Given both ways with different values: refused, nothing changes.
	before := f.snapshot()
	r = f.do(http.MethodPatch, av(cfg), `{"properties":{"azureBlob":{"accountKey":"a"},"configurationProtectedSettings":{"accountKey":"Yg=="}}}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest), string(r.body))
	g.Expect(r.message()).To(ContainSubstring("give it once"))
	g.Expect(f.snapshot()).To(Equal(before))
}

// specExamples are the request bodies of the REST spec's examples for each
// served api-version (test/fixtures/azure-examples/README.md says which
// example each file is); bodies that did not change between versions are
// stored once. The first file is a Git create that the version's patch
// example applies to.
var specExamples = map[string][]string{
	"2021-11-01-preview": {"2021-11-01-preview/create-git.json", "2021-11-01-preview/patch.json"},
	"2022-01-01-preview": {"2022-01-01-preview/create-git.json", "2022-01-01-preview/create-bucket.json", "patch.json"},
	"2022-03-01":         {"2022-01-01-preview/create-git.json", "2022-03-01/create-bucket.json", "patch.json"},
	"2022-07-01":         {"create-git-basic.json", "create-bucket.json", "create-azureblob.json", "patch.json"},
	"2022-11-01":         {"create-git-basic.json", "create-bucket.json", "create-azureblob.json", "patch.json"},
	"2023-05-01":         {"create-git-basic.json", "create-bucket.json", "create-azureblob.json", "patch.json"},
	"2024-04-01-preview": {"create-git.json", "create-bucket.json", "create-azureblob.json", "create-oci.json", "create-oci-tls.json", "patch.json"},
	"2024-06-01-preview": {"create-git.json", "create-bucket.json", "create-azureblob.json", "create-oci-tls.json", "patch.json"},
	"2024-11-01":         {"create-git.json", "create-bucket.json", "create-azureblob.json", "create-oci.json", "create-oci-tls.json", "create-provider.json", "patch.json"},
	"2025-04-01":         {"create-git.json", "create-bucket.json", "create-oci.json", "create-oci-tls.json", "create-provider.json", "patch.json"},
}

// specSecrets are the secret values in the examples: none may be answered.
var specSecrets = []string{"testaccountkey", "dGVzdGNsaWVudGNlcnQ=", "dGVzdHByaXZhdGVrZXk=", "dGVzdGNhY2VydA=="}

// TestSpecExamples: every served api-version takes its own examples
// (create with each kind of source it has, then its patch), answers in its
// own shape, and never answers a typed secret.
func TestSpecExamples(t *testing.T) {
	f := newFixture(t)
	f.register(clusterA)
	served := map[string]bool{}
	for i, v := range arm.FluxConfigAPIVersions {
		served[v] = true
		files, ok := specExamples[v]
		if !ok {
			t.Errorf("api-version %s is served but has no examples in specExamples", v)
			continue
		}
		t.Run(v, func(t *testing.T) {
			f.t = t
			var git string
			for _, file := range files {
				kind := strings.TrimSuffix(filepath.Base(file), ".json")
				if kind == "patch" {
					if r := f.do(http.MethodPatch, git+"?api-version="+v, example(t, file)); r.status != http.StatusAccepted {
						t.Errorf("%s: %d %s", file, r.status, r.body)
					}
					continue
				}
				cfg := clusterA + fluxPath + "/" + fmt.Sprintf("v%d-%s", i, strings.TrimPrefix(kind, "create-"))
				if git == "" {
					git = cfg
				}
				putSpecExample(t, f, v, cfg, file)
			}
		})
	}
	for v := range specExamples {
		if !served[v] {
			t.Errorf("specExamples has %s, which is not served", v)
		}
	}
}

// putSpecExample creates cfg from an example body with api-version v and
// checks both answers: the PUT's and a GET's.
func putSpecExample(t *testing.T, f *fixture, v, cfg, file string) {
	t.Helper()
	r := f.do(http.MethodPut, cfg+"?api-version="+v, example(t, file))
	if r.status != http.StatusCreated {
		t.Errorf("%s: %d %s", file, r.status, r.body)
		return
	}
	got := f.do(http.MethodGet, cfg+"?api-version="+v, "")
	for _, answer := range []response{r, got} {
		for _, secret := range specSecrets {
			if strings.Contains(string(answer.body), secret) {
				t.Errorf("%s: the secret %s in the answer", file, secret)
			}
		}
	}
	checkVersionShape(t, v, file, got.json(t))
}

// checkVersionShape: an old version's answer names what that version
// named, and a current one the current names.
func checkVersionShape(t *testing.T, v, file string, got map[string]any) {
	t.Helper()
	props := got["properties"].(map[string]any)
	k2 := props["kustomizations"].(map[string]any)["srs-kustomization2"].(map[string]any)
	deps := k2["dependsOn"].([]any)
	shape, old := versionShapes[v]
	if old {
		if _, isObj := deps[0].(map[string]any); !isObj {
			t.Errorf("%s with %s: dependsOn %v, want objects", file, v, deps)
		}
		if _, ok := props["sourceSyncedCommitId"]; ok {
			t.Errorf("%s with %s: sourceSyncedCommitId, which this version calls %s", file, v, shape.syncedCommit)
		}
	} else if _, isName := deps[0].(string); !isName {
		t.Errorf("%s with %s: dependsOn %v, want names", file, v, deps)
	}
	if git, _ := props["gitRepository"].(map[string]any); git != nil && v == "2021-11-01-preview" {
		if git["httpsCAFile"] != "ZXhhbXBsZWNlcnRpZmljYXRl" || git["httpsCACert"] != nil {
			t.Errorf("%s with %s: gitRepository %v, want httpsCAFile", file, v, git)
		}
	}
}
