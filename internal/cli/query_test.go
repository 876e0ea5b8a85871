package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestQuery: --query is JMESPath over the output, as az's, in every format;
// a bad expression is a command line mistake (exit 2, nothing sent).
func TestQuery(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	mustRun(t, d, createSSH)
	mustRun(t, d, "k8s-configuration flux create "+cluster+" -n second --namespace second --scope namespace"+
		" -u https://github.com/Azure/arc-k8s-demo --branch main")
	list := "k8s-configuration flux list " + cluster
	for _, tc := range []struct{ args, want string }{
		{"k8s-configuration flux show " + cluster + " -n second --query scope", "\"namespace\"\n"},
		{list + " --query [].name -o tsv", "cluster-config\nsecond\n"},
		{list + " --query length(@) -o tsv", "2\n"},
		{list + " --query [?scope=='cluster'].name -o json", "[\n  \"cluster-config\"\n]\n"},
		{list + " --query [].{n:name,s:scope} -o table", "n               s\n-               -\ncluster-config  cluster\nsecond          namespace\n"},
		{list + " --query [0].{n:name,s:scope} -o tsv", "cluster-config\tcluster\n"},
	} {
		code, out, stderr := run(t, d, strings.Fields(tc.args)...)
		if code != 0 || out != tc.want {
			t.Errorf("%s: exit %d, printed %q, want %q (%s)", tc.args, code, out, tc.want, stderr)
		}
	}
	before := d.requests()
	code, _, stderr := run(t, d, append(strings.Fields(list), "--query", "[?name==")...)
	if code != 2 || !strings.Contains(stderr, "is not a JMESPath expression") || d.requests() != before {
		t.Errorf("a bad query: exit %d, %s, %d requests sent", code, stderr, d.requests()-before)
	}
}

func TestThreeStateFlags(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"flux update --suspend false -n x", "flux update --suspend=false -n x"},
		{"flux update --suspend True", "flux update --suspend=true"},
		{"flux update --prune yes --force no", "flux update --prune=true --force=false"},
		{"flux update --suspend -n x", "flux update --suspend -n x"},
		{"flux update --suspend", "flux update --suspend"},
		{"flux update -n false --suspend", "flux update -n false --suspend"},
	} {
		if got := strings.Join(joinThreeState(strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSuspendFalse: "--suspend false", as az scripts write it, sends
// suspend: false.
func TestSuspendFalse(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	mustRun(t, d, createSSH)
	update := "k8s-configuration flux update " + cluster + " -n cluster-config --suspend "
	for _, v := range []string{"true", "false"} {
		if code, _, stderr := run(t, d, args(update+v)...); code != 0 {
			t.Fatalf("--suspend %s: %s", v, stderr)
		}
		w := d.take()
		if len(w) != 1 || !strings.Contains(string(w[0].Body), `"suspend": `+v) {
			t.Errorf("--suspend %s sent %+v", v, w)
		}
	}
}

// TestWaitsForTheCluster: writes wait, as az's, until the cluster has
// applied them (the operation ends), and --no-wait returns at once.
func TestWaitsForTheCluster(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	create := "k8s-configuration flux create " + cluster + " -u https://github.com/Azure/arc-k8s-demo --branch main -n "
	code, out, stderr := run(t, d, args(create+"waited")...)
	if code != 0 || !strings.Contains(stderr, " - Running ..") || !strings.Contains(out, `"provisioningState": "Succeeded"`) {
		t.Errorf("create: exit %d, stderr %q, output %s", code, stderr, out)
	}
	code, _, stderr = run(t, d, args(create+"not-waited --no-wait")...)
	if code != 0 || strings.Contains(stderr, "Running") {
		t.Errorf("create --no-wait: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, d, args("k8s-configuration flux delete "+cluster+" -n waited --yes")...)
	if code != 0 || !strings.Contains(stderr, " - Running ..") {
		t.Errorf("delete: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ = run(t, d, args("k8s-configuration flux show "+cluster+" -n waited")...); code != 3 {
		t.Errorf("after a waited delete the configuration is gone: show exits %d, want 3", code)
	}
}

// TestUpdateSendsEveryFlag: update flags that update used to drop ("nothing
// to update") reach the body, and one that the source kind does not have
// is refused instead of dropped.
func TestUpdateSendsEveryFlag(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	mustRun(t, d, "k8s-configuration flux create "+cluster+" -n bkt --kind bucket -u https://s3.amazonaws.com --bucket-name my-bucket --bucket-access-key OLD --bucket-secret-key s")
	mustRun(t, d, "k8s-configuration flux create "+cluster+" -n git -u https://github.com/Azure/arc-k8s-demo --branch main")
	for _, tc := range []struct{ name, flags, want string }{
		{"bkt", "--bucket-insecure --bucket-access-key NEW", `"accessKey": "NEW",`},
		{"bkt", "--bucket-insecure false", `"insecure": false`},
		{"git", "--https-ca-cert Y2E=", `"httpsCACert": "Y2E="`},
	} {
		code, _, stderr := run(t, d, args("k8s-configuration flux update "+cluster+" -n "+tc.name+" "+tc.flags)...)
		w := d.take()
		if code != 0 || len(w) != 1 || !strings.Contains(string(w[0].Body), tc.want) {
			t.Errorf("update %s %s: exit %d %s, sent %+v", tc.name, tc.flags, code, stderr, w)
		}
	}
	code, _, stderr := run(t, d, args("k8s-configuration flux update "+cluster+" -n git --bucket-insecure")...)
	if code != 2 || !strings.Contains(stderr, "--bucket-insecure does not apply to this configuration's GitRepository source") || len(d.take()) != 0 {
		t.Errorf("a bucket flag on a git configuration: exit %d, %s", code, stderr)
	}

	// --kind changes the source kind, after a confirmation.
	swap := "k8s-configuration flux update " + cluster + " -n git --kind bucket -u https://minio.example.com --bucket-name configs --bucket-access-key AK --bucket-secret-key SK"
	if code, _, stderr := run(t, d, args(swap)...); code != 2 || !strings.Contains(stderr, "pass --yes") || len(d.take()) != 0 {
		t.Errorf("a kind change without an answer: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, d, args(swap+" --yes")...)
	w := d.take()
	if code != 0 || len(w) != 1 {
		t.Fatalf("kind change: exit %d %s, sent %+v", code, stderr, w)
	}
	var body struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(w[0].Body, &body); err != nil || body.Properties["sourceKind"] != "Bucket" ||
		fmt.Sprint(body.Properties["gitRepository"]) != "map[]" || body.Properties["bucket"].(map[string]any)["bucketName"] != "configs" {
		t.Errorf("kind change sends the new kind, its block and the others empty, as az: %s", w[0].Body)
	}
	code, out, _ := run(t, d, args("k8s-configuration flux show "+cluster+" -n git --query sourceKind -o tsv")...)
	if code != 0 || strings.TrimSpace(out) != "Bucket" {
		t.Errorf("after the kind change: %d %q", code, out)
	}
}

// TestAzFlagNames: az's names and aliases of flags are taken as az takes
// them.
func TestAzFlagNames(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	for _, tc := range []struct{ args, want string }{
		{"k8s-configuration flux create " + cluster + " -n a1 --ns team-a -u https://github.com/o/r --branch main -k name=apps path=./apps --no-wait",
			`"namespace": "team-a"`},
		{"k8s-configuration flux create " + cluster + " -n a2 -u https://github.com/o/r --branch main -k name=apps path=./apps --no-wait",
			`"apps": {`},
		{"k8s-configuration flux create " + cluster + " -n a3 --kind oci -u oci://ghcr.io/o/manifests --tag v1 --no-wait",
			`"tag": "v1"`},
		{"k8s-configuration flux create " + cluster + " -n a4 --kind oci -u oci://ghcr.io/o/manifests --oci-digest sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --no-wait",
			`"digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"`},
		{"k8s-configuration flux create " + cluster + " -n a5 --kind azblob -u https://acct.blob.core.windows.net --container-name configs" +
			" --service-principal-client-id cid --sp-tenant-id tid --sp-client-cert testdata/id_test_key --service-principal-client-certificate-password pw --no-wait",
			`"clientCertificatePassword": "pw"`},
		{"k8s-configuration flux update " + cluster + " -n a1 --interval 3m --yes --cluster-rp Microsoft.Kubernetes --no-wait",
			`"syncIntervalInSeconds": 180`},
	} {
		code, _, stderr := run(t, d, args(tc.args)...)
		w := d.take()
		if code != 0 || len(w) != 1 || !strings.Contains(string(w[0].Body), tc.want) {
			t.Errorf("%s: exit %d %s, sent %+v", tc.args, code, stderr, w)
		}
	}
	code, _, stderr := run(t, d, args("k8s-configuration flux show "+cluster+" -n a1 --cluster-rp Microsoft.ContainerService")...)
	if code != 2 || !strings.Contains(stderr, "does not go with --cluster-type connectedClusters") {
		t.Errorf("a provider that does not match the cluster type: exit %d, %s", code, stderr)
	}
}

// TestOCIFlags: the OCI source's flags, by az's names, reach the body;
// verification flags without a provider are refused before any request.
func TestOCIFlags(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	base := args("k8s-configuration flux create " + cluster + " -n oci1 --kind oci -u oci://ghcr.io/o/manifests --tag v1 --no-wait")
	argv := append(base, "--oci-insecure", "--oci-media-type", "application/vnd.cncf.flux.content.v1.tar+gzip", "--oci-operation", "extract",
		"--verification-provider", "cosign", "--verification-config", "cosign.pub=cHVi",
		"--match-oidc-identity", "issuer=^https://token.actions.githubusercontent.com$ subject=^https://github.com/o/.*$")
	code, _, stderr := run(t, d, argv...)
	w := d.take()
	if code != 0 || len(w) != 1 {
		t.Fatalf("exit %d %s, sent %+v", code, stderr, w)
	}
	for _, want := range []string{`"insecure": true`, `"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip"`, `"operation": "extract"`,
		`"provider": "cosign"`, `"cosign.pub": "cHVi"`, `"issuer": "^https://token.actions.githubusercontent.com$"`} {
		if !strings.Contains(string(w[0].Body), want) {
			t.Errorf("the body lacks %s: %s", want, w[0].Body)
		}
	}
	code, _, stderr = run(t, d, append(base[:len(base)-1], "-n", "oci2", "--verification-config", "cosign.pub=cHVi")...)
	if code != 2 || !strings.Contains(stderr, "need --verification-provider") || len(d.take()) != 0 {
		t.Errorf("verification config without a provider: exit %d, %s", code, stderr)
	}
}
