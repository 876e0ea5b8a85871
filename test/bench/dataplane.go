package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/google/uuid"
)

// dataPlane is a running data plane process and an ARM client for it.
type dataPlane struct {
	*proc
	url, pprof string
	arm        *armclient.Client
	// owner is the owner the data plane made at its first start; arm signs
	// in as it.
	owner dataplane.Credentials
	hc    *http.Client
}

// startDataPlane runs the data plane with its store in dir (or where extra
// flags say), without rate limits or access log (the bench is one client sending as fast as it can),
// over plain HTTP on loopback so that its figures compare with earlier runs.
func startDataPlane(o options, dir string, extra ...string) (*dataPlane, error) {
	d, err := startReplica(o, dir, extra...)
	if err != nil {
		return nil, err
	}
	owner, err := dataplane.ReadCredentials(filepath.Join(dir, "dataplane-data", dataplane.OwnerCredentialsFile))
	if err != nil {
		d.stop()
		return nil, err
	}
	d.owner = owner
	d.arm = d.clientAs(owner.AppID, owner.Password)
	return d, nil
}

// startReplica runs a data plane as startDataPlane does, without signing
// in: another replica of a hub whose owner the first one made.
func startReplica(o options, dir string, extra ...string) (*dataPlane, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--listen=" + addr, "--data-dir=" + filepath.Join(dir, "dataplane-data"),
		"--rate-limit=0", "--access-log=false", "--pprof-bind-address=" + pprofAddr,
		// Plain HTTP on loopback, as the measures were taken before TLS.
		"--insecure-http",
		// The capacity measure registers tens of thousands of clusters; the
		// round trip puts every sample in one cluster.
		"--max-clusters-per-subscription=1000000", "--max-configurations-per-cluster=100000"}
	p, err := start(dir, "dataplane", o.dataplane, nil, append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	d := &dataPlane{proc: p, url: "http://" + addr, pprof: "http://" + pprofAddr + "/debug/pprof/", hc: &http.Client{Timeout: 2 * time.Minute}}
	if err := waitHTTP(p, d.url+"/healthz"); err != nil {
		p.stop()
		return nil, err
	}
	return d, nil
}

// clientAs is an ARM client signed in as appID.
func (d *dataPlane) clientAs(appID, secret string) *armclient.Client {
	return &armclient.Client{BaseURL: d.url, APIVersion: arm.FluxConfigAPIVersion, HTTP: d.hc,
		Token: armclient.ClientCredentials(d.url+"/adfs/oauth2/token", appID, secret, dataplane.DefaultAudience, d.hc)}
}

// principal makes a service principal with a secret and gives it the role
// (a role definition GUID) at scope.
func (d *dataPlane) principal(name, roleID, scope string) (dataplane.Credentials, error) {
	var sp struct{ ID, AppID string }
	if err := d.call(http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"displayName": name}, &sp); err != nil {
		return dataplane.Credentials{}, err
	}
	var secret struct {
		SecretText string `json:"secretText"`
	}
	if err := d.call(http.MethodPost, "/v1.0/servicePrincipals/"+sp.ID+"/addPassword", map[string]any{}, &secret); err != nil {
		return dataplane.Credentials{}, err
	}
	body := map[string]any{"properties": map[string]string{"principalId": sp.ID,
		"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + roleID}}
	if err := d.call(http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", body, nil); err != nil {
		return dataplane.Credentials{}, err
	}
	return dataplane.Credentials{AppID: sp.AppID, ObjectID: sp.ID, Password: secret.SecretText}, nil
}

// clusterPath is the ARM ID of bench cluster name.
func clusterPath(name string) string {
	return arm.ClusterID("00000000-0000-0000-0000-000000000000", "bench", arm.ConnectedClustersType, name)
}

// call sends an ARM request and decodes a JSON answer into out (when not nil).
func (d *dataPlane) call(method, path string, body, out any) error {
	_, err := d.arm.Do(context.Background(), armclient.Request{Method: method, Path: path, Body: body}, out)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// register registers a cluster and writes its agent token to a file under
// dir, returning the file's path.
func (d *dataPlane) register(dir, name string) (tokenFile, token string, err error) {
	var out struct {
		Properties struct {
			AgentToken string `json:"agentToken"`
		} `json:"properties"`
	}
	if err := d.call(http.MethodPut, clusterPath(name)+"?api-version="+arm.ClusterAPIVersion, map[string]any{"location": "bench"}, &out); err != nil {
		return "", "", err
	}
	if out.Properties.AgentToken == "" {
		return "", "", fmt.Errorf("registering cluster %s returned no agent token", name)
	}
	tokenFile = filepath.Join(dir, name+".token")
	return tokenFile, out.Properties.AgentToken, os.WriteFile(tokenFile, []byte(out.Properties.AgentToken), 0o600)
}

func configPath(cluster, name string) string {
	return arm.FluxConfigID(clusterPath(cluster), name)
}

// armConfig is an ARM body: HTTPS Git source, one Kustomization at ./apps.
func armConfig(namespace string) map[string]any {
	return map[string]any{"properties": map[string]any{
		"scope": "cluster", "namespace": namespace, "sourceKind": "GitRepository",
		"gitRepository":  map[string]any{"url": "https://github.com/org/fleet", "repositoryRef": map[string]any{"branch": "main"}},
		"kustomizations": map[string]any{"apps": map[string]any{"path": "./apps"}},
	}}
}

// complianceState reads a configuration's complianceState through ARM.
func (d *dataPlane) complianceState(cluster, name string) (string, error) {
	var out struct {
		Properties struct {
			ComplianceState string `json:"complianceState"`
		} `json:"properties"`
	}
	err := d.call(http.MethodGet, configPath(cluster, name), nil, &out)
	return out.Properties.ComplianceState, err
}

// freshDataPlane starts a data plane of its own for a measure, in a new
// directory; stopAndRemove ends it and removes the directory.
func freshDataPlane(o options, measure string) (*dataPlane, string, error) {
	dir, err := os.MkdirTemp("", "arcgitops-bench-"+measure+"-")
	if err != nil {
		return nil, "", err
	}
	d, err := startDataPlane(o, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return d, dir, nil
}

func (d *dataPlane) stopAndRemove(dir string) {
	d.stop()
	os.RemoveAll(dir)
}
