package dataplane

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
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

// TestSpecExamples: the REST spec's own request bodies, each kind of
// source, are accepted with the current api-version, and a typed or
// protected secret in them is never answered back.
func TestSpecExamples(t *testing.T) {
	f := newFixture(t)
	f.register(clusterA)
	for _, name := range []string{"create-git.json", "create-bucket.json", "create-azureblob.json", "create-oci.json"} {
		cfg := clusterA + fluxPath + "/" + strings.TrimSuffix(strings.TrimPrefix(name, "create-"), ".json")
		r := f.do(http.MethodPut, av(cfg), example(t, name))
		if r.status != http.StatusCreated {
			t.Errorf("%s: %d %s", name, r.status, r.body)
			continue
		}
		if strings.Contains(string(r.body), "testaccountkey") {
			t.Errorf("%s: a secret in the answer", name)
		}
	}
	if r := f.do(http.MethodPatch, av(clusterA+fluxPath+"/git"), example(t, "patch.json")); r.status != http.StatusAccepted {
		t.Errorf("patch.json: %d %s", r.status, r.body)
	}
}
