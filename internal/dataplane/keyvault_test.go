package dataplane

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

const vaultAPI = "?api-version=2023-07-01"

var vaultID = sub1 + "/resourceGroups/fleet/providers/Microsoft.KeyVault/vaults/fleet-secrets"

func vaultBody(templates bool) string {
	t := "false"
	if templates {
		t = "true"
	}
	return `{"location":"westeurope","properties":{"tenantId":"adfs","sku":{"family":"A","name":"standard"},"enabledForTemplateDeployment":` + t + `}}`
}

func TestKeyVault(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	for _, tc := range []struct{ path, body, code string }{
		{vaultID, `{"properties":{"tenantId":"adfs","sku":{"name":"standard"}}}`, "LocationRequired"},
		{vaultID, `{"location":"westeurope","properties":{"tenantId":"adfs"}}`, "BadRequest"},
		{vaultID, `{"location":"westeurope","properties":{"sku":{"name":"standard"}}}`, "BadRequest"},
		{strings.Replace(vaultID, "fleet-secrets", "9starts-with-a-digit", 1), vaultBody(true), "VaultNameNotValid"},
	} {
		r := f.do(http.MethodPut, tc.path+vaultAPI, tc.body)
		g.Expect(r.code()).To(Equal(tc.code), string(r.body))
	}
	r := f.do(http.MethodPut, vaultID+vaultAPI, vaultBody(false))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(r.json(t)["properties"]).To(HaveKeyWithValue("provisioningState", "Succeeded"))
	g.Expect(f.do(http.MethodGet, vaultID+vaultAPI, "").status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, sub1+"/resourceGroups/fleet/providers/Microsoft.KeyVault/vaults"+vaultAPI, "").json(t)["value"]).To(HaveLen(1))
	// Names are global.
	r = f.do(http.MethodPut, strings.Replace(vaultID, "/fleet/", "/other/", 1)+vaultAPI, vaultBody(false))
	g.Expect(r.code()).To(Equal("VaultAlreadyExists"))

	// A secret is written, never read back, and sealed at rest.
	const value = "c3VwZXItc2VjcmV0LXNzaC1rZXk=" // base64 of super-secret-ssh-key
	secret := vaultID + "/secrets/git-ssh"
	g.Expect(f.do(http.MethodPut, secret+vaultAPI, `{"properties":{}}`).code()).To(Equal("BadParameter"))
	r = f.do(http.MethodPut, secret+vaultAPI, `{"properties":{"value":"`+value+`","contentType":"text/plain"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	for _, got := range []response{r, f.do(http.MethodGet, secret+vaultAPI, ""), f.do(http.MethodGet, vaultID+"/secrets"+vaultAPI, "")} {
		g.Expect(got.status).To(BeElementOf(http.StatusOK, http.StatusCreated), string(got.body))
		g.Expect(string(got.body)).NotTo(ContainSubstring(value))
		g.Expect(string(got.body)).To(ContainSubstring("git-ssh"))
	}
	g.Expect(f.do(http.MethodPut, strings.Replace(secret, "fleet-secrets", "nowhere", 1)+vaultAPI, `{"properties":{"value":"x"}}`).code()).To(Equal("ResourceNotFound"))
	g.Expect(bytes.Contains(f.atRest(), []byte(value))).To(BeFalse(), "the secret is in the store")

	// Deleting the vault deletes its secrets.
	g.Expect(f.do(http.MethodDelete, vaultID+vaultAPI, "").status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, secret+vaultAPI, "").code()).To(Equal("SecretNotFound"))
}

// TestBuiltinsWithKeyVault: Azure's built-ins that take a credential from
// a vault (SSH key, HTTPS token, bucket secret key) read it as on Azure:
// only once the vault allows template deployments; the credential reaches
// the cluster as a protected setting, never a state or a message.
func TestBuiltinsWithKeyVault(t *testing.T) {
	const secret = "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0=" // base64 of -----BEGIN OPENSSH PRIVATE KEY-----
	for _, tc := range []struct{ name, id, params, setting string }{
		{"ssh", "9e980dca-f3e1-8da3-6717-ad37b1ca6b27", `"repositoryUrl":{"value":"ssh://git@github.com/org/repo.git"},"keyVaultSecretName":{"value":"cred"}`, "sshPrivateKey"},
		{"https", "bf1a31be-3b79-5ba8-c9e0-9a8c9ad9f749", `"repositoryUrl":{"value":"https://github.com/org/repo"},"repositoryHttpsUser":{"value":"git"},"httpsKeyKeyVaultSecretName":{"value":"cred"}`, "httpsKey"},
		{"bucket", "5174c1db-ca42-e0d4-b320-4f1cf6a1fa93", `"bucketUrl":{"value":"https://minio.example.com"},"bucketName":{"value":"manifests"},"bucketAccessKey":{"value":"AKIAEXAMPLE"},"keyVaultSecretName":{"value":"cred"}`, "bucketSecretKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)
			g.Expect(f.do(http.MethodPut, vaultID+vaultAPI, vaultBody(false)).status).To(Equal(http.StatusCreated))
			g.Expect(f.do(http.MethodPut, vaultID+"/secrets/cred"+vaultAPI, `{"properties":{"value":"`+secret+`"}}`).status).To(Equal(http.StatusCreated))
			r := f.do(http.MethodPut, assignPath+tc.name+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},"properties":{
				"policyDefinitionId":"`+builtinPath+tc.id+`","parameters":{"configurationName":{"value":"`+tc.name+`"},`+tc.params+`,
				"keyVaultName":{"value":"`+vaultID+`"}}}}`)
			g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
			assignmentID := r.json(t)["id"].(string)
			f.assign(r.json(t)["identity"].(map[string]any)["principalId"].(string), "Contributor", sub1)

			f.register(cluster("c1"))
			st := f.states(assignmentID)["c1"]
			g.Expect(st.ComplianceState).To(Equal("NonCompliant"))
			g.Expect(st.Error).To(ContainSubstring("set properties.enabledForTemplateDeployment to true"))

			g.Expect(f.do(http.MethodPut, vaultID+vaultAPI, vaultBody(true)).status).To(Equal(http.StatusOK))
			g.Expect(f.do(http.MethodPut, remediationPath(sub1, "fix"), `{"properties":{"policyAssignmentId":"`+assignmentID+`"}}`).status).To(Equal(http.StatusCreated))
			rem := f.remediation(sub1, "fix")
			g.Expect(rem["provisioningState"]).To(Equal("Succeeded"), "%v", rem)
			st = f.states(assignmentID)["c1"]
			g.Expect(st.ComplianceState).To(Equal("Compliant"), st.Error)

			var cfg *store.Config
			g.Expect(f.srv.store.View(func(tx store.Tx) (err error) { cfg, err = tx.Config(cluster("c1"), tc.name); return err })).To(Succeed())
			g.Expect(cfg.Protected).NotTo(BeNil())
			values, err := f.srv.sealer.open(cfg.Protected.Sealed, cfg.Protected.KeyID, store.Key(cluster("c1"))+"/"+tc.name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(values).To(HaveKeyWithValue(tc.setting, secret))
			g.Expect(string(f.query(sub1, "queryResults").body)).NotTo(ContainSubstring(secret))
			got := f.do(http.MethodGet, av(cluster("c1")+fluxPath+"/"+tc.name), "")
			g.Expect(string(got.body)).NotTo(ContainSubstring(secret))
			if tc.name != "bucket" { // no reference parameter given: Azure's default branch
				g.Expect(at(got.json(t)["properties"].(map[string]any), "gitRepository.repositoryRef.branch")).To(Equal("master"))
			}
		})
	}
}
