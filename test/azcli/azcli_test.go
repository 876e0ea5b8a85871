// Package azcli runs the stock az CLI, as Debian packages it, against the
// data plane: az registers it as a custom cloud (the way Azure Stack Hub is
// reached), signs in at its ADFS-shaped issuer, and drives resource groups,
// fluxConfigurations, role assignments and the activity log with core az
// commands no one here wrote.
//
// az is installed by hack/azure-cli.sh when it is missing (as root, with
// apt-get); without it the test fails with the reason, never skips.
package azcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/dataplanetest"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

const (
	sub     = "00000000-0000-0000-0000-000000000000"
	group   = "/subscriptions/" + sub + "/resourceGroups/rg1"
	cluster = group + "/providers/Microsoft.Kubernetes/connectedClusters/edge-1"
	config  = cluster + "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/cluster-config"
)

// hub is the data plane process the test drives.
type hub struct {
	url, dir, ca string
	owner        dataplane.Credentials
	log          *syncBuffer
}

// syncBuffer is the process's output, read while it writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startHub(t *testing.T) *hub {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dataplane")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../../cmd/dataplane").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	h := &hub{url: "https://" + addr, dir: t.TempDir(), log: &syncBuffer{}}
	h.ca = filepath.Join(h.dir, "tls", tlsutil.CAFile)
	cmd := exec.Command(bin, "--listen", addr, "--data-dir", h.dir)
	cmd.Stdout, cmd.Stderr = h.log, h.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the data plane did not start:\n%s", h.log)
		}
		cfg, err := tlsutil.ClientConfig(h.ca)
		if err != nil {
			continue
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.url+"/healthz", nil)
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			break
		}
	}
	if h.owner, err = dataplane.ReadCredentials(filepath.Join(h.dir, dataplane.OwnerCredentialsFile)); err != nil {
		t.Fatal(err)
	}
	return h
}

// profile is one az sign-in: its own AZURE_CONFIG_DIR.
type profile struct {
	t   *testing.T
	az  string
	env []string
	out *bytes.Buffer // everything az printed, for the secret check
}

func (h *hub) profile(t *testing.T, az string) *profile {
	t.Helper()
	return &profile{t: t, az: az, out: &bytes.Buffer{}, env: append(os.Environ(),
		"AZURE_CONFIG_DIR="+t.TempDir(),
		"REQUESTS_CA_BUNDLE="+h.ca,
		"AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CORE_NO_COLOR=true",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")}
}

// run runs az and returns what it printed; failed is whether it exited
// non-zero.
func (p *profile) run(args ...string) (stdout, stderr string, failed bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.az, args...)
	cmd.Env = p.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	p.out.WriteString(o.String() + e.String())
	return o.String(), e.String(), err != nil
}

// must runs az and fails the test when it fails.
func (p *profile) must(args ...string) string {
	p.t.Helper()
	out, errOut, failed := p.run(args...)
	if failed {
		shown := slices.Clone(args)
		for i := range shown {
			if i > 0 && shown[i-1] == "-p" {
				shown[i] = "<secret>"
			}
		}
		p.t.Fatalf("az %s failed:\n%s%s", strings.Join(shown, " "), out, errOut)
	}
	return out
}

// login points az at the hub and signs in as a service principal, as
// make run tells a user to.
func (p *profile) login(h *hub, appID, secret string) string {
	p.t.Helper()
	p.must("cloud", "register", "-n", "arcgitops-test",
		"--endpoint-resource-manager", h.url+"/",
		"--endpoint-active-directory", h.url,
		"--endpoint-active-directory-resource-id", arm.DefaultAudience,
		"--endpoint-active-directory-graph-resource-id", "https://graph.arcgitops.local/")
	p.must("cloud", "set", "-n", "arcgitops-test")
	return p.must("login", "--service-principal", "-u", appID, "-p", secret, "--tenant", "adfs")
}

func azPath(t *testing.T) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "bash", "../../hack/azure-cli.sh").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("the az CLI is needed and could not be installed: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func TestStockAzCLI(t *testing.T) {
	az := azPath(t)
	h := startHub(t)
	owner := h.profile(t, az)

	// az login lists the subscription.
	if out := owner.login(h, h.owner.AppID, h.owner.Password); !strings.Contains(out, sub) {
		t.Fatalf("az login listed no subscription:\n%s", out)
	}

	// Resource group, cluster, fluxConfiguration.
	owner.must("group", "create", "-n", "rg1", "-l", "eastus")
	if out := owner.must("group", "exists", "-n", "rg1"); strings.TrimSpace(out) != "true" {
		t.Errorf("az group exists: %s", out)
	}
	var registered struct {
		Properties struct {
			AgentToken string `json:"agentToken"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(owner.must("resource", "create", "--id", cluster, "--location", "eastus", "--properties", "{}", "--api-version", arm.ClusterAPIVersion)), &registered); err != nil || registered.Properties.AgentToken == "" {
		t.Fatalf("registering the cluster gave no agent token: %v", err)
	}
	// az waits for provisioningState to settle, as it does on Azure: the
	// cluster's agent (here its protocol, with the cluster's token) applies
	// and reports.
	cfg, err := tlsutil.ClientConfig(h.ca)
	if err != nil {
		t.Fatal(err)
	}
	dataplanetest.Agent(t, h.url, cluster, registered.Properties.AgentToken, &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: cfg}})
	example, err := os.ReadFile("../fixtures/azure-examples/create-git.json")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(example, &body); err != nil {
		t.Fatal(err)
	}
	props := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(props, body.Properties, 0o600); err != nil {
		t.Fatal(err)
	}
	owner.must("resource", "create", "--id", config, "--properties", "@"+props, "--api-version", arm.FluxConfigAPIVersion)
	var shown struct {
		Name       string `json:"name"`
		Properties struct {
			ComplianceState string               `json:"complianceState"`
			GitRepository   struct{ URL string } `json:"gitRepository"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(owner.must("resource", "show", "--id", config, "--api-version", arm.FluxConfigAPIVersion)), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Name != "cluster-config" || shown.Properties.GitRepository.URL != "https://github.com/Azure/arc-k8s-demo" || shown.Properties.ComplianceState != "Compliant" {
		t.Errorf("az resource show: %+v", shown)
	}

	// A PUT that does not wait (az rest: az 2.45's resource create has no
	// --no-wait), then az resource wait; a PATCH through az rest.
	second := strings.Replace(config, "cluster-config", "second-config", 1)
	full, err := json.Marshal(map[string]json.RawMessage{"properties": body.Properties})
	if err != nil {
		t.Fatal(err)
	}
	owner.must("rest", "--method", "put", "--url", second+"?api-version="+arm.FluxConfigAPIVersion, "--body", string(full))
	owner.must("resource", "wait", "--created", "--id", second, "--api-version", arm.FluxConfigAPIVersion, "--interval", "1", "--timeout", "60")
	owner.must("rest", "--method", "patch", "--url", second+"?api-version="+arm.FluxConfigAPIVersion, "--body", `{"properties":{"suspend":true}}`)
	owner.must("resource", "wait", "--updated", "--id", second, "--api-version", arm.FluxConfigAPIVersion, "--interval", "1", "--timeout", "60")
	var patched struct {
		Properties struct {
			Suspend           bool   `json:"suspend"`
			ProvisioningState string `json:"provisioningState"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(owner.must("resource", "show", "--id", second, "--api-version", arm.FluxConfigAPIVersion)), &patched); err != nil ||
		!patched.Properties.Suspend || patched.Properties.ProvisioningState != "Succeeded" {
		t.Errorf("after az rest PATCH and az resource wait: %+v (%v)", patched, err)
	}

	// A Reader of rg1, made by the owner with az role assignment create.
	reader := newPrincipal(t, h, "az-reader")
	owner.assignRole(reader.ObjectID, "acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", group)
	if out := owner.must("rest", "--method", "get", "--url", group+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"); !strings.Contains(out, reader.ObjectID) {
		t.Errorf("the role assignments of rg1 do not show the Reader:\n%s", out)
	}
	readerAz := h.profile(t, az)
	readerAz.login(h, reader.AppID, reader.Password)
	readerAz.must("resource", "show", "--id", config, "--api-version", arm.FluxConfigAPIVersion)
	_, errOut, failed := readerAz.run("resource", "delete", "--id", config, "--api-version", arm.FluxConfigAPIVersion, "--verbose")
	if !failed || !strings.Contains(errOut, "AuthorizationFailed") {
		t.Errorf("a Reader's delete: failed=%v\n%s", failed, errOut)
	}
	readerAz.must("resource", "show", "--id", config, "--api-version", arm.FluxConfigAPIVersion)

	// The owner deletes; the activity log tells who did what.
	owner.must("resource", "delete", "--id", config, "--api-version", arm.FluxConfigAPIVersion)
	var events []struct {
		Caller        string `json:"caller"`
		OperationName struct {
			Value string `json:"value"`
		} `json:"operationName"`
		Status struct {
			Value string `json:"value"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(owner.must("monitor", "activity-log", "list", "--resource-group", "rg1", "--offset", "1h")), &events); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		seen[fmt.Sprintf("%s %s %s", e.Caller, e.OperationName.Value, e.Status.Value)] = true
	}
	for _, want := range []string{
		reader.AppID + " Microsoft.KubernetesConfiguration/fluxConfigurations/delete Failed",
		h.owner.AppID + " Microsoft.KubernetesConfiguration/fluxConfigurations/delete Accepted",
		h.owner.AppID + " Microsoft.KubernetesConfiguration/fluxConfigurations/write Succeeded",
		h.owner.AppID + " Microsoft.Resources/subscriptions/resourceGroups/write Succeeded",
	} {
		if !seen[want] {
			t.Errorf("the activity log lacks %q; it has %v", want, seen)
		}
	}

	// The secrets went to the token endpoint only: not to the data plane's
	// log, nor into anything az printed.
	for _, secret := range []string{h.owner.Password, reader.Password} {
		if strings.Contains(h.log.String(), secret) || strings.Contains(owner.out.String(), secret) || strings.Contains(readerAz.out.String(), secret) {
			t.Error("a client secret appears in a log or in az's output")
		}
	}
}

// debianRoleBug is how az role commands of Debian 12's azure-cli 2.45 crash,
// before sending anything: its role module reads .config of the client that
// the azure-mgmt-authorization 3.0.0 Debian packages with it no longer has.
const debianRoleBug = "'RoleAssignmentsOperations' object has no attribute 'config'"

// assignRole gives objectID a role at scope with az role assignment create;
// where that command crashes with Debian's packaging bug, it sends the same
// request with az rest, the way az role would.
func (p *profile) assignRole(objectID, roleID, roleName, scope string) {
	p.t.Helper()
	out, errOut, failed := p.run("role", "assignment", "create", "--assignee-object-id", objectID,
		"--assignee-principal-type", "ServicePrincipal", "--role", roleName, "--scope", scope)
	switch {
	case !failed:
		return
	case !strings.Contains(errOut, debianRoleBug):
		p.t.Fatalf("az role assignment create failed:\n%s%s", out, errOut)
	}
	p.t.Logf("az role assignment create crashed in az itself (%s); sending its request with az rest", debianRoleBug)
	body := fmt.Sprintf(`{"properties":{"roleDefinitionId":"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":"%s","principalType":"ServicePrincipal"}}`, sub, roleID, objectID)
	p.must("rest", "--method", "put", "--url", scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", "--body", body)
}

// newPrincipal makes a service principal with a secret through the API, as
// the owner.
func newPrincipal(t *testing.T, h *hub, name string) dataplane.Credentials {
	t.Helper()
	cfg, err := tlsutil.ClientConfig(h.ca)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	c := &armclient.Client{BaseURL: h.url, HTTP: hc,
		Token: armclient.ClientCredentials(h.url+"/adfs/oauth2/token", h.owner.AppID, h.owner.Password, arm.DefaultAudience, hc)}
	var sp struct{ ID, AppID string }
	if _, err := c.Do(t.Context(), armclient.Request{Method: http.MethodPost, Path: "/v1.0/servicePrincipals", Body: map[string]string{"displayName": name}}, &sp); err != nil {
		t.Fatal(err)
	}
	var secret struct {
		SecretText string `json:"secretText"`
	}
	if _, err := c.Do(t.Context(), armclient.Request{Method: http.MethodPost, Path: "/v1.0/servicePrincipals/" + sp.ID + "/addPassword", Body: map[string]any{}}, &secret); err != nil {
		t.Fatal(err)
	}
	return dataplane.Credentials{AppID: sp.AppID, ObjectID: sp.ID, Password: secret.SecretText}
}
