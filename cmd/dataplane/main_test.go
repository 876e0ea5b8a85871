package main_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

const cluster = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1"

// buildDataplane builds this command into a temporary directory.
func buildDataplane(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dataplane")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the data plane (with more flags) and waits until /healthz
// answers.
func start(t *testing.T, bin, addr, dir string, flags ...string) *exec.Cmd {
	t.Helper()
	// 200 configurations in one cluster: over the default quota of 100.
	cmd := exec.Command(bin, append([]string{"--listen", addr, "--data-dir", dir, "--access-log=false", "--rate-limit=0", "--max-configurations-per-cluster=1000"}, flags...)...)
	// Its log goes to <dir>/dataplane.log (appended to by a restart), for
	// the tests to show when they fail.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "dataplane.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	cmd.Stdout, cmd.Stderr = io.Discard, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		hc, err := httpsClient(dir)
		if err != nil { // the CA is made on start
			time.Sleep(50 * time.Millisecond)
			continue
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr+"/healthz", nil)
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the data plane did not become healthy")
	return nil
}

// httpsClient trusts the local CA the data plane made in dir.
func httpsClient(dir string) (*http.Client, error) {
	cfg, err := tlsutil.ClientConfig(filepath.Join(dir, "tls", tlsutil.CAFile))
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

// ownerClient signs in as the owner the data plane made in dir.
func ownerClient(addr, dir string, hc *http.Client) *armclient.Client {
	c := &armclient.Client{BaseURL: "https://" + addr, APIVersion: arm.FluxConfigAPIVersion, HTTP: hc}
	if owner, err := dataplane.ReadCredentials(filepath.Join(dir, dataplane.OwnerCredentialsFile)); err == nil {
		c.Token = armclient.ClientCredentials(c.BaseURL+"/adfs/oauth2/token", owner.AppID, owner.Password, dataplane.DefaultAudience, hc)
	}
	return c
}

func put(addr, dir, path, body string) (int, error) {
	hc, err := httpsClient(dir)
	if err != nil {
		return 0, err
	}
	c := ownerClient(addr, dir, hc)
	resp, err := c.Put(context.Background(), path, []byte(body), nil)
	if resp == nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// TestAcknowledgedWritesSurviveKill9 streams writes, kills the process with
// SIGKILL right after the last acknowledgement, restarts it, and finds every
// acknowledged write: with the store in bbolt, and on etcd.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	bin := buildDataplane(t)
	t.Run("bolt", func(t *testing.T) { acknowledgedWritesSurvive(t, bin) })
	t.Run("etcd", func(t *testing.T) {
		endpoint, stop, err := storetest.Etcd(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		acknowledgedWritesSurvive(t, bin, "--store=etcd", "--etcd-endpoints="+endpoint, "--etcd-prefix=/hub-under-test/")
	})
}

func acknowledgedWritesSurvive(t *testing.T, bin string, flags ...string) {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := start(t, bin, addr, dir, flags...)

	if code, err := put(addr, dir, cluster, `{"location":"westeurope"}`); err != nil || code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, err)
	}
	body := `{"properties":{"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"}},` +
		`"kustomizations":{"apps":{"path":"./apps","syncIntervalInSeconds":%d}}}}`
	var acked []string
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("cfg-%03d", i)
		code, err := put(addr, dir, arm.FluxConfigID(cluster, name), fmt.Sprintf(body, 60+i))
		if err != nil {
			t.Fatalf("PUT %s: %v", name, err)
		}
		if code != http.StatusCreated {
			t.Fatalf("PUT %s: %d", name, code)
		}
		acked = append(acked, name)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = cmd.Process.Wait()

	start(t, bin, addr, dir, flags...)
	type config struct {
		Name       string `json:"name"`
		Properties struct {
			Kustomizations map[string]struct {
				SyncIntervalInSeconds int `json:"syncIntervalInSeconds"`
			} `json:"kustomizations"`
		} `json:"properties"`
	}
	hc, err := httpsClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := ownerClient(addr, dir, hc)
	configs, err := armclient.List[config](context.Background(), c, arm.FluxConfigID(cluster, ""))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, v := range configs {
		found[v.Name] = v.Properties.Kustomizations["apps"].SyncIntervalInSeconds
	}
	for i, name := range acked {
		if got, ok := found[name]; !ok || got != 60+i {
			t.Errorf("acknowledged write %s lost after SIGKILL (found=%v, interval=%d)", name, ok, got)
		}
	}
	t.Logf("%d acknowledged writes, %d found after SIGKILL and restart", len(acked), len(found))
	if _, err := os.Stat(filepath.Join(dir, "protected-settings.key")); err != nil {
		t.Errorf("key file: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, dataplane.OwnerCredentialsFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("owner credentials file: %v, %v; want mode 0600", info, err)
	}
}

// TestMigrateToEtcd: a data plane's bbolt store, copied into etcd by
// dataplane migrate, serves the same configurations from etcd; a second
// copy into the same prefix is refused.
func TestMigrateToEtcd(t *testing.T) {
	bin := buildDataplane(t)
	endpoint, stop, err := storetest.Etcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir, addr := t.TempDir(), freeAddr(t)
	cmd := start(t, bin, addr, dir)
	if code, err := put(addr, dir, cluster, `{"location":"westeurope"}`); err != nil || code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, err)
	}
	for i := range 3 {
		body := `{"properties":{"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"}},"kustomizations":{"apps":{"path":"./apps"}}}}`
		if code, err := put(addr, dir, arm.FluxConfigID(cluster, fmt.Sprintf("cfg-%d", i)), body); err != nil || code != http.StatusCreated {
			t.Fatalf("PUT: %d %v", code, err)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_, _ = cmd.Process.Wait()

	migrate := func() (string, error) {
		out, err := exec.CommandContext(t.Context(), bin, "migrate", "--from", dir, "--to", endpoint, "--etcd-prefix", "/migrated/").CombinedOutput()
		return string(out), err
	}
	out, err := migrate()
	if err != nil || !strings.Contains(out, "==> configs: 3 records") || !strings.Contains(out, "Copied and verified") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	start(t, bin, addr, dir, "--store=etcd", "--etcd-endpoints="+endpoint, "--etcd-prefix=/migrated/")
	hc, err := httpsClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	configs, err := armclient.List[map[string]any](context.Background(), ownerClient(addr, dir, hc), arm.FluxConfigID(cluster, ""))
	if err != nil || len(configs) != 3 {
		t.Fatalf("on etcd: %d configurations, %v; want 3", len(configs), err)
	}
	if out, err := migrate(); err == nil || !strings.Contains(out, "migrate into an empty prefix") {
		t.Fatalf("a second migration: %v\n%s", err, out)
	}
}

// TestReplicasShareKeys: two data planes on one etcd, each with a data
// directory of its own and the keys dataplane init-keys made: a token the
// first issued is good on the second, and protected settings sealed by the
// first reach an agent through the second.
func TestReplicasShareKeys(t *testing.T) {
	bin := buildDataplane(t)
	endpoint, stop, err := storetest.Etcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	shared := replicaFlags(t, bin, endpoint)
	// The second data directory does not exist yet: with the store on etcd,
	// nothing else makes it.
	dirA, dirB, addrA, addrB := t.TempDir(), filepath.Join(t.TempDir(), "new"), freeAddr(t), freeAddr(t)
	start(t, bin, addrA, dirA, shared...)
	start(t, bin, addrB, dirB, shared...)

	hcA, err := httpsClient(dirA)
	if err != nil {
		t.Fatal(err)
	}
	hcB, err := httpsClient(dirB)
	if err != nil {
		t.Fatal(err)
	}
	a := ownerClient(addrA, dirA, hcA) // the owner the first replica made
	var cl struct {
		Properties struct {
			AgentToken string `json:"agentToken"`
		} `json:"properties"`
	}
	if _, err := a.Put(context.Background(), cluster, []byte(`{"location":"westeurope"}`), &cl); err != nil {
		t.Fatal(err)
	}
	body := `{"properties":{"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"},"httpsUser":"bot"},` +
		`"kustomizations":{"apps":{"path":"./apps"}},"configurationProtectedSettings":{"httpsKey":"c2VjcmV0"}}}`
	if _, err := a.Put(context.Background(), arm.FluxConfigID(cluster, "private"), []byte(body), nil); err != nil {
		t.Fatal(err)
	}

	// The first replica's token, on the second.
	b := ownerClient(addrA, dirA, hcB) // signs in at the first replica...
	b.BaseURL = "https://" + addrB     // ...and calls the second
	b.Token = a.Token
	var got map[string]any
	if _, err := b.Get(context.Background(), arm.FluxConfigID(cluster, "private"), &got); err != nil {
		t.Fatalf("the first replica's token on the second: %v", err)
	}
	// The sealed settings, opened by the second replica for the agent.
	agent := &agentapi.Client{BaseURL: "https://" + addrB, ClusterID: cluster, Token: cl.Properties.AgentToken, HTTP: hcB}
	state, _, _, err := agent.List(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(state.Configurations) != 1 || state.Configurations[0].ProtectedSettings == nil ||
		state.Configurations[0].ProtectedSettings.Values["httpsKey"] != "c2VjcmV0" {
		t.Fatalf("the agent's state through the second replica: %+v", state.Configurations)
	}
}

// replicaFlags are the flags replicas on the etcd at endpoints share: keys
// dataplane init-keys made, and, as behind one load balancer, one issuer.
func replicaFlags(t *testing.T, bin, endpoints string) []string {
	t.Helper()
	keys := t.TempDir()
	if out, err := exec.CommandContext(t.Context(), bin, "init-keys", "--keys-dir", keys).CombinedOutput(); err != nil {
		t.Fatalf("init-keys: %v\n%s", err, out)
	}
	return []string{"--store=etcd", "--etcd-endpoints=" + endpoints, "--keys-dir=" + keys, "--token-issuer=https://hub.example.com/adfs"}
}

// TestStoreFlags: flags of the store that do not fit together are refused
// with what to give instead, before anything starts.
func TestStoreFlags(t *testing.T) {
	bin := buildDataplane(t)
	for _, tc := range []struct {
		flags []string
		says  string
	}{
		{[]string{"--store=mongo"}, `--store is bolt or etcd, not "mongo"`},
		{[]string{"--store=etcd"}, "--store=etcd needs --etcd-endpoints"},
		{[]string{"--etcd-endpoints=http://127.0.0.1:2379"}, "--etcd-endpoints needs --store=etcd"},
		{[]string{"--store=etcd", "--etcd-endpoints=http://127.0.0.1:2379", "--etcd-prefix=/hub"}, `--etcd-prefix "/hub" must end with /`},
		{[]string{"--store=etcd", "--etcd-endpoints=http://127.0.0.1:2379", "--etcd-cert-file=c.pem"}, "give --etcd-cert-file and --etcd-key-file together"},
		{[]string{"--remediation-claim-ttl=1s"}, "the remediation claim TTL 1s is too short: give at least 3s"},
	} {
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.flags...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.says) {
			t.Errorf("%v: %v, output lacks %q:\n%s", tc.flags, err, tc.says, out)
		}
	}
}

// TestRefusesPositionalArguments: a stray word on the command line (say, a
// CLI command typed into the wrong binary) is an error with the usage, not
// a data plane started on the default port.
func TestRefusesPositionalArguments(t *testing.T) {
	bin := buildDataplane(t)
	cmd := exec.CommandContext(t.Context(), bin, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "k8s-configuration", "flux", "create", "--help")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2\n%s", err, out)
	}
	for _, want := range []string{`unexpected argument "k8s-configuration"`, "-listen"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "Serving the data plane") {
		t.Error("it started serving")
	}
}

// TestPlainHTTPOnlyOnLoopback: --insecure-http is refused on an address
// other machines can reach.
func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	bin := buildDataplane(t)
	cmd := exec.CommandContext(t.Context(), bin, "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0", "--insecure-http")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--insecure-http is for tests on a loopback address") {
		t.Errorf("plain HTTP on every interface: %v\n%s", err, out)
	}
}

// TestInitOwner: the hub's owner is made in etcd before any replica
// starts; a replica then makes none of its own, and the credentials
// written sign in to it. A second owner, or an existing file, is refused.
func TestInitOwner(t *testing.T) {
	bin := buildDataplane(t)
	endpoint, stop, err := storetest.Etcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	creds := filepath.Join(t.TempDir(), "owner.json")
	initOwner := func(out string, extra ...string) (string, error) {
		b, err := exec.CommandContext(t.Context(), bin, append([]string{"init-owner", "--etcd-endpoints", endpoint, "--etcd-prefix", "/hub/", "--out", out}, extra...)...).CombinedOutput()
		return string(b), err
	}
	if out, err := initOwner(creds); err != nil || !strings.Contains(out, "Made the owner") {
		t.Fatalf("init-owner: %v\n%s", err, out)
	}
	if out, err := initOwner(creds); err == nil || !strings.Contains(out, "exists: give a new file") {
		t.Fatalf("init-owner over its own file: %v\n%s", err, out)
	}
	if out, err := initOwner(creds + ".2"); err == nil || !strings.Contains(out, "has an owner already") {
		t.Fatalf("a second owner: %v\n%s", err, out)
	}

	dir, addr := t.TempDir(), freeAddr(t)
	start(t, bin, addr, dir, "--store=etcd", "--etcd-endpoints="+endpoint, "--etcd-prefix=/hub/")
	if _, err := os.Stat(filepath.Join(dir, dataplane.OwnerCredentialsFile)); !os.IsNotExist(err) {
		t.Fatalf("the replica made an owner of its own: %v", err)
	}
	raw, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dataplane.OwnerCredentialsFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, err := put(addr, dir, cluster, `{"location":"westeurope"}`); err != nil || code != http.StatusCreated {
		t.Fatalf("register as the owner made by init-owner: %d %v", code, err)
	}
}
