package dataplane

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/uuid"
	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

const (
	sub0 = "/subscriptions/00000000-0000-0000-0000-000000000000"
	rg1  = sub0 + "/resourceGroups/rg1"
	rg2  = sub0 + "/resourceGroups/rg2"
	cl1  = rg1 + "/providers/Microsoft.Kubernetes/connectedClusters/c1"
	cl2  = rg2 + "/providers/Microsoft.Kubernetes/connectedClusters/c2"
)

// signIn gets a token for appID at the token endpoint, as az does.
func (f *fixture) signIn(appID, secret string) (string, error) {
	tok, err := armclient.ClientCredentials(f.ts.URL+"/adfs/oauth2/token", appID, secret, DefaultAudience, f.ts.Client()).Token()
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// principal makes a service principal through the API, as the owner, gives
// it role at scope (none when role is empty), and signs it in.
func (f *fixture) principal(name, role, scope string) (Credentials, string) {
	f.t.Helper()
	r := f.do(http.MethodPost, "/v1.0/servicePrincipals", `{"displayName":"`+name+`"}`)
	if r.status != http.StatusCreated {
		f.t.Fatalf("create principal: %d %s", r.status, r.body)
	}
	sp := r.json(f.t)
	oid := sp["id"].(string)
	r = f.do(http.MethodPost, "/v1.0/servicePrincipals/"+oid+"/addPassword", `{"passwordCredential":{"displayName":"test"}}`)
	if r.status != http.StatusOK {
		f.t.Fatalf("addPassword: %d %s", r.status, r.body)
	}
	creds := Credentials{AppID: sp["appId"].(string), ObjectID: oid, Password: r.json(f.t)["secretText"].(string)}
	if role != "" {
		f.assign(oid, role, scope)
	}
	tok, err := f.signIn(creds.AppID, creds.Password)
	if err != nil {
		f.t.Fatal(err)
	}
	return creds, tok
}

func (f *fixture) assign(oid, role, scope string) {
	f.t.Helper()
	rd, ok := armrbac.RoleByName(role)
	if !ok {
		f.t.Fatalf("no role %s", role)
	}
	r := f.do(http.MethodPut, strings.TrimSuffix(scope, "/")+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		`{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/`+rd.ID+`","principalId":"`+oid+`","principalType":"ServicePrincipal"}}`)
	if r.status != http.StatusCreated {
		f.t.Fatalf("assign %s at %s: %d %s", role, scope, r.status, r.body)
	}
}

func (f *fixture) as(token, method, path, body string) response {
	f.t.Helper()
	return f.do(method, path, body, "Authorization", "Bearer "+token)
}

func TestSignInAsAzCLIDoes(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	creds, err := ReadCredentials(filepath.Join(f.srv.opts.DataDir, OwnerCredentialsFile))
	g.Expect(err).NotTo(HaveOccurred())

	// MSAL's ADFS discovery.
	r := f.do(http.MethodGet, "/adfs/.well-known/openid-configuration", "", "Authorization", "none")
	g.Expect(r.status).To(Equal(http.StatusOK))
	doc := r.json(t)
	g.Expect(doc["token_endpoint"]).To(Equal(f.ts.URL + "/adfs/oauth2/token"))
	g.Expect(doc["jwks_uri"]).To(Equal(f.ts.URL + "/adfs/discovery/keys"))
	g.Expect(doc["issuer"]).To(Equal(f.srv.opts.Issuer))
	keys := f.do(http.MethodGet, "/adfs/discovery/keys", "", "Authorization", "none").json(t)["keys"].([]any)
	g.Expect(keys).To(HaveLen(1))
	g.Expect(keys[0]).NotTo(HaveKey("d"), "the JWKS has no private key")

	// The form MSAL posts, and the answer it reads.
	form := url.Values{"client_id": {creds.AppID}, "client_secret": {creds.Password}, "grant_type": {"client_credentials"},
		"client_info": {"1"}, "scope": {DefaultAudience + "/.default"}}
	resp, err := f.ts.Client().PostForm(f.ts.URL+"/adfs/oauth2/token", form)
	g.Expect(err).NotTo(HaveOccurred())
	var tok struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(decodeJSON(resp, &tok)).To(Succeed())
	g.Expect(tok.TokenType).To(Equal("Bearer"))
	g.Expect(tok.ExpiresIn).To(Equal(3600))

	// az login then lists the subscriptions.
	r = f.as(tok.AccessToken, http.MethodGet, "/subscriptions?api-version=2019-11-01", "")
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(string(r.body)).To(ContainSubstring(`"tenantId": "adfs"`))

	for _, tc := range []struct {
		name string
		form url.Values
		code string
	}{
		{"wrong secret", url.Values{"client_id": {creds.AppID}, "client_secret": {"x" + creds.Password}, "grant_type": {"client_credentials"}}, "invalid_client"},
		{"unknown client", url.Values{"client_id": {"nobody"}, "client_secret": {creds.Password}, "grant_type": {"client_credentials"}}, "invalid_client"},
		{"password grant", url.Values{"client_id": {creds.AppID}, "client_secret": {creds.Password}, "grant_type": {"password"}}, "unsupported_grant_type"},
		{"another resource", url.Values{"client_id": {creds.AppID}, "client_secret": {creds.Password}, "grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}}, "invalid_scope"},
		{"no secret", url.Values{"client_id": {creds.AppID}, "grant_type": {"client_credentials"}}, "invalid_request"},
	} {
		resp, err := f.ts.Client().PostForm(f.ts.URL+"/adfs/oauth2/token", tc.form)
		g.Expect(err).NotTo(HaveOccurred())
		var e struct{ Error, ErrorDescription string }
		g.Expect(decodeJSON(resp, &e)).To(Succeed())
		g.Expect(e.Error).To(Equal(tc.code), tc.name)
		g.Expect(resp.StatusCode).To(BeNumerically(">=", 400), tc.name)
	}
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return newJSONDecoder(resp).Decode(v)
}

// TestTokensARMRefuses: every bad token is a 401 with WWW-Authenticate and
// changes nothing.
func TestTokensARMRefuses(t *testing.T) {
	f := newFixture(t)
	creds, _ := ReadCredentials(filepath.Join(f.srv.opts.DataDir, OwnerCredentialsFile))
	owner := identity.Principal{ObjectID: creds.ObjectID, AppID: creds.AppID}
	good := f.ownerToken()
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString

	otherKeys, err := identity.LoadKeys(t.TempDir(), false, time.Hour, f.now)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(mut func(*identity.Issuer), at time.Time) string {
		i := *f.srv.issuer
		mut(&i)
		tok, err := i.Issue(owner, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	same := func(*identity.Issuer) {}
	put := func(token string) response {
		return f.as(token, http.MethodPut, av(rg1), `{"location":"eastus"}`)
	}
	for _, tc := range []struct {
		name, header, code string
	}{
		{"no header", "", "AuthenticationFailed"},
		{"not bearer", "Basic " + enc([]byte(creds.AppID+":"+creds.Password)), "AuthenticationFailed"},
		{"expired", "Bearer " + mint(same, f.now.Add(-2*time.Hour)), "ExpiredAuthenticationToken"},
		{"wrong audience", "Bearer " + mint(func(i *identity.Issuer) { i.Audience = "https://graph.local/" }, f.now), "InvalidAuthenticationTokenAudience"},
		{"wrong issuer", "Bearer " + mint(func(i *identity.Issuer) { i.URL = "https://evil.test/adfs" }, f.now), "InvalidAuthenticationTokenTenant"},
		{"alg none", "Bearer " + enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", "InvalidAuthenticationToken"},
		{"re-signed with another key", "Bearer " + mint(func(i *identity.Issuer) { i.Keys = otherKeys }, f.now), "InvalidAuthenticationToken"},
		{"truncated", "Bearer " + good[:len(good)-20], "InvalidAuthenticationToken"},
		{"agent token", "Bearer " + f.register(cl1), "InvalidAuthenticationToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			before := f.snapshot()
			if tc.header == "" {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, f.ts.URL+av(rg2), strings.NewReader(`{"location":"eastus"}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := f.ts.Client().Do(req)
				g.Expect(err).NotTo(HaveOccurred())
				_ = resp.Body.Close()
				r := response{status: resp.StatusCode, header: resp.Header}
				g.Expect(r.status).To(Equal(http.StatusUnauthorized))
				g.Expect(r.header.Get("WWW-Authenticate")).To(HavePrefix(`Bearer authorization_uri="` + f.ts.URL + `/adfs/oauth2/authorize"`))
				g.Expect(f.snapshot()).To(Equal(before))
				return
			}
			r := f.do(http.MethodPut, av(rg2), `{"location":"eastus"}`, "Authorization", tc.header)
			g.Expect(r.status).To(Equal(http.StatusUnauthorized), string(r.body))
			g.Expect(r.code()).To(Equal(tc.code), string(r.body))
			g.Expect(r.header.Get("WWW-Authenticate")).To(ContainSubstring(`error="invalid_token"`))
			g.Expect(string(r.body)).NotTo(ContainSubstring(strings.TrimPrefix(tc.header, "Bearer ")))
			g.Expect(f.snapshot()).To(Equal(before), "the store changed")
		})
	}
	if r := put(good); r.status != http.StatusCreated {
		t.Fatalf("the good token: %d %s", r.status, r.body)
	}
}

// TestRoleAssignmentsDecide: a Reader cannot write, a principal scoped to
// one resource group sees nothing of another in any list, roles inherit
// downwards, and a deleted principal's token stops working.
func TestRoleAssignmentsDecide(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	for _, p := range []string{rg1, rg2} {
		g.Expect(f.do(http.MethodPut, av(p), `{"location":"eastus"}`).status).To(Equal(http.StatusCreated))
	}
	f.register(cl1)
	f.register(cl2)
	cfg := example(t, "create-git.json")
	for _, c := range []string{cl1, cl2} {
		g.Expect(f.do(http.MethodPut, av(c+fluxPath+"/cfg"), cfg).status).To(Equal(http.StatusCreated))
	}
	reader, readerTok := f.principal("reader-rg1", "Reader", rg1)
	_, fluxTok := f.principal("flux-rg1", "Flux Configuration Contributor", rg1)
	_, nobodyTok := f.principal("nobody", "", "")

	t.Run("a Reader writing is refused and changes nothing", func(t *testing.T) {
		g := NewWithT(t)
		for _, w := range []struct{ method, path, body string }{
			{http.MethodPut, av(cl1 + fluxPath + "/new"), cfg},
			{http.MethodPatch, av(cl1 + fluxPath + "/cfg"), `{"properties":{"suspend":true}}`},
			{http.MethodDelete, av(cl1 + fluxPath + "/cfg"), ""},
			{http.MethodPut, av(rg1), `{"location":"westus"}`},
			{http.MethodDelete, av(cl1), ""},
			{http.MethodPost, av(cl1 + "/regenerateAgentToken"), ""},
			{http.MethodPut, rg1 + "/providers/Microsoft.Authorization/roleAssignments/11111111-1111-4111-8111-111111111111?api-version=2022-04-01",
				`{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/` + armrbac.Owner.ID + `","principalId":"` + reader.ObjectID + `"}}`},
			{http.MethodPost, "/v1.0/servicePrincipals", `{"displayName":"x"}`},
		} {
			before := f.snapshot()
			r := f.as(readerTok, w.method, w.path, w.body)
			g.Expect(r.status).To(Equal(http.StatusForbidden), "%s %s: %s", w.method, w.path, r.body)
			g.Expect(r.code()).To(Equal("AuthorizationFailed"))
			g.Expect(r.message()).To(ContainSubstring("does not have authorization to perform action '"))
			g.Expect(r.message()).To(ContainSubstring(reader.AppID))
			g.Expect(f.snapshot()).To(Equal(before), "%s %s changed the store", w.method, w.path)
		}
		g.Expect(f.as(readerTok, http.MethodGet, av(cl1+fluxPath+"/cfg"), "").status).To(Equal(http.StatusOK), "a Reader reads")
	})

	t.Run("a principal scoped to one resource group sees nothing of another", func(t *testing.T) {
		g := NewWithT(t)
		for _, tok := range []string{readerTok, fluxTok} {
			lists := map[string]string{
				av(sub0 + "/resourcegroups"):                                  "rg2",
				av(rg2 + "/providers/Microsoft.Kubernetes/connectedClusters"): "c2",
				av(cl2 + fluxPath):                                            "cfg",
				sub0 + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01":                                                                                "rg2",
				sub0 + "/providers/microsoft.insights/eventtypes/management/values?api-version=2015-04-01&$filter=" + url.QueryEscape("eventTimestamp ge '2020-01-01T00:00:00Z'"): "rg2",
			}
			for path, other := range lists {
				r := f.as(tok, http.MethodGet, path, "")
				g.Expect(r.status).To(Equal(http.StatusOK), "%s: %s", path, r.body)
				g.Expect(string(r.body)).NotTo(ContainSubstring(other), path)
			}
			g.Expect(f.as(tok, http.MethodGet, av(cl2+fluxPath+"/cfg"), "").status).To(Equal(http.StatusForbidden))
			g.Expect(f.as(tok, http.MethodGet, av(rg2), "").status).To(Equal(http.StatusForbidden))
			// What is theirs is listed.
			g.Expect(string(f.as(tok, http.MethodGet, av(cl1+fluxPath), "").body)).To(ContainSubstring(`"name": "cfg"`))
			g.Expect(string(f.as(tok, http.MethodGet, av(sub0+"/resourcegroups"), "").body)).To(ContainSubstring(`"name": "rg1"`))
		}
		// No role anywhere: no subscription either.
		r := f.as(nobodyTok, http.MethodGet, "/subscriptions?api-version=2022-12-01", "")
		g.Expect(r.status).To(Equal(http.StatusOK))
		g.Expect(string(r.body)).NotTo(ContainSubstring("subscriptionId"))
		g.Expect(f.as(nobodyTok, http.MethodGet, av(sub0), "").status).To(Equal(http.StatusForbidden))
		g.Expect(string(f.as(readerTok, http.MethodGet, "/subscriptions?api-version=2022-12-01", "").body)).To(ContainSubstring("subscriptionId"))
	})

	t.Run("a Flux Configuration Contributor manages configurations only", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(f.as(fluxTok, http.MethodPatch, av(cl1+fluxPath+"/cfg"), `{"properties":{"suspend":true}}`).status).To(Equal(http.StatusAccepted))
		g.Expect(f.as(fluxTok, http.MethodPut, av(rg1+"/providers/Microsoft.Kubernetes/connectedClusters/c9"), `{"location":"eastus"}`).status).To(Equal(http.StatusForbidden))
		g.Expect(f.as(fluxTok, http.MethodPut, av(cl2+fluxPath+"/cfg2"), cfg).status).To(Equal(http.StatusForbidden))
	})

	t.Run("a deleted principal's token stops working", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(f.do(http.MethodDelete, "/v1.0/servicePrincipals/"+reader.ObjectID, "").status).To(Equal(http.StatusNoContent))
		r := f.as(readerTok, http.MethodGet, av(cl1+fluxPath+"/cfg"), "")
		g.Expect(r.status).To(Equal(http.StatusUnauthorized))
		r = f.do(http.MethodGet, sub0+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter="+url.QueryEscape("principalId eq '"+reader.ObjectID+"'"), "")
		g.Expect(string(r.body)).NotTo(ContainSubstring(reader.ObjectID), "its role assignments went with it")
		_, err := f.signIn(reader.AppID, reader.Password)
		g.Expect(err).To(MatchError(ContainSubstring("invalid_client")))
	})

	t.Run("the last owner at the root cannot be removed", func(t *testing.T) {
		g := NewWithT(t)
		creds, _ := ReadCredentials(filepath.Join(f.srv.opts.DataDir, OwnerCredentialsFile))
		before := f.snapshot()
		r := f.do(http.MethodDelete, "/v1.0/servicePrincipals/"+creds.ObjectID, "")
		g.Expect(r.status).To(Equal(http.StatusConflict), string(r.body))
		g.Expect(r.code()).To(Equal("LastOwner"))
		list := f.do(http.MethodGet, "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()", "").json(t)["value"].([]any)
		g.Expect(list).To(HaveLen(1))
		r = f.do(http.MethodDelete, list[0].(map[string]any)["id"].(string)+"?api-version=2022-04-01", "")
		g.Expect(r.code()).To(Equal("LastOwner"))
		g.Expect(f.snapshot()).To(Equal(before))
	})
}

// TestRoleDefinitionsAsAzResolvesThem: az role assignment create looks the
// role up by name, then PUTs the assignment.
func TestRoleDefinitionsAsAzResolvesThem(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	r := f.do(http.MethodGet, sub0+"/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter="+url.QueryEscape("roleName eq 'Reader'"), "")
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	value := r.json(t)["value"].([]any)
	g.Expect(value).To(HaveLen(1))
	rd := value[0].(map[string]any)
	g.Expect(rd["id"]).To(Equal(sub0 + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"))
	g.Expect(rd["properties"].(map[string]any)["roleName"]).To(Equal("Reader"))

	r = f.do(http.MethodGet, "/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01", "")
	g.Expect(r.json(t)["value"]).To(HaveLen(len(armrbac.BuiltIn)))

	_, _ = f.principal("p", "", "")
	sp := f.do(http.MethodGet, "/v1.0/servicePrincipals?$filter="+url.QueryEscape("displayName eq 'p'"), "").json(t)["value"].([]any)[0].(map[string]any)
	for _, tc := range []struct {
		name, path, body, code string
	}{
		{"not a GUID", rg1 + "/providers/Microsoft.Authorization/roleAssignments/x?api-version=2022-04-01", `{"properties":{"roleDefinitionId":"` + rd["id"].(string) + `","principalId":"` + sp["id"].(string) + `"}}`, "InvalidRoleAssignmentId"},
		{"unknown role", rg1 + "/providers/Microsoft.Authorization/roleAssignments/22222222-2222-4222-8222-222222222222?api-version=2022-04-01", `{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-000000000001","principalId":"` + sp["id"].(string) + `"}}`, "RoleDefinitionDoesNotExist"},
		{"unknown principal", rg1 + "/providers/Microsoft.Authorization/roleAssignments/22222222-2222-4222-8222-222222222222?api-version=2022-04-01", `{"properties":{"roleDefinitionId":"` + rd["id"].(string) + `","principalId":"33333333-3333-4333-8333-333333333333"}}`, "PrincipalNotFound"},
		{"bad scope", "/subscriptions/00000000-0000-0000-0000-000000000000/foo/providers/Microsoft.Authorization/roleAssignments/22222222-2222-4222-8222-222222222222?api-version=2022-04-01", `{"properties":{"roleDefinitionId":"` + rd["id"].(string) + `","principalId":"` + sp["id"].(string) + `"}}`, "InvalidScope"},
		{"unknown field", rg1 + "/providers/Microsoft.Authorization/roleAssignments/22222222-2222-4222-8222-222222222222?api-version=2022-04-01", `{"properties":{"roleDefinitionId":"` + rd["id"].(string) + `","principalId":"` + sp["id"].(string) + `","admin":true}}`, "InvalidRequestContent"},
	} {
		before := f.snapshot()
		r := f.do(http.MethodPut, tc.path, tc.body)
		g.Expect(r.code()).To(Equal(tc.code), "%s: %s", tc.name, r.body)
		g.Expect(f.snapshot()).To(Equal(before), tc.name)
	}
	path := rg1 + "/providers/Microsoft.Authorization/roleAssignments/22222222-2222-4222-8222-222222222222?api-version=2022-04-01"
	body := `{"properties":{"roleDefinitionId":"` + rd["id"].(string) + `","principalId":"` + sp["id"].(string) + `","principalType":"ServicePrincipal"}}`
	g.Expect(f.do(http.MethodPut, path, body).status).To(Equal(http.StatusCreated))
	g.Expect(f.do(http.MethodPut, path, body).status).To(Equal(http.StatusOK), "the same assignment again")
	r = f.do(http.MethodPut, strings.Replace(path, "22222222-2222-4222-8222-222222222222", "44444444-4444-4444-8444-444444444444", 1), body)
	g.Expect(r.code()).To(Equal("RoleAssignmentExists"))
	g.Expect(f.do(http.MethodGet, path, "").json(t)["properties"].(map[string]any)["scope"]).To(Equal(rg1))
	g.Expect(f.do(http.MethodDelete, path, "").status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodDelete, path, "").status).To(Equal(http.StatusNoContent))
}

// TestActivityLog: every write is recorded with its caller and outcome,
// filtered and paged as ARM serves it, without any secret.
func TestActivityLog(t *testing.T) {
	g := NewWithT(t)
	var logs bytes.Buffer
	var logMu sync.Mutex
	f := newFixture(t, func(o *Options) {
		o.PageSize = 2
		o.Log = funcr.New(func(prefix, args string) {
			logMu.Lock()
			defer logMu.Unlock()
			logs.WriteString(prefix + args + "\n")
		}, funcr.Options{Verbosity: 1})
	})
	g.Expect(f.do(http.MethodPut, av(rg1), `{"location":"eastus"}`).status).To(Equal(http.StatusCreated))
	agentToken := f.register(cl1)
	body := strings.Replace(example(t, "create-git.json"), `"waitForReconciliation"`,
		`"configurationProtectedSettings": {"httpsKey": "c2VjcmV0LXRva2Vu"}, "waitForReconciliation"`, 1)
	r := f.do(http.MethodPut, av(cl1+fluxPath+"/cfg"), body, "x-ms-correlation-request-id", "c0ffee00-0000-4000-8000-000000000001")
	g.Expect(r.status).To(Equal(http.StatusCreated))
	g.Expect(r.header.Get("x-ms-correlation-request-id")).To(Equal("c0ffee00-0000-4000-8000-000000000001"))
	ownerCreds, _ := ReadCredentials(filepath.Join(f.srv.opts.DataDir, OwnerCredentialsFile))
	sd := r.json(t)["systemData"].(map[string]any)
	g.Expect(sd["createdBy"]).To(Equal(ownerCreds.AppID), "systemData names the caller")
	g.Expect(sd["createdByType"]).To(Equal("Application"))
	readerCreds, readerTok := f.principal("reader", "Reader", rg1)
	g.Expect(f.as(readerTok, http.MethodDelete, av(cl1+fluxPath+"/cfg"), "").status).To(Equal(http.StatusForbidden))

	list := func(tok, filter string) []map[string]any {
		var out []map[string]any
		path := sub0 + "/providers/microsoft.insights/eventtypes/management/values?api-version=2015-04-01&$filter=" + url.QueryEscape(filter)
		for path != "" {
			r := f.as(tok, http.MethodGet, path, "")
			g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
			page := r.json(t)
			for _, v := range page["value"].([]any) {
				out = append(out, v.(map[string]any))
			}
			path, _ = page["nextLink"].(string)
		}
		return out
	}
	owner := f.ownerToken()
	all := list(owner, "eventTimestamp ge '2026-11-22T00:00:00Z'")
	ops := []string{}
	for _, e := range all {
		ops = append(ops, e["operationName"].(map[string]any)["value"].(string)+" "+e["status"].(map[string]any)["value"].(string))
	}
	// Newest first; the principal's creation and password are at the root
	// scope, not in the subscription.
	g.Expect(ops).To(Equal([]string{
		"Microsoft.KubernetesConfiguration/fluxConfigurations/delete Failed",
		"Microsoft.Authorization/roleAssignments/write Succeeded",
		"Microsoft.KubernetesConfiguration/fluxConfigurations/write Succeeded",
		"Microsoft.Kubernetes/connectedClusters/write Succeeded",
		"Microsoft.Resources/subscriptions/resourceGroups/write Succeeded",
	}))
	g.Expect(all[0]["caller"]).To(Equal(readerCreds.AppID))
	g.Expect(all[0]["subStatus"].(map[string]any)["value"]).To(Equal("Forbidden"))
	g.Expect(all[2]["correlationId"]).To(Equal("c0ffee00-0000-4000-8000-000000000001"))
	g.Expect(all[2]["resourceId"]).To(Equal(cl1 + fluxPath + "/cfg"))
	g.Expect(all[2]["resourceGroupName"]).To(Equal("rg1"))

	g.Expect(list(owner, "eventTimestamp ge '2026-11-22T00:00:00Z' and correlationId eq 'c0ffee00-0000-4000-8000-000000000001'")).To(HaveLen(1))
	g.Expect(list(owner, "eventTimestamp ge '2026-11-22T00:00:00Z' and resourceGroupName eq 'rg2'")).To(BeEmpty())
	g.Expect(list(owner, "eventTimestamp ge '2026-11-23T00:00:00Z'")).To(BeEmpty())
	g.Expect(list(readerTok, "eventTimestamp ge '2026-11-22T00:00:00Z'")).To(HaveLen(5), "a Reader of rg1 reads every event of rg1")

	for _, bad := range []string{"", "resourceGroupName eq 'rg1'", "eventTimestamp ge 'yesterday'", "level eq 'Error'"} {
		r := f.do(http.MethodGet, sub0+"/providers/microsoft.insights/eventtypes/management/values?api-version=2015-04-01&$filter="+url.QueryEscape(bad), "")
		g.Expect(r.status).To(Equal(http.StatusBadRequest), "%q: %s", bad, r.body)
	}

	// No secret anywhere: the protected setting, the agent token, the
	// client secret, the access tokens.
	full := f.do(http.MethodGet, sub0+"/providers/microsoft.insights/eventtypes/management/values?api-version=2015-04-01&$filter="+url.QueryEscape("eventTimestamp ge '2026-11-22T00:00:00Z'"), "").body
	logMu.Lock()
	captured := logs.String()
	logMu.Unlock()
	g.Expect(captured).To(ContainSubstring("Request"), "the access log was captured")
	for _, secret := range []string{"c2VjcmV0LXRva2Vu", "secret-token", agentToken, readerCreds.Password, readerTok, owner} {
		g.Expect(string(full)).NotTo(ContainSubstring(secret))
		g.Expect(captured).NotTo(ContainSubstring(secret))
	}
}

// TestFailedSignInsAreLimitedPerClient: past the burst, wrong secrets for a
// client are answered 429 without being checked; the right secret of
// another client still signs in.
func TestFailedSignInsAreLimitedPerClient(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, func(o *Options) { o.SignInFailureRate = 0.001; o.SignInFailureBurst = 3 })
	victim, _ := f.principal("victim", "Reader", rg1)
	other, _ := f.principal("other", "Reader", rg1)
	codes := map[int]int{}
	for range 10 {
		_, err := f.signIn(victim.AppID, "wrong")
		g.Expect(err).To(HaveOccurred())
		switch {
		case strings.Contains(err.Error(), "invalid_client"):
			codes[401]++
		case strings.Contains(err.Error(), "temporarily_unavailable"):
			codes[429]++
		}
	}
	g.Expect(codes).To(Equal(map[int]int{401: 3, 429: 7}))
	_, err := f.signIn(other.AppID, other.Password)
	g.Expect(err).NotTo(HaveOccurred(), "another client signs in")
}

// TestExternalIssuer: tokens of an external OpenID Connect issuer (here
// another data plane's built-in issuer, over HTTPS) are accepted with their
// audience, and authorized by the role assignments of their oid.
func TestExternalIssuer(t *testing.T) {
	g := NewWithT(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	ext := httptest.NewUnstartedServer(nil)
	ext.Listener = l
	extURL := "https://" + l.Addr().String()
	idp, err := New(func() Options {
		o := DefaultOptions()
		o.DataDir = t.TempDir()
		o.Issuer = extURL + "/adfs"
		o.Audience = "api://hub"
		return o
	}())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = idp.Close() })
	ext.Config.Handler = idp.Handler()
	ext.StartTLS()
	t.Cleanup(ext.Close)

	f := newFixture(t, func(o *Options) {
		o.OIDCIssuerURL = extURL + "/adfs"
		o.OIDCAudience = "api://hub"
		o.OIDCHTTPClient = ext.Client()
	})
	// A principal of the external issuer.
	idpCreds, _ := ReadCredentials(filepath.Join(idp.opts.DataDir, OwnerCredentialsFile))
	tok, err := armclient.ClientCredentials(extURL+"/adfs/oauth2/token", idpCreds.AppID, idpCreds.Password, "api://hub", ext.Client()).Token()
	g.Expect(err).NotTo(HaveOccurred())

	r := f.as(tok.AccessToken, http.MethodPut, av(rg1), `{"location":"eastus"}`)
	g.Expect(r.status).To(Equal(http.StatusForbidden), "authenticated, but no role here yet: %s", r.body)
	f.assign(idpCreds.ObjectID, "Contributor", sub0)
	r = f.as(tok.AccessToken, http.MethodPut, av(rg1), `{"location":"eastus"}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))

	// Its token for another audience is refused.
	other, err := idp.issuer.Issue(identity.Principal{ObjectID: idpCreds.ObjectID}, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	otherAud := *idp.issuer
	otherAud.Audience = "api://elsewhere"
	wrong, _ := otherAud.Issue(identity.Principal{ObjectID: idpCreds.ObjectID}, time.Now())
	g.Expect(f.as(other, http.MethodGet, av(rg1), "").status).To(Equal(http.StatusOK))
	g.Expect(f.as(wrong, http.MethodGet, av(rg1), "").status).To(Equal(http.StatusUnauthorized))
}

func newJSONDecoder(resp *http.Response) *json.Decoder { return json.NewDecoder(resp.Body) }

func TestParseActivityFilter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		filter   string
		from, to time.Time
		eq       map[string]string
		bad      string
	}{
		{filter: "eventTimestamp ge '2026-11-26T08:00:00Z'", from: now.Add(-4 * time.Hour), to: now, eq: map[string]string{}},
		// az monitor activity-log list sends bare times without a zone.
		{filter: "eventTimestamp ge 2026-11-26T08:00:00.5 and eventTimestamp le 2026-11-26T09:00:00 and resourceGroupName eq 'rg1'",
			from: now.Add(-4*time.Hour + 500*time.Millisecond), to: now.Add(-3 * time.Hour), eq: map[string]string{"resourcegroupname": "rg1"}},
		{filter: "eventTimestamp ge '2026-11-26T08:00:00+02:00' AND caller eq 'app'", from: now.Add(-6 * time.Hour), to: now, eq: map[string]string{"caller": "app"}},
		{filter: "", bad: "it is required"},
		{filter: "resourceGroupName eq 'rg1'", bad: "needs a start time"},
		{filter: "eventTimestamp ge 'monday'", bad: "not an RFC 3339 time"},
		{filter: "eventTimestamp ge '2026-11-26T08:00:00Z' and level eq 'Error'", bad: "level eq is not supported"},
		{filter: "eventTimestamp ge '2026-11-26T08:00:00Z' and caller eq app", bad: "must be quoted"},
		{filter: "eventTimestamp ge '2026-11-26T08:00:00Z' or caller eq 'a'", bad: "not a clause"},
		{filter: "eventTimestamp eq '2026-11-26T08:00:00Z'", bad: "takes ge or le"},
	} {
		f, e := parseActivityFilter(tc.filter, now)
		switch {
		case tc.bad != "" && (e == nil || !strings.Contains(e.message, tc.bad)):
			t.Errorf("%q: error %v, want one saying %q", tc.filter, e, tc.bad)
		case tc.bad == "" && e != nil:
			t.Errorf("%q: %v", tc.filter, e)
		case tc.bad == "" && (!f.from.Equal(tc.from) || !f.to.Equal(tc.to) || fmt.Sprint(f.eq) != fmt.Sprint(tc.eq)):
			t.Errorf("%q: from %v to %v eq %v", tc.filter, f.from, f.to, f.eq)
		}
	}
}

// TestNewOwnerIsTheWayBackIn: with the owner's secret lost, a start with
// NewOwner makes another owner whose credentials work; the old owner
// stays.
func TestNewOwnerIsTheWayBackIn(t *testing.T) {
	dir := t.TempDir()
	open := func(newOwner bool) (*Server, Credentials) {
		o := DefaultOptions()
		o.DataDir, o.NewOwner = dir, newOwner
		srv, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ReadCredentials(filepath.Join(dir, OwnerCredentialsFile))
		if err != nil {
			t.Fatal(err)
		}
		return srv, c
	}
	srv, first := open(false)
	_ = srv.Close()
	srv, again := open(false)
	_ = srv.Close()
	if again != first {
		t.Fatal("a plain restart made another owner")
	}
	srv, second := open(true)
	defer srv.Close()
	if second.AppID == first.AppID {
		t.Fatal("NewOwner kept the old owner's credentials")
	}
	var owners int
	_ = srv.store.View(func(tx store.Tx) error {
		all, _ := tx.RoleAssignments()
		for _, a := range all {
			if a.Scope == "/" && strings.HasSuffix(a.RoleDefinitionID, armrbac.Owner.ID) {
				owners++
			}
		}
		return nil
	})
	if owners != 2 {
		t.Errorf("%d owners at the root, want the old and the new", owners)
	}
	if _, err := srv.checkSecret(second.AppID, second.Password); err != nil {
		t.Errorf("the new owner's secret: %v", err)
	}
}
