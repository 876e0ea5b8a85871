package dataplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

const (
	apiVersion = arm.FluxConfigAPIVersion
	clusterA   = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/cluster-a"
	clusterB   = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/cluster-b"
	fluxPath   = "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations"
)

type fixture struct {
	t   testing.TB
	srv *Server
	ts  *httptest.Server
	now time.Time
	mu  sync.Mutex
}

func newFixture(tb testing.TB, mut ...func(*Options)) *fixture {
	tb.Helper()
	f := &fixture{t: tb, now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	opts := DefaultOptions()
	opts.DataDir = tb.TempDir()
	opts.RatePerSecond = 0
	if testEtcd != "" { // the handlers' tests again, on etcd: a hub of its own per fixture
		opts.Etcd = &store.EtcdOptions{Endpoints: []string{testEtcd}, Prefix: "/arcgitops/" + uuid.NewString() + "/"}
	}
	opts.Now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	for _, m := range mut {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	f.srv = srv
	f.ts = httptest.NewServer(srv.Handler())
	tb.Cleanup(func() { f.ts.Close(); _ = f.srv.Close() })
	return f
}

// atRest is everything the store holds, as it is on disk (bbolt's file)
// or in etcd (every key and value under the hub's prefix).
func (f *fixture) atRest() []byte {
	f.t.Helper()
	if e := f.srv.opts.Etcd; e != nil {
		c, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints, DialTimeout: 5 * time.Second})
		if err != nil {
			f.t.Fatal(err)
		}
		defer c.Close()
		resp, err := c.Get(context.Background(), e.Prefix, clientv3.WithPrefix())
		if err != nil {
			f.t.Fatal(err)
		}
		var raw []byte
		for _, kv := range resp.Kvs {
			raw = append(append(raw, kv.Key...), kv.Value...)
		}
		return raw
	}
	if err := f.srv.store.Close(); err != nil {
		f.t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(f.srv.opts.DataDir, "dataplane.db"))
	if err != nil {
		f.t.Fatal(err)
	}
	f.srv.store = f.openStore()
	return raw
}

// openStore opens the fixture's store again (after the server closed it).
func (f *fixture) openStore() store.Store {
	f.t.Helper()
	var st store.Store
	var err error
	if e := f.srv.opts.Etcd; e != nil {
		st, err = store.OpenEtcd(*e)
	} else {
		st, err = store.OpenBolt(f.srv.opts.DataDir)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("response is not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (r response) code() string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r response) message() string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Message
}

// do sends one request through the project's ARM client; headers are
// name, value pairs.
func (f *fixture) do(method, path, body string, headers ...string) response {
	f.t.Helper()
	req := armclient.Request{Method: method, Path: path, Header: http.Header{}}
	if body != "" {
		req.Body = []byte(body)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if req.Header.Get("Authorization") == "" && !strings.HasPrefix(path, agentapi.PathPrefix) {
		req.Header.Set("Authorization", "Bearer "+f.ownerToken())
	}
	c := &armclient.Client{BaseURL: f.ts.URL}
	resp, err := c.Do(context.Background(), req, nil)
	if resp == nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: resp.Body}
}

// ownerToken is an access token of the owner made at first start, issued at
// the fixture's time.
func (f *fixture) ownerToken() string {
	f.t.Helper()
	creds, err := ReadCredentials(filepath.Join(f.srv.opts.DataDir, OwnerCredentialsFile))
	if err != nil {
		f.t.Fatal(err)
	}
	tok, err := f.srv.issuer.Issue(identity.Principal{ObjectID: creds.ObjectID, AppID: creds.AppID}, f.srv.opts.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func av(path string) string {
	if strings.Contains(path, "?") {
		return path + "&api-version=" + apiVersion
	}
	return path + "?api-version=" + apiVersion
}

// register registers a cluster and returns its agent token.
func (f *fixture) register(id string) string {
	f.t.Helper()
	r := f.do(http.MethodPut, av(id), `{"location":"eastus"}`)
	if r.status != http.StatusCreated {
		f.t.Fatalf("register %s: %d %s", id, r.status, r.body)
	}
	return r.json(f.t)["properties"].(map[string]any)["agentToken"].(string)
}

func example(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("../../test/fixtures/azure-examples", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// snapshot dumps every record of the store, to prove a request changed nothing.
func (f *fixture) snapshot() string {
	var b strings.Builder
	err := f.srv.store.View(func(tx store.Tx) error {
		for _, sub := range f.srv.opts.Subscriptions {
			groups, err := tx.ResourceGroups(sub.ID)
			if err != nil {
				return err
			}
			for _, g := range groups {
				j, _ := json.Marshal(g)
				b.Write(j)
				b.WriteByte('\n')
			}
		}
		principals, err := tx.Principals()
		if err != nil {
			return err
		}
		assignments, err := tx.RoleAssignments()
		if err != nil {
			return err
		}
		j, _ := json.Marshal([]any{principals, assignments})
		b.Write(j)
		b.WriteByte('\n')
		clusters, err := tx.Clusters()
		if err != nil {
			return err
		}
		for _, c := range clusters {
			j, _ := json.Marshal(c)
			b.Write(j)
			rev, _ := tx.Revision(c.ID)
			fmt.Fprintf(&b, " rev=%d\n", rev)
			configs, err := tx.Configs(c.ID)
			if err != nil {
				return err
			}
			for _, cfg := range configs {
				j, _ := json.Marshal(cfg)
				b.Write(j)
				b.WriteByte('\n')
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return b.String()
}

func TestAzureExamplesWithARMSemantics(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	f.register(clusterA)
	cfgPath := clusterA + fluxPath + "/srs-fluxconfig"

	r := f.do(http.MethodPut, av(cfgPath), example(t, "create-git.json"))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	created := r.json(t)
	g.Expect(created["id"]).To(Equal(clusterA + fluxPath + "/srs-fluxconfig"))
	g.Expect(created["type"]).To(Equal("Microsoft.KubernetesConfiguration/fluxConfigurations"))
	props := created["properties"].(map[string]any)
	g.Expect(props["provisioningState"]).To(Equal("Creating"))
	g.Expect(props["complianceState"]).To(Equal("Pending"))
	g.Expect(props["namespace"]).To(Equal("srs-namespace"))
	g.Expect(props).NotTo(HaveKey("configurationProtectedSettings"))

	r = f.do(http.MethodGet, av(cfgPath), "")
	g.Expect(r.status).To(Equal(http.StatusOK))
	props = r.json(t)["properties"].(map[string]any)
	ks := props["kustomizations"].(map[string]any)
	g.Expect(ks).To(HaveLen(2))
	k1 := ks["srs-kustomization1"].(map[string]any)
	g.Expect(k1["name"]).To(Equal("srs-kustomization1"))
	g.Expect(k1["path"]).To(Equal("./test/path"))
	g.Expect(k1["timeoutInSeconds"]).To(BeNumerically("==", 600))
	g.Expect(ks["srs-kustomization2"].(map[string]any)["dependsOn"]).To(Equal([]any{"srs-kustomization1"}))

	// PUT again updates.
	r = f.do(http.MethodPut, av(cfgPath), example(t, "create-git.json"))
	g.Expect(r.status).To(Equal(http.StatusOK))

	// PATCH with JSON merge patch semantics.
	r = f.do(http.MethodPatch, av(cfgPath), example(t, "patch.json"))
	g.Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
	g.Expect(r.header.Get("Azure-AsyncOperation")).To(ContainSubstring(cfgPath+"/operations/patch-"), "PATCH is a long-running operation")
	props = r.json(t)["properties"].(map[string]any)
	g.Expect(props["suspend"]).To(BeTrue())
	g.Expect(props["gitRepository"].(map[string]any)["url"]).To(Equal("https://github.com/jonathan-innis/flux2-kustomize-helm-example.git"))
	g.Expect(props["gitRepository"].(map[string]any)["repositoryRef"]).To(Equal(map[string]any{"branch": "master"}), "omitted fields keep their values")
	ks = props["kustomizations"].(map[string]any)
	g.Expect(ks).NotTo(HaveKey("srs-kustomization1"), "null removes a kustomization")
	k2 := ks["srs-kustomization2"].(map[string]any)
	g.Expect(k2["path"]).To(Equal("./test/alt-path"))
	g.Expect(k2["syncIntervalInSeconds"]).To(BeNumerically("==", 300))
	g.Expect(k2["dependsOn"]).To(BeEmpty(), "dependsOn: null clears the list (shown as [], as Azure does)")
	g.Expect(k2["retryIntervalInSeconds"]).To(BeNumerically("==", 600), "omitted fields keep their values")
	k3 := ks["srs-kustomization3"].(map[string]any)
	g.Expect(k3["path"]).To(Equal("./test/another-path"))
	g.Expect(k3["timeoutInSeconds"]).To(BeNumerically("==", 600), "a new kustomization is defaulted")

	// The GET body of Azure's example is accepted as a PUT body (read-only fields ignored).
	r = f.do(http.MethodPut, av(clusterA+fluxPath+"/from-get"), example(t, "get-response.json"))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(r.json(t)["properties"].(map[string]any)["complianceState"]).To(Equal("Pending"), "read-only fields in a PUT are ignored")

	// Scope and namespace cannot change.
	r = f.do(http.MethodPatch, av(cfgPath), `{"properties":{"scope":"namespace"}}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest))
	g.Expect(string(r.body)).To(ContainSubstring("scope cannot be changed after creation"))
	r = f.do(http.MethodPatch, av(cfgPath), `{"properties":{"namespace":"other"}}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest))
	g.Expect(string(r.body)).To(ContainSubstring("namespace cannot be changed"))
}

func TestListPagingAndDelete(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, func(o *Options) { o.PageSize = 2 })
	f.register(clusterA)
	for _, n := range []string{"c1", "c2", "c3", "c4", "c5"} {
		r := f.do(http.MethodPut, av(clusterA+fluxPath+"/"+n), example(t, "create-git.json"))
		g.Expect(r.status).To(Equal(http.StatusCreated))
	}
	var names []string
	next := f.ts.URL + av(clusterA+fluxPath)
	for pages := 0; next != ""; pages++ {
		g.Expect(pages).To(BeNumerically("<", 5))
		r := f.do(http.MethodGet, next, "") // an absolute nextLink
		g.Expect(r.status).To(Equal(http.StatusOK))
		page := r.json(t)
		for _, v := range page["value"].([]any) {
			names = append(names, v.(map[string]any)["name"].(string))
		}
		next, _ = page["nextLink"].(string)
	}
	g.Expect(names).To(Equal([]string{"c1", "c2", "c3", "c4", "c5"}))

	// Asynchronous delete: Deleting until the agent confirms.
	r := f.do(http.MethodDelete, av(clusterA+fluxPath+"/c1"), "")
	g.Expect(r.status).To(Equal(http.StatusAccepted))
	g.Expect(r.header.Get("Location")).NotTo(BeEmpty())
	r = f.do(http.MethodGet, av(clusterA+fluxPath+"/c1"), "")
	g.Expect(r.json(t)["properties"].(map[string]any)["provisioningState"]).To(Equal("Deleting"))
	r = f.do(http.MethodPut, av(clusterA+fluxPath+"/c1"), example(t, "create-git.json"))
	g.Expect(r.status).To(Equal(http.StatusConflict))
	// forceDelete skips the cluster.
	r = f.do(http.MethodDelete, av(clusterA+fluxPath+"/c2?forceDelete=true"), "")
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, av(clusterA+fluxPath+"/c2"), "").status).To(Equal(http.StatusNotFound))
	// Deleting what is not there is fine.
	g.Expect(f.do(http.MethodDelete, av(clusterA+fluxPath+"/nope"), "").status).To(Equal(http.StatusNoContent))
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxBodyBytes = 16 << 10 })
	f.register(clusterA)
	good := example(t, "create-git.json")
	cfg := clusterA + fluxPath + "/existing"
	if r := f.do(http.MethodPut, av(cfg), good); r.status != http.StatusCreated {
		t.Fatalf("setup: %d %s", r.status, r.body)
	}
	withProps := func(replace func(p map[string]any)) string {
		var body map[string]any
		_ = json.Unmarshal([]byte(good), &body)
		replace(body["properties"].(map[string]any))
		b, _ := json.Marshal(body)
		return string(b)
	}
	git := func(p map[string]any) map[string]any { return p["gitRepository"].(map[string]any) }
	ks := func(p map[string]any) map[string]any { return p["kustomizations"].(map[string]any) }
	k1 := func(p map[string]any) map[string]any { return ks(p)["srs-kustomization1"].(map[string]any) }
	newPath := clusterA + fluxPath + "/newconfig"

	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		status      int
		code        string
		message     string
	}{
		{"missing api-version", "PUT", newPath, good, "", 400, "MissingApiVersionParameter", "api-version"},
		{"unknown api-version", "PUT", newPath + "?api-version=1999-01-01", good, "", 400, "InvalidApiVersionParameter", "supported versions"},
		{"malformed JSON", "PUT", av(newPath), `{"properties": {`, "", 400, "InvalidRequestContent", "not valid JSON"},
		{"empty body", "PUT", av(newPath), ``, "application/json", 400, "InvalidRequestContent", "empty"},
		{"not an object", "PUT", av(newPath), `[1,2]`, "", 400, "InvalidRequestContent", ""},
		{"wrong content type", "PUT", av(newPath), good, "text/plain", 415, "UnsupportedMediaType", "application/json"},
		{"oversized body", "PUT", av(newPath), `{"properties":{"suspend":false,"x":"` + strings.Repeat("a", 20<<10) + `"}}`, "", 413, "RequestEntityTooLarge", "larger than"},
		{"duplicate top-level key", "PUT", av(newPath), `{"properties":{},"properties":{}}`, "", 400, "InvalidRequestContent", `key "properties" twice`},
		{"duplicate nested key", "PUT", av(newPath), `{"properties":{"scope":"cluster","scope":"namespace"}}`, "", 400, "InvalidRequestContent", `key "scope" twice in properties`},
		{"unknown field", "PUT", av(newPath), withProps(func(p map[string]any) { p["sourceKindd"] = "Bucket" }), "", 400, "InvalidRequestContent", "unknown field"},
		{"wrong type", "PUT", av(newPath), withProps(func(p map[string]any) { p["suspend"] = "yes" }), "", 400, "InvalidRequestContent", "must be a boolean"},
		{"no properties", "PUT", av(newPath), `{}`, "", 400, "InvalidRequestContent", "properties"},
		{"name with capitals", "PUT", av(clusterA + fluxPath + "/MyConfig"), good, "", 400, "InvalidParameter", "1-30 characters"},
		{"name too long", "PUT", av(clusterA + fluxPath + "/" + strings.Repeat("a", 31)), good, "", 400, "InvalidParameter", "1-30 characters"},
		{"kustomization name too long", "PUT", av(newPath), withProps(func(p map[string]any) { ks(p)[strings.Repeat("k", 31)] = map[string]any{} }), "", 400, "InvalidParameter", "kustomization names must be 1-30 characters"},
		{"ftp url", "PUT", av(newPath), withProps(func(p map[string]any) { git(p)["url"] = "ftp://example.com/x" }), "", 400, "InvalidParameter", "url must start with http://"},
		{"path escaping the source", "PUT", av(newPath), withProps(func(p map[string]any) { k1(p)["path"] = "../../etc" }), "", 400, "InvalidParameter", "'..' segment"},
		{"absolute path", "PUT", av(newPath), withProps(func(p map[string]any) { k1(p)["path"] = "/etc" }), "", 400, "InvalidParameter", "relative"},
		{"unknown dependsOn", "PUT", av(newPath), withProps(func(p map[string]any) { k1(p)["dependsOn"] = []string{"ghost"} }), "", 400, "InvalidParameter", "dependsOn must name another kustomization"},
		{"two sources", "PUT", av(newPath), withProps(func(p map[string]any) {
			p["bucket"] = map[string]any{"url": "https://s3.example.com", "bucketName": "configs"}
		}), "", 400, "InvalidParameter", "bucket is set but sourceKind is GitRepository"},
		{"two refs", "PUT", av(newPath), withProps(func(p map[string]any) { git(p)["repositoryRef"] = map[string]any{"branch": "a", "tag": "b"} }), "", 400, "InvalidParameter", "only one of branch, tag and semver"},
		{"interval zero", "PUT", av(newPath), withProps(func(p map[string]any) { git(p)["syncIntervalInSeconds"] = 0 }), "", 400, "InvalidParameter", "greater than or equal to 1"},
		{"interval too long", "PUT", av(newPath), withProps(func(p map[string]any) { k1(p)["timeoutInSeconds"] = 35791395 }), "", 400, "InvalidParameter", "less than or equal to 35791394"},
		{"bad scope", "PUT", av(newPath), withProps(func(p map[string]any) { p["scope"] = "global" }), "", 400, "InvalidParameter", "Unsupported value"},
		{"https user over the CRD's limit", "PUT", av(newPath), withProps(func(p map[string]any) { git(p)["httpsUser"] = strings.Repeat("u", 257) }), "", 400, "InvalidParameter", "httpsUser: Too long"},
		{"branch over the CRD's limit", "PUT", av(newPath), withProps(func(p map[string]any) {
			git(p)["repositoryRef"] = map[string]any{"branch": strings.Repeat("b", 256)}
		}), "", 400, "InvalidParameter", "branch: Too long"},
		{"system namespace", "PUT", av(newPath), withProps(func(p map[string]any) { p["namespace"] = "kube-system" }), "", 400, "InvalidParameter", "kube-* namespaces belong to Kubernetes itself"},
		{"bad namespace", "PUT", av(newPath), withProps(func(p map[string]any) { p["namespace"] = "Bad_NS" }), "", 400, "InvalidParameter", "properties.namespace"},
		{"unknown protected key", "PUT", av(newPath), withProps(func(p map[string]any) { p["configurationProtectedSettings"] = map[string]string{"password": "eA=="} }), "", 400, "InvalidParameter", "not a protected setting"},
		{"protected value not base64", "PUT", av(newPath), withProps(func(p map[string]any) {
			p["configurationProtectedSettings"] = map[string]string{"httpsKey": "not base64!"}
		}), "", 400, "InvalidParameter", "base64"},
		{"token over plain http", "PUT", av(newPath), withProps(func(p map[string]any) {
			git(p)["url"] = "http://git.example.com/org/repo"
			delete(git(p), "httpsCACert")
			p["configurationProtectedSettings"] = map[string]string{"httpsKey": "dG9rZW4="}
		}), "", 400, "InvalidParameter", "http:// would carry the token in clear"},
		{"password in the url", "PUT", av(newPath), withProps(func(p map[string]any) { git(p)["url"] = "https://bot:s3cret@github.com/org/repo" }), "", 400, "InvalidParameter", "must not contain a password"},
		{"protected ref not accepted", "PUT", av(newPath), withProps(func(p map[string]any) { p["configurationProtectedSettingsRef"] = map[string]string{"name": "x"} }), "", 400, "InvalidRequestContent", "configurationProtectedSettingsRef"},
		{"unregistered cluster", "PUT", av("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/ghost" + fluxPath + "/x"), good, "", 404, "ResourceNotFound", "connectedk8s connect"},
		{"unknown provider", "PUT", av("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Foo/bars/c" + fluxPath + "/x"), good, "", 404, "NotFound", ""},
		{"patch of a missing configuration", "PATCH", av(clusterA + fluxPath + "/ghost"), `{"properties":{"suspend":true}}`, "", 404, "ResourceNotFound", "was not found"},
		{"patch that makes it invalid", "PATCH", av(cfg), `{"properties":{"gitRepository":{"repositoryRef":{"tag":"v1","branch":"main"}}}}`, "", 400, "InvalidParameter", "only one of branch, tag and semver"},
		{"patch changing scope", "PATCH", av(cfg), `{"properties":{"scope":"namespace"}}`, "", 400, "InvalidParameter", "scope cannot be changed"},
		{"method not allowed", "POST", av(cfg), good, "", 405, "MethodNotAllowed", "PUT"},
		{"get missing", "GET", av(clusterA + fluxPath + "/ghost"), "", "", 404, "ResourceNotFound", "was not found"},
		{"get without api-version", "GET", cfg, "", "", 400, "MissingApiVersionParameter", ""},
	}
	if len(tests) < 30 {
		t.Fatalf("want at least 30 bad inputs, have %d", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			before := f.snapshot()
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, f.ts.URL+tt.path, strings.NewReader(tt.body))
			ct := tt.contentType
			if ct == "" && tt.body != "" {
				ct = "application/json"
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			req.Header.Set("Authorization", "Bearer "+f.ownerToken())
			resp, err := http.DefaultClient.Do(req)
			g.Expect(err).NotTo(HaveOccurred())
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			r := response{status: resp.StatusCode, body: body}
			g.Expect(r.status).To(Equal(tt.status), string(body))
			g.Expect(r.code()).To(Equal(tt.code), string(body))
			g.Expect(r.message()).To(ContainSubstring(tt.message))
			g.Expect(f.snapshot()).To(Equal(before), "the store changed")
		})
	}
}

func TestAgentAPI(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	tokenA := f.register(clusterA)
	tokenB := f.register(clusterB)
	listA := agentapi.PathPrefix + clusterA + "/fluxConfigurations"

	// Authentication and isolation.
	g.Expect(f.do("GET", listA, "").status).To(Equal(http.StatusUnauthorized))
	g.Expect(f.do("GET", listA, "", "Authorization", "Bearer nope").status).To(Equal(http.StatusUnauthorized))
	before := f.snapshot()
	r := f.do("GET", listA, "", "Authorization", "Bearer "+tokenB)
	g.Expect(r.status).To(Equal(http.StatusForbidden), "cluster B's token cannot read cluster A")
	g.Expect(r.code()).To(Equal("AuthorizationFailed"))
	for _, p := range []string{"/cfg/status", "/cfg/protectedSettings/ack", "/cfg/deleted"} {
		method := http.MethodPost
		if strings.HasSuffix(p, "status") {
			method = http.MethodPut
		}
		r = f.do(method, listA+p, `{}`, "Authorization", "Bearer "+tokenB)
		g.Expect(r.status).To(Equal(http.StatusForbidden), "cluster B's token cannot write for cluster A: %s", p)
	}
	g.Expect(f.snapshot()).To(Equal(before), "refused agent requests change nothing")

	// A configuration with protected settings.
	body := strings.Replace(example(t, "create-git.json"), `"waitForReconciliation"`,
		`"configurationProtectedSettings": {"httpsKey": "c2VjcmV0LXRva2Vu"}, "waitForReconciliation"`, 1)
	cfgPath := clusterA + fluxPath + "/cfg"
	r = f.do("PUT", av(cfgPath), body)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(string(r.body)).NotTo(ContainSubstring("c2VjcmV0LXRva2Vu"))
	g.Expect(string(f.do("GET", av(cfgPath), "").body)).NotTo(ContainSubstring("c2VjcmV0LXRva2Vu"), "GET never returns protected settings")

	r = f.do("GET", listA, "", "Authorization", "Bearer "+tokenA)
	g.Expect(r.status).To(Equal(http.StatusOK))
	etag := r.header.Get("ETag")
	var state agentapi.DesiredState
	g.Expect(json.Unmarshal(r.body, &state)).To(Succeed())
	g.Expect(state.Configurations).To(HaveLen(1))
	c := state.Configurations[0]
	g.Expect(c.Name).To(Equal("cfg"))
	g.Expect(c.Generation).To(Equal(int64(1)))
	g.Expect(c.ProtectedSettings.Values).To(Equal(map[string]string{"httpsKey": "c2VjcmV0LXRva2Vu"}))
	var cprops map[string]any
	g.Expect(json.Unmarshal(c.Properties, &cprops)).To(Succeed())
	g.Expect(cprops["namespace"]).To(Equal("srs-namespace"))

	// Cluster B sees nothing of A.
	r = f.do("GET", agentapi.PathPrefix+clusterB+"/fluxConfigurations", "", "Authorization", "Bearer "+tokenB)
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(string(r.body)).NotTo(ContainSubstring("cfg"))

	// Not modified.
	r = f.do("GET", listA, "", "Authorization", "Bearer "+tokenA, "If-None-Match", etag)
	g.Expect(r.status).To(Equal(http.StatusNotModified))

	// Long poll returns as soon as something changes.
	done := make(chan response, 1)
	go func() {
		done <- f.do("GET", listA+"?wait=30s", "", "Authorization", "Bearer "+tokenA, "If-None-Match", etag)
	}()
	time.Sleep(200 * time.Millisecond)
	g.Expect(f.do("PATCH", av(cfgPath), `{"properties":{"suspend":true}}`).status).To(Equal(http.StatusAccepted))
	select {
	case r = <-done:
		g.Expect(r.status).To(Equal(http.StatusOK))
		g.Expect(r.header.Get("ETag")).NotTo(Equal(etag))
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not return after a change")
	}

	// Acknowledge the protected settings: gone from the list and the store.
	r = f.do("POST", agentapi.PathPrefix+clusterA+"/fluxConfigurations/cfg/protectedSettings/ack", `{"version":1}`, "Authorization", "Bearer "+tokenA)
	g.Expect(r.status).To(Equal(http.StatusNoContent), string(r.body))
	r = f.do("GET", listA, "", "Authorization", "Bearer "+tokenA)
	g.Expect(string(r.body)).NotTo(ContainSubstring("c2VjcmV0LXRva2Vu"))
	_ = f.srv.store.View(func(tx store.Tx) error {
		cfg, err := tx.Config(clusterA, "cfg")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cfg.Protected).To(BeNil())
		return nil
	})

	// Status reports show in GET, in ARM's shape.
	report := `{"generation":2,"complianceState":"Compliant","provisioningState":"Succeeded","sourceSyncedCommitId":"main/0ba6f0d3",
		"statuses":[{"name":"cfg","namespace":"srs-namespace","kind":"GitRepository","complianceState":"Compliant"}]}`
	r = f.do("PUT", agentapi.PathPrefix+clusterA+"/fluxConfigurations/cfg/status", report, "Authorization", "Bearer "+tokenA)
	g.Expect(r.status).To(Equal(http.StatusNoContent), string(r.body))
	props := f.do("GET", av(cfgPath), "").json(t)["properties"].(map[string]any)
	g.Expect(props["complianceState"]).To(Equal("Compliant"))
	g.Expect(props["provisioningState"]).To(Equal("Succeeded"))
	g.Expect(props["sourceSyncedCommitId"]).To(Equal("main/0ba6f0d3"))
	g.Expect(props["statuses"]).To(HaveLen(1))
	// B cannot report for A's configuration.
	r = f.do("PUT", agentapi.PathPrefix+clusterA+"/fluxConfigurations/cfg/status", report, "Authorization", "Bearer "+tokenB)
	g.Expect(r.status).To(Equal(http.StatusForbidden))

	// A newer desired state makes the old report stale: Updating.
	g.Expect(f.do("PATCH", av(cfgPath), `{"properties":{"suspend":false}}`).status).To(Equal(http.StatusAccepted))
	props = f.do("GET", av(cfgPath), "").json(t)["properties"].(map[string]any)
	g.Expect(props["provisioningState"]).To(Equal("Updating"))

	// Deletion: the agent confirms, the resource disappears.
	g.Expect(f.do("DELETE", av(cfgPath), "").status).To(Equal(http.StatusAccepted))
	r = f.do("GET", listA, "", "Authorization", "Bearer "+tokenA)
	g.Expect(string(r.body)).To(ContainSubstring(`"deleting": true`))
	r = f.do("POST", agentapi.PathPrefix+clusterA+"/fluxConfigurations/cfg/deleted", "", "Authorization", "Bearer "+tokenA)
	g.Expect(r.status).To(Equal(http.StatusNoContent))
	g.Expect(f.do("GET", av(cfgPath), "").status).To(Equal(http.StatusNotFound))
}

func TestProtectedSettingsExpireAndAreEncrypted(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, func(o *Options) { o.ProtectedSettingsTTL = time.Hour })
	f.register(clusterA)
	const secret = "dG9wLXNlY3JldC12YWx1ZQ==" // base64 of top-secret-value
	body := strings.Replace(example(t, "create-git.json"), `"waitForReconciliation"`,
		`"configurationProtectedSettings": {"httpsKey": "`+secret+`"}, "waitForReconciliation"`, 1)
	g.Expect(f.do("PUT", av(clusterA+fluxPath+"/cfg"), body).status).To(Equal(http.StatusCreated))

	// At rest, neither the base64 nor the plain value is in the store.
	raw := f.atRest()
	g.Expect(bytes.Contains(raw, []byte(secret))).To(BeFalse())
	g.Expect(bytes.Contains(raw, []byte("top-secret-value"))).To(BeFalse())
	info, err := os.Stat(filepath.Join(f.srv.opts.DataDir, keyFile))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)))

	f.advance(59 * time.Minute)
	g.Expect(f.srv.ExpireProtectedSettings()).To(Succeed())
	g.Expect(f.do("GET", av(clusterA+fluxPath+"/cfg"), "").json(t)["properties"].(map[string]any)["provisioningState"]).To(Equal("Creating"))

	f.advance(2 * time.Minute)
	g.Expect(f.srv.ExpireProtectedSettings()).To(Succeed())
	props := f.do("GET", av(clusterA+fluxPath+"/cfg"), "").json(t)["properties"].(map[string]any)
	g.Expect(props["provisioningState"]).To(Equal("Failed"))
	g.Expect(props["errorMessage"]).To(ContainSubstring("re-apply the configuration with its protected settings"))
	_ = f.srv.store.View(func(tx store.Tx) error {
		cfg, _ := tx.Config(clusterA, "cfg")
		g.Expect(cfg.Protected).To(BeNil())
		return nil
	})
	// Re-applying clears the failure.
	g.Expect(f.do("PUT", av(clusterA+fluxPath+"/cfg"), body).status).To(Equal(http.StatusOK))
	props = f.do("GET", av(clusterA+fluxPath+"/cfg"), "").json(t)["properties"].(map[string]any)
	g.Expect(props["errorMessage"]).To(BeEmpty())
}

func TestRateLimit(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, func(o *Options) { o.RatePerSecond = 1; o.Burst = 3 })
	codes := map[int]int{}
	var retryAfter string
	for i := 0; i < 6; i++ {
		r := f.do("GET", av(clusterA), "")
		codes[r.status]++
		if r.status == http.StatusTooManyRequests {
			retryAfter = r.header.Get("Retry-After")
		}
	}
	g.Expect(codes[http.StatusTooManyRequests]).To(BeNumerically(">=", 2))
	g.Expect(retryAfter).NotTo(BeEmpty())
}

func TestHealthAndMetrics(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	g.Expect(f.do("GET", "/healthz", "").status).To(Equal(http.StatusOK))
	f.register(clusterA)
	r := f.do("GET", "/metrics", "")
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(string(r.body)).To(ContainSubstring(`dataplane_http_requests_total{code="201",method="PUT",route="cluster"} 1`))
}

func TestServeShutsDown(t *testing.T) {
	g := NewWithT(t)
	opts := DefaultOptions()
	opts.DataDir = t.TempDir()
	srv, err := New(opts)
	g.Expect(err).NotTo(HaveOccurred())
	defer srv.Close()
	l, err := netListen()
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	resp, err := http.Get("http://" + l.Addr().String() + "/healthz")
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	cancel()
	g.Eventually(done, 5*time.Second).Should(Receive(BeNil()))
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// TestLinksIgnoreTheHostHeader: nextLink and Location are built from the
// configured external URL, or the address the connection came in on, never
// from a Host header the client chose.
func TestLinksIgnoreTheHostHeader(t *testing.T) {
	for _, external := range []string{"", "https://hub.example.com/"} {
		f := newFixture(t, func(o *Options) { o.PageSize = 1; o.ExternalURL = external })
		f.register(clusterA)
		for _, n := range []string{"a", "b"} {
			f.do(http.MethodPut, av(clusterA+fluxPath+"/"+n), example(t, "create-git.json"))
		}
		want := f.ts.URL
		if external != "" {
			want = "https://hub.example.com"
		}
		list := f.do(http.MethodGet, av(clusterA+fluxPath), "", "Host", "evil.example")
		next, _ := list.json(t)["nextLink"].(string)
		del := f.do(http.MethodDelete, av(clusterA+fluxPath+"/a"), "", "Host", "evil.example")
		for name, link := range map[string]string{"nextLink": next, "Location": del.header.Get("Location")} {
			if !strings.HasPrefix(link, want+"/subscriptions/") {
				t.Errorf("external URL %q: %s = %q, want it under %s", external, name, link, want)
			}
		}
	}
}

// TestMetricsMethodLabelIsBounded: invented methods share one label value.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 50; i++ {
		f.do(fmt.Sprintf("INVENTED%d", i), "/subscriptions/x", "")
	}
	body := string(f.do(http.MethodGet, "/metrics", "").body)
	if strings.Contains(body, "INVENTED") || !strings.Contains(body, `method="other"`) {
		t.Errorf("invented methods reached the metrics labels:\n%s", grepLines(body, "dataplane_http_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestCredentialsStayWithTheirEndpoint: a PATCH that moves the source to
// another host without giving credentials again drops the stored ones, and
// the agent is told to delete its copy; moving within the host keeps them,
// and new credentials given with the move are used.
func TestCredentialsStayWithTheirEndpoint(t *testing.T) {
	f := newFixture(t)
	token := f.register(clusterA)
	cfg := clusterA + fluxPath + "/creds"
	list := agentapi.PathPrefix + clusterA + "/fluxConfigurations"
	pending := func() *agentapi.ProtectedSettings {
		t.Helper()
		var state agentapi.DesiredState
		if err := json.Unmarshal(f.do(http.MethodGet, list, "", "Authorization", "Bearer "+token).body, &state); err != nil {
			t.Fatal(err)
		}
		return state.Configurations[0].ProtectedSettings
	}
	ack := func(version int64) {
		t.Helper()
		r := f.do(http.MethodPost, list+"/creds/protectedSettings/ack", fmt.Sprintf(`{"version":%d}`, version), "Authorization", "Bearer "+token)
		if r.status != http.StatusNoContent {
			t.Fatalf("ack: %d %s", r.status, r.body)
		}
	}
	body := `{"properties":{"namespace":"ns","gitRepository":{"url":"https://github.com/org/a","repositoryRef":{"branch":"main"},"httpsUser":"bot"},` +
		`"configurationProtectedSettings":{"httpsKey":"dG9rZW4="}}}`
	if r := f.do(http.MethodPut, av(cfg), body); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	p := pending()
	if p == nil || p.Values["httpsKey"] != "dG9rZW4=" {
		t.Fatalf("the token is not pending for the agent: %+v", p)
	}
	ack(p.Version)

	// Another repository on the same host: nothing to deliver or drop.
	if r := f.do(http.MethodPatch, av(cfg), `{"properties":{"gitRepository":{"url":"https://github.com/org/b"}}}`); r.status != http.StatusAccepted {
		t.Fatalf("patch within the host: %d %s", r.status, r.body)
	}
	if p := pending(); p != nil {
		t.Errorf("a move within the host changed the credentials: %+v", p)
	}

	// Another host, no credentials given: the stored ones are dropped.
	if r := f.do(http.MethodPatch, av(cfg), `{"properties":{"gitRepository":{"url":"https://evil.example/org/b"}}}`); r.status != http.StatusAccepted {
		t.Fatalf("patch to another host: %d %s", r.status, r.body)
	}
	p = pending()
	if p == nil || len(p.Values) != 0 {
		t.Fatalf("moving to another host kept the credentials: %+v", p)
	}
	ack(p.Version)

	// Another host with new credentials: those.
	if r := f.do(http.MethodPatch, av(cfg), `{"properties":{"gitRepository":{"url":"https://git.example.com/org/b"},`+
		`"configurationProtectedSettings":{"httpsKey":"bmV3"}}}`); r.status != http.StatusAccepted {
		t.Fatalf("patch with new credentials: %d %s", r.status, r.body)
	}
	if p := pending(); p == nil || p.Values["httpsKey"] != "bmV3" {
		t.Errorf("new credentials given with the move: %+v", p)
	}
}

// TestRegeneratedTokenKeepsTheOldOneForAGracePeriod: after a regeneration
// the old token still works for TokenGracePeriod, so a running agent can
// pick up the new one; then it is refused with a message that says so.
// Regenerating again retires the first token at once.
func TestRegeneratedTokenKeepsTheOldOneForAGracePeriod(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TokenGracePeriod = time.Hour })
	first := f.register(clusterA)
	list := agentapi.PathPrefix + clusterA + "/fluxConfigurations"
	regenerate := func() string {
		t.Helper()
		r := f.do(http.MethodPost, av(clusterA+"/regenerateAgentToken"), "")
		if r.status != http.StatusOK {
			t.Fatalf("regenerate: %d %s", r.status, r.body)
		}
		return r.json(t)["properties"].(map[string]any)["agentToken"].(string)
	}
	status := func(token string) response { return f.do(http.MethodGet, list, "", "Authorization", "Bearer "+token) }

	second := regenerate()
	if r := status(first); r.status != http.StatusOK {
		t.Errorf("the old token within its grace period: %d %s", r.status, r.body)
	}
	if r := status(second); r.status != http.StatusOK {
		t.Errorf("the new token: %d %s", r.status, r.body)
	}
	f.advance(time.Hour)
	if r := status(first); r.status != http.StatusUnauthorized || !strings.Contains(r.message(), "grace period has ended") {
		t.Errorf("the old token after its grace period: %d %s", r.status, r.body)
	}
	if r := status(second); r.status != http.StatusOK {
		t.Errorf("the new token after the grace period: %d %s", r.status, r.body)
	}

	third := regenerate()
	f.advance(time.Minute)
	if r := status(first); r.status != http.StatusUnauthorized || !strings.Contains(r.message(), "not valid") {
		t.Errorf("the first token after two regenerations: %d %s", r.status, r.body)
	}
	for _, tok := range []string{second, third} {
		if r := status(tok); r.status != http.StatusOK {
			t.Errorf("token %s…: %d %s", tok[:4], r.status, r.body)
		}
	}
}

// TestQuotas: a subscription cannot register more clusters, nor a cluster
// hold more configurations, than its quota; updates of existing ones go on.
func TestQuotas(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxClustersPerSubscription = 2; o.MaxConfigsPerCluster = 2 })
	f.register(clusterA)
	f.register(clusterB)
	other := "/subscriptions/sub1/resourceGroups/rg2/providers/Microsoft.Kubernetes/connectedClusters/third"
	if r := f.do(http.MethodPut, av(other), `{"location":"eastus"}`); r.status != http.StatusConflict || r.code() != "QuotaExceeded" {
		t.Errorf("a third cluster: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPut, av("/subscriptions/sub2/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c"), `{}`); r.status != http.StatusCreated {
		t.Errorf("another subscription's cluster: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPut, av(clusterA), `{"location":"westus"}`); r.status != http.StatusOK {
		t.Errorf("updating a registered cluster: %d %s", r.status, r.body)
	}
	body := example(t, "create-git.json")
	for _, n := range []string{"one", "two"} {
		if r := f.do(http.MethodPut, av(clusterA+fluxPath+"/"+n), body); r.status != http.StatusCreated {
			t.Fatalf("configuration %s: %d %s", n, r.status, r.body)
		}
	}
	before := f.snapshot()
	if r := f.do(http.MethodPut, av(clusterA+fluxPath+"/three"), body); r.status != http.StatusConflict || !strings.Contains(r.message(), "--max-configurations-per-cluster") {
		t.Errorf("a third configuration: %d %s", r.status, r.body)
	}
	if f.snapshot() != before {
		t.Error("the refused configuration changed the store")
	}
	if r := f.do(http.MethodPut, av(clusterA+fluxPath+"/two"), body); r.status != http.StatusOK {
		t.Errorf("updating a configuration at the quota: %d %s", r.status, r.body)
	}
}

// TestSourceHostAllowlist: with an allowlist, sources on other hosts (say,
// an internal address) are refused.
func TestSourceHostAllowlist(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.SourceHostAllowlist = []string{"github.com", "*.azure.com"} })
	f.register(clusterA)
	put := func(name, url string) response {
		return f.do(http.MethodPut, av(clusterA+fluxPath+"/"+name),
			`{"properties":{"gitRepository":{"url":"`+url+`","repositoryRef":{"branch":"main"}}}}`)
	}
	for name, url := range map[string]string{"gh": "https://github.com/org/r", "ado": "git@ssh.dev.azure.com:v3/org/p/r", "port": "https://GitHub.com:443/org/r"} {
		if r := put(name, url); r.status != http.StatusCreated {
			t.Errorf("%s: %d %s", url, r.status, r.body)
		}
	}
	for _, url := range []string{"http://169.254.169.254/latest", "https://git.internal/r", "ssh://git@10.0.0.5/r"} {
		if r := put("bad", url); r.status != http.StatusBadRequest || !strings.Contains(r.message(), "not in this data plane's allowlist") {
			t.Errorf("%s: %d %s", url, r.status, r.body)
		}
	}
}

// TestTenancyAsARMServesIt: the tenants, subscriptions and resource groups
// that az login and az group read and write.
func TestTenancyAsARMServesIt(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Subscriptions = []Subscription{{ID: "sub1", DisplayName: "Fleet"}, {ID: "sub2", DisplayName: "Lab"}}
	})
	g := NewWithT(t)
	tenants := f.do(http.MethodGet, av("/tenants"), "").json(t)["value"].([]any)
	g.Expect(tenants).To(ConsistOf(HaveKeyWithValue("tenantId", "adfs")))
	subs := f.do(http.MethodGet, av("/subscriptions"), "").json(t)["value"].([]any)
	g.Expect(subs).To(HaveLen(2))
	g.Expect(subs[0]).To(And(HaveKeyWithValue("subscriptionId", "sub1"), HaveKeyWithValue("displayName", "Fleet"),
		HaveKeyWithValue("state", "Enabled"), HaveKeyWithValue("tenantId", "adfs")))
	g.Expect(f.do(http.MethodGet, av("/subscriptions/SUB2"), "").json(t)).To(HaveKeyWithValue("displayName", "Lab"))
	g.Expect(f.do(http.MethodGet, av("/subscriptions/nope"), "").code()).To(Equal("SubscriptionNotFound"))

	rg := "/subscriptions/sub1/resourcegroups/Team-A"
	g.Expect(f.do(http.MethodHead, av(rg), "").status).To(Equal(http.StatusNotFound))
	r := f.do(http.MethodPut, av(rg), `{"location":"westeurope","tags":{"owner":"platform"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(r.json(t)).To(And(HaveKeyWithValue("id", "/subscriptions/sub1/resourceGroups/Team-A"),
		HaveKeyWithValue("type", "Microsoft.Resources/resourceGroups"), HaveKeyWithValue("location", "westeurope")))
	// Case-insensitive, the first casing kept; an update keeps the location.
	g.Expect(f.do(http.MethodPut, av("/subscriptions/sub1/resourceGroups/team-a"), `{"location":"WestEurope"}`).status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodHead, av(rg), "").status).To(Equal(http.StatusNoContent))
	g.Expect(f.do(http.MethodGet, av("/subscriptions/sub1/resourceGroups/TEAM-A"), "").json(t)).To(HaveKeyWithValue("name", "Team-A"))
	f.do(http.MethodPut, av("/subscriptions/sub1/resourceGroups/b-team"), `{"location":"eastus"}`)
	f.do(http.MethodPut, av("/subscriptions/sub2/resourceGroups/lab"), `{"location":"eastus"}`)
	names := []string{}
	for _, v := range f.do(http.MethodGet, av("/subscriptions/sub1/resourceGroups"), "").json(t)["value"].([]any) {
		names = append(names, v.(map[string]any)["name"].(string))
	}
	g.Expect(names).To(Equal([]string{"b-team", "Team-A"}))

	// Bad input changes nothing.
	before := f.snapshot()
	bad := []struct{ path, body, code string }{
		{rg, `{"location":"eastus"}`, "InvalidResourceGroupLocation"},
		{"/subscriptions/sub1/resourceGroups/no-location", `{}`, "LocationRequired"},
		{"/subscriptions/sub1/resourceGroups/ends-with-dot.", `{"location":"eastus"}`, "InvalidResourceGroup"},
		{"/subscriptions/nope/resourceGroups/x", `{"location":"eastus"}`, "SubscriptionNotFound"},
		{"/subscriptions/sub1/resourceGroups/x", `{"location":"eastus","colour":"red"}`, "InvalidRequestContent"},
	}
	for _, b := range bad {
		g.Expect(f.do(http.MethodPut, av(b.path), b.body).code()).To(Equal(b.code), b.path)
	}
	g.Expect(f.snapshot()).To(Equal(before))

	// Deleting a group deletes its clusters and their configurations.
	cluster := "/subscriptions/sub1/resourceGroups/team-a/providers/Microsoft.Kubernetes/connectedClusters/c1"
	f.register(cluster)
	g.Expect(f.do(http.MethodPut, av(cluster+fluxPath+"/cfg"), example(t, "create-git.json")).status).To(Equal(http.StatusCreated))
	g.Expect(f.do(http.MethodDelete, av(rg), "").status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, av(rg), "").code()).To(Equal("ResourceGroupNotFound"))
	g.Expect(f.do(http.MethodGet, av(cluster), "").status).To(Equal(http.StatusNotFound))
	g.Expect(f.do(http.MethodDelete, av(rg), "").code()).To(Equal("ResourceGroupNotFound"))
}
