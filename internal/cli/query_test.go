package cli

import (
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
