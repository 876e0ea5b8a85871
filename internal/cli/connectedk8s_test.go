package cli

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestConnectStoresTheTokenAndSaysHowToStartTheAgent(t *testing.T) {
	d := newTestDataPlane(t)
	tokenFile := t.TempDir() + "/agent.token"
	code, stdout, stderr := run(t, d, args("connectedk8s connect -n cluster1 -g rg1 -l westeurope --agent-token-file "+tokenFile)...)
	if code != 0 {
		t.Fatalf("connect: %d %s", code, stderr)
	}
	for _, want := range []string{"--agent-token-file " + tokenFile, "--cluster-resource-id /subscriptions/"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("connect does not say how to start the agent (%q):\n%s", want, stderr)
		}
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil || len(strings.TrimSpace(string(token))) < 20 {
		t.Fatalf("the agent token was not stored: %v", err)
	}
	if fi, _ := os.Stat(tokenFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(stdout, strings.TrimSpace(string(token))) {
		t.Error("the agent token is printed with the cluster")
	}
	writes := d.take()
	if len(writes) != 1 || writes[0].Method != http.MethodPut || !strings.HasSuffix(writes[0].Path, "/connectedClusters/cluster1?api-version=2024-01-01") {
		t.Errorf("connect sent %+v", writes)
	}

	// Connecting again keeps the token.
	code, _, stderr = run(t, d, args("connectedk8s connect -n cluster1 -g rg1 --agent-token-file "+tokenFile)...)
	again, _ := os.ReadFile(tokenFile)
	if code != 0 || !strings.Contains(stderr, "already registered") || string(again) != string(token) {
		t.Errorf("a second connect: exit %d, %q, token kept %v", code, stderr, string(again) == string(token))
	}
	code, out, _ := run(t, d, args("connectedk8s list -g rg1 -o tsv")...)
	if code != 0 || !strings.HasPrefix(out, "cluster1\twesteurope\tSucceeded\tMicrosoft.Kubernetes/connectedClusters") {
		t.Errorf("list: %d %q", code, out)
	}
	code, _, _ = run(t, d, args("connectedk8s delete -n cluster1 -g rg1 --yes")...)
	if code != 0 {
		t.Errorf("delete: %d", code)
	}
	code, _, stderr = run(t, d, args("connectedk8s show -n cluster1 -g rg1")...)
	if code != 3 || !strings.Contains(stderr, "ResourceNotFound") {
		t.Errorf("show after delete: exit %d, %q", code, stderr)
	}
}
