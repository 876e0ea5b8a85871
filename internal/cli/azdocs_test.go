package cli

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/internal/arm"
)

// Where the documented invocations come from.
const (
	docTutorial   = "learn.microsoft.com: Tutorial: Deploy applications using GitOps with Flux v2"
	docParameters = "learn.microsoft.com: GitOps (Flux v2) supported parameters"
	docCICD       = "learn.microsoft.com: Tutorial: Implement CI/CD with GitOps (Flux v2)"
	docReference  = "learn.microsoft.com: az k8s-configuration flux reference (examples of the extension's _help.py)"
	docExtTests   = "Azure/azure-cli-extensions: testing/test/configurations/FluxKustomization.Wait.Tests.ps1"
	docVSCode     = "microsoft/vscode-gitops-tools: suspend and resume of a source"
)

// azDoc is one az k8s-configuration flux invocation as Azure publishes it.
// args are what az receives after the shell (dependsOn=\["infra"\] arrives
// as dependsOn=[infra]); placeholders are filled with the names in
// azDocClusters, <Your organization> with contoso and a PAT with s3cr3t-pat.
//
// For a write, want is the request az sends: "METHOD rg/cluster/config",
// optionally "?forceDelete=true", and body, derived by hand from the
// extension's provider code (FluxConfigurationProvider.py, action.py,
// utils.py): a model attribute left None is not serialized, the CLI's
// defaults (scope cluster, namespace default, suspend false, bucket
// insecure false) always are. arcgitops must send the same, or the entry
// names the deliberate difference (README "Differences from Azure") and
// ours is what arcgitops sends instead.
//
// For a read, shape names what az prints (from the sample output in the
// tutorial): "config", "configs", "kustomizations" or "object".
type azDoc struct {
	source, args, stdin string
	want, body          string
	difference, ours    string
	shape               string
}

// azDocClusters are the clusters the invocations name, registered first.
var azDocClusters = [][2]string{
	{"flux-demo-rg", "flux-demo-arc"}, {"rg1", "cluster1"}, {"my-resource-group", "mycluster"}, {"myResourceGroup", "arc-cicd-cluster"},
}

const mt = "https://github.com/Azure/gitops-flux2-kustomize-helm-mt"

var azDocs = []azDoc{
	{source: docTutorial,
		args: "k8s-configuration flux create -g flux-demo-rg -c flux-demo-arc -n cluster-config --namespace cluster-config -t connectedClusters" +
			" --scope cluster -u " + mt + " --branch main --kustomization name=infra path=./infrastructure prune=true" +
			" --kustomization name=apps path=./apps/staging prune=true dependsOn=[infra]",
		want: "PUT flux-demo-rg/flux-demo-arc/cluster-config",
		body: `{"properties":{"scope":"cluster","namespace":"cluster-config","suspend":false,"sourceKind":"GitRepository",
			"gitRepository":{"url":"` + mt + `","repositoryRef":{"branch":"main"}},
			"kustomizations":{"infra":{"path":"./infrastructure","prune":true},"apps":{"path":"./apps/staging","prune":true,"dependsOn":["infra"]}}}}`},
	{source: docTutorial, args: "k8s-configuration flux show -g flux-demo-rg -c flux-demo-arc -n cluster-config -t connectedClusters", shape: "config"},
	{source: docTutorial, args: "k8s-configuration flux delete -g flux-demo-rg -c flux-demo-arc -n cluster-config -t connectedClusters --yes",
		want: "DELETE flux-demo-rg/flux-demo-arc/cluster-config"},

	{source: docParameters,
		args: "k8s-configuration flux create -g rg1 -c cluster1 -n config1 -t connectedClusters --scope cluster --namespace flux-config" +
			" -u https://github.com/Azure/arc-k8s-demo --kustomization name=kustomization1 --local-auth-ref my-custom-secret",
		want: "PUT rg1/cluster1/config1",
		body: `{"properties":{"scope":"cluster","namespace":"flux-config","suspend":false,"sourceKind":"GitRepository",
			"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","localAuthRef":"my-custom-secret"},"kustomizations":{"kustomization1":{}}}}`},

	{source: docReference,
		args: "k8s-configuration flux create --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters" +
			" --name myconfig --scope cluster --namespace my-namespace --kind git --url https://github.com/Azure/arc-k8s-demo" +
			" --branch main --kustomization name=my-kustomization",
		want: "PUT my-resource-group/mycluster/myconfig",
		body: `{"properties":{"scope":"cluster","namespace":"my-namespace","suspend":false,"sourceKind":"GitRepository",
			"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"}},"kustomizations":{"my-kustomization":{}}}}`},
	{source: docReference,
		args: "k8s-configuration flux update --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig" +
			" --url https://github.com/Azure/arc-k8s-demo --branch main --kustomization name=my-kustomization path=./my/new-path",
		want: "PATCH my-resource-group/mycluster/myconfig",
		body: `{"properties":{"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"}},
			"kustomizations":{"my-kustomization":{"path":"./my/new-path"}}}}`},
	{source: docReference, args: "k8s-configuration flux list --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters", shape: "configs"},
	{source: docReference, args: "k8s-configuration flux show --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig", shape: "config"},
	{source: docReference,
		args: "k8s-configuration flux kustomization create --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters" +
			" --name myconfig --kustomization-name my-kustomization-2 --path ./my/path --prune --force",
		want: "PATCH my-resource-group/mycluster/myconfig",
		body: `{"properties":{"kustomizations":{"my-kustomization-2":{"path":"./my/path","prune":true,"force":true,"wait":true}}}}`},
	{source: docReference,
		args: "k8s-configuration flux kustomization update --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters" +
			" --name myconfig --kustomization-name my-kustomization --path ./my/new-path --prune --force --disable-health-check",
		want: "PATCH my-resource-group/mycluster/myconfig",
		body: `{"properties":{"kustomizations":{"my-kustomization":{"path":"./my/new-path","prune":true,"force":true,"wait":false}}}}`},
	{source: docReference, args: "k8s-configuration flux kustomization list --resource-group my-resource-group --cluster-name mycluster --name myconfig --cluster-type connectedClusters", shape: "kustomizations"},
	{source: docReference, args: "k8s-configuration flux kustomization show --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig --kustomization-name my-kustomization", shape: "kustomizations"},
	{source: docReference, args: "k8s-configuration flux deployed-object list --resource-group my-resource-group --cluster-name mycluster --name myconfig --cluster-type connectedClusters", shape: "objects"},
	// my-object in my-namespace is the GitRepository of myconfig here.
	{source: docReference,
		args:  "k8s-configuration flux deployed-object show --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig --object-name myconfig --object-namespace my-namespace --object-kind GitRepository",
		shape: "object"},
	{source: docReference,
		args:  "k8s-configuration flux kustomization delete --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig --kustomization-name my-kustomization",
		stdin: "y\ny\n", want: "PATCH my-resource-group/mycluster/myconfig", body: `{"properties":{"kustomizations":{"my-kustomization":null}}}`},
	{source: docReference, args: "k8s-configuration flux delete --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig",
		stdin: "y\ny\n", want: "DELETE my-resource-group/mycluster/myconfig"},
	{source: docReference,
		args: "k8s-configuration flux create --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters" +
			" --name myconfig --scope cluster --namespace my-namespace --kind bucket --url https://bucket-provider.minio.io" +
			" --bucket-name my-bucket --kustomization name=my-kustomization --bucket-access-key my-access-key --bucket-secret-key my-secret-key",
		want: "PUT my-resource-group/mycluster/myconfig",
		body: `{"properties":{"scope":"cluster","namespace":"my-namespace","suspend":false,"sourceKind":"Bucket",
			"bucket":{"url":"https://bucket-provider.minio.io","bucketName":"my-bucket","accessKey":"my-access-key","insecure":false},
			"kustomizations":{"my-kustomization":{}},"configurationProtectedSettings":{"bucketSecretKey":"bXktc2VjcmV0LWtleQ=="}}}`},
	{source: docReference, args: "k8s-configuration flux update --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig --bucket-insecure",
		want: "PATCH my-resource-group/mycluster/myconfig", body: `{"properties":{"bucket":{"insecure":true}}}`},
	{source: docReference,
		args: "k8s-configuration flux create --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters" +
			" --name myconfig2 --scope cluster --namespace my-namespace --kind azblob --url https://mystorageaccount.blob.core.windows.net" +
			" --container-name my-container --kustomization name=my-kustomization --account-key my-account-key",
		want: "PUT my-resource-group/mycluster/myconfig2",
		body: `{"properties":{"scope":"cluster","namespace":"my-namespace","suspend":false,"sourceKind":"AzureBlob",
			"azureBlob":{"url":"https://mystorageaccount.blob.core.windows.net","containerName":"my-container","accountKey":"my-account-key"},
			"kustomizations":{"my-kustomization":{}}}}`},
	// The example names myconfig, which holds the bucket above here.
	{source: docReference, args: "k8s-configuration flux update --resource-group my-resource-group --cluster-name mycluster --cluster-type connectedClusters --name myconfig2 --container-name other-container",
		want: "PATCH my-resource-group/mycluster/myconfig2", body: `{"properties":{"azureBlob":{"containerName":"other-container"}}}`},

	{source: docCICD,
		args: "k8s-configuration flux create --name cluster-config --cluster-name arc-cicd-cluster --namespace cluster-config --resource-group myResourceGroup" +
			" -u https://dev.azure.com/contoso/gitops/_git/arc-cicd-demo-gitops --https-user azdo-user --https-key s3cr3t-pat --scope cluster" +
			" --cluster-type connectedClusters --branch master --kustomization name=cluster-config prune=true path=arc-cicd-cluster/manifests",
		want: "PUT myResourceGroup/arc-cicd-cluster/cluster-config",
		body: `{"properties":{"scope":"cluster","namespace":"cluster-config","suspend":false,"sourceKind":"GitRepository",
			"gitRepository":{"url":"https://dev.azure.com/contoso/gitops/_git/arc-cicd-demo-gitops","repositoryRef":{"branch":"master"},"httpsUser":"azdo-user"},
			"kustomizations":{"cluster-config":{"prune":true,"path":"arc-cicd-cluster/manifests"}},"configurationProtectedSettings":{"httpsKey":"czNjcjN0LXBhdA=="}}}`},
	{source: docCICD, args: "k8s-configuration flux delete --name cluster-config --cluster-name arc-cicd-cluster --resource-group myResourceGroup -t connectedClusters --yes",
		want: "DELETE myResourceGroup/arc-cicd-cluster/cluster-config"},
	{source: docCICD,
		args: "k8s-configuration flux create --name cluster-config --cluster-name arc-cicd-cluster --namespace cluster-config --resource-group myResourceGroup" +
			" -u https://github.com/contoso/arc-cicd-demo-gitops.git --https-user azdo-user --https-key s3cr3t-pat --scope cluster" +
			" --cluster-type connectedClusters --branch master --kustomization name=cluster-config prune=true path=arc-cicd-cluster/manifests",
		want: "PUT myResourceGroup/arc-cicd-cluster/cluster-config",
		body: `{"properties":{"scope":"cluster","namespace":"cluster-config","suspend":false,"sourceKind":"GitRepository",
			"gitRepository":{"url":"https://github.com/contoso/arc-cicd-demo-gitops.git","repositoryRef":{"branch":"master"},"httpsUser":"azdo-user"},
			"kustomizations":{"cluster-config":{"prune":true,"path":"arc-cicd-cluster/manifests"}},"configurationProtectedSettings":{"httpsKey":"czNjcjN0LXBhdA=="}}}`},

	{source: docExtTests,
		args: "k8s-configuration flux create -c cluster1 -g rg1 --cluster-type connectedClusters -u " + mt + " -n cluster-config --scope cluster" +
			" --namespace cluster-config --branch main --kustomization name=infra path=./infrastructure prune=true --no-wait",
		want: "PUT rg1/cluster1/cluster-config",
		body: `{"properties":{"scope":"cluster","namespace":"cluster-config","suspend":false,"sourceKind":"GitRepository",
			"gitRepository":{"url":"` + mt + `","repositoryRef":{"branch":"main"}},"kustomizations":{"infra":{"path":"./infrastructure","prune":true}}}}`},
	{source: docExtTests,
		args: "k8s-configuration flux update -c cluster1 -g rg1 --cluster-type connectedClusters -u " + mt + " -n cluster-config" +
			" --kustomization name=infra path=./infrastructure disable-health-check=true --no-wait",
		want: "PATCH rg1/cluster1/cluster-config",
		body: `{"properties":{"gitRepository":{"url":"` + mt + `"},"kustomizations":{"infra":{"path":"./infrastructure","wait":false}}}}`},
	{source: docExtTests,
		args: "k8s-configuration flux kustomization create -c cluster1 -g rg1 --cluster-type connectedClusters -n cluster-config --kustomization-name apps --path ./apps/staging --prune --no-wait",
		want: "PATCH rg1/cluster1/cluster-config", body: `{"properties":{"kustomizations":{"apps":{"path":"./apps/staging","prune":true,"wait":true}}}}`},
	{source: docExtTests,
		args: "k8s-configuration flux kustomization update -c cluster1 -g rg1 --cluster-type connectedClusters -n cluster-config --kustomization-name apps --path ./apps/staging --prune --disable-health-check --no-wait",
		want: "PATCH rg1/cluster1/cluster-config", body: `{"properties":{"kustomizations":{"apps":{"path":"./apps/staging","prune":true,"wait":false}}}}`},
	{source: docVSCode, args: "k8s-configuration flux update -n cluster-config --suspend true -g rg1 -c cluster1 -t connectedClusters",
		want: "PATCH rg1/cluster1/cluster-config", body: `{"properties":{"suspend":true,"gitRepository":{}}}`,
		difference: "az also sends the source's block, empty, on every update (a no-op)", ours: `{"properties":{"suspend":true}}`},
	{source: docVSCode, args: "k8s-configuration flux update -n cluster-config --suspend false -g rg1 -c cluster1 -t connectedClusters",
		want: "PATCH rg1/cluster1/cluster-config", body: `{"properties":{"suspend":false,"gitRepository":{}}}`,
		difference: "az also sends the source's block, empty, on every update (a no-op)", ours: `{"properties":{"suspend":false}}`},
	{source: docExtTests, args: "k8s-configuration flux delete -c cluster1 -g rg1 --cluster-type connectedClusters -n cluster-config --force",
		stdin: "y\ny\n", want: "DELETE rg1/cluster1/cluster-config?forceDelete=true"},
	{source: docExtTests,
		args: "k8s-configuration flux create -c cluster1 -g rg1 --cluster-type connectedClusters -u " + mt + " -n wait-config2 --scope cluster" +
			" --namespace wait-config2 --branch main --kustomization name=infra path=./infrastructure prune=true disable-health-check=true --no-wait",
		want: "PUT rg1/cluster1/wait-config2",
		body: `{"properties":{"scope":"cluster","namespace":"wait-config2","suspend":false,"sourceKind":"GitRepository",
			"gitRepository":{"url":"` + mt + `","repositoryRef":{"branch":"main"}},"kustomizations":{"infra":{"path":"./infrastructure","prune":true,"wait":false}}}}`},
	{source: docExtTests,
		args: "k8s-configuration flux kustomization create -c cluster1 -g rg1 --cluster-type connectedClusters -n wait-config2 --kustomization-name apps --path ./apps/staging --prune --disable-health-check --no-wait",
		want: "PATCH rg1/cluster1/wait-config2", body: `{"properties":{"kustomizations":{"apps":{"path":"./apps/staging","prune":true,"wait":false}}}}`},
	{source: docExtTests, args: "k8s-configuration flux delete -c cluster1 -g rg1 --cluster-type connectedClusters -n wait-config2 --force",
		stdin: "y\ny\n", want: "DELETE rg1/cluster1/wait-config2?forceDelete=true"},
}

// azShowKeys are the properties az prints for a configuration, a
// kustomization and a deployed object, from the tutorial's sample output.
var (
	azShowKeys = []string{"bucket", "complianceState", "configurationProtectedSettings", "errorMessage", "gitRepository", "id",
		"kustomizations", "name", "namespace", "provisioningState", "repositoryPublicKey", "resourceGroup", "scope", "sourceKind",
		"sourceSyncedCommitId", "sourceUpdatedAt", "statusUpdatedAt", "statuses", "suspend", "systemData", "type"}
	azGitKeys           = []string{"httpsCaCert", "httpsUser", "localAuthRef", "repositoryRef", "sshKnownHosts", "syncIntervalInSeconds", "timeoutInSeconds", "url"}
	azKustomizationKeys = []string{"dependsOn", "force", "name", "path", "prune", "retryIntervalInSeconds", "syncIntervalInSeconds", "timeoutInSeconds"}
	azObjectKeys        = []string{"appliedBy", "complianceState", "helmReleaseProperties", "kind", "name", "namespace", "statusConditions"}
)

// TestAzDocumentedInvocations is the golden table: every az k8s-configuration
// flux invocation Azure publishes (docs, CLI reference, its own tests)
// sends, through arcgitops with the same arguments, the request az sends,
// and prints what az prints.
func TestAzDocumentedInvocations(t *testing.T) {
	d := newTestDataPlane(t)
	for _, c := range azDocClusters {
		mustRun(t, d, "connectedk8s connect -n "+c[1]+" -g "+c[0]+" -l westeurope")
	}
	same, different := 0, 0
	for _, doc := range azDocs {
		if !runAzDoc(t, d, doc) {
			continue
		}
		if doc.difference != "" {
			different++
		} else {
			same++
		}
	}
	t.Logf("%d documented invocations: %d identical, %d deliberately different", len(azDocs), same, different)
	if len(azDocs) < 25 {
		t.Errorf("the golden table has %d invocations; the issue asks for at least 25", len(azDocs))
	}
}

// runAzDoc runs one invocation and checks it; false when it failed.
func runAzDoc(t *testing.T, d *testDataPlane, doc azDoc) bool {
	t.Helper()
	ok := true
	t.Run(doc.args, func(t *testing.T) {
		defer func() { ok = !t.Failed() }()
		code, stdout, stderr := runStdin(t, d, doc.stdin, append(args(doc.args), "-o", "json")...)
		writes := d.take()
		if code != 0 {
			t.Fatalf("exit %d\n%s\n(%s)", code, stderr, doc.source)
		}
		if strings.Contains(stdout+stderr, "s3cr3t-pat") || strings.Contains(stdout+stderr, "my-secret-key") || strings.Contains(stdout+stderr, "my-account-key") {
			t.Errorf("a secret was printed")
		}
		if doc.want == "" {
			if len(writes) != 0 {
				t.Errorf("a read sent writes: %+v", writes)
			}
			checkAzShape(t, doc.shape, stdout)
			return
		}
		checkAzWrite(t, doc, writes)
	})
	return ok
}

// runStdin is run with answers on standard input (az's confirmations).
func runStdin(t *testing.T, d *testDataPlane, stdin string, argv ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &App{Out: &out, Err: &errOut, In: strings.NewReader(stdin), ConfigDir: t.TempDir(), PollInterval: 10 * time.Millisecond,
		Getenv: func(k string) string {
			return map[string]string{"ARCGITOPS_DATAPLANE": d.url, "ARCGITOPS_CLIENT_ID": d.owner.AppID, "ARCGITOPS_CLIENT_SECRET": d.owner.Password}[k]
		}}
	return app.Run(argv), out.String(), errOut.String()
}

// checkAzWrite compares the one write sent with the one az sends.
func checkAzWrite(t *testing.T, doc azDoc, writes []recorded) {
	t.Helper()
	if len(writes) != 1 {
		t.Fatalf("sent %d writes, az sends one: %+v", len(writes), writes)
	}
	method, target, _ := strings.Cut(doc.want, " ")
	target, query, _ := strings.Cut(target, "?")
	parts := strings.Split(target, "/")
	path := "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/" + parts[0] + "/providers/" +
		arm.ConnectedClustersType + "/" + parts[1] + "/providers/" + arm.FluxConfigurationsType + "/" + parts[2]
	got, err := url.Parse(writes[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if writes[0].Method != method || got.Path != path {
		t.Errorf("sent %s %s, az sends %s %s", writes[0].Method, got.Path, method, path)
	}
	// az always sends forceDelete (false unless --force); absent is false.
	if want, _ := url.ParseQuery(query); got.Query().Get("forceDelete") != want.Get("forceDelete") {
		t.Errorf("forceDelete=%q, az sends %q", got.Query().Get("forceDelete"), want.Get("forceDelete"))
	}
	want := doc.body
	if doc.difference != "" {
		want = doc.ours
	}
	if want == "" {
		if len(writes[0].Body) != 0 {
			t.Errorf("sent a body, az sends none: %s", writes[0].Body)
		}
		return
	}
	if g, w := string(canonical(t, writes[0].Body)), string(canonical(t, []byte(want))); g != w {
		t.Errorf("the body differs from az's (%s):\n--- sent\n%s\n--- az\n%s", doc.source, g, w)
	}
}

// checkAzShape checks that what was printed has the keys az prints.
func checkAzShape(t *testing.T, shape, stdout string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	switch shape {
	case "config":
		checkAzConfig(t, v)
	case "configs":
		list, _ := v.([]any)
		if len(list) == 0 {
			t.Fatalf("az prints a list of configurations: %s", stdout)
		}
		for _, c := range list {
			checkAzConfig(t, c)
		}
	case "kustomizations":
		ks, _ := v.(map[string]any)
		if len(ks) == 0 {
			t.Fatalf("az prints kustomizations as a map keyed by name: %s", stdout)
		}
		for _, k := range ks {
			hasKeys(t, "kustomization", k, azKustomizationKeys)
		}
	case "objects":
		list, _ := v.([]any)
		if len(list) == 0 {
			t.Fatalf("az prints the deployed objects as a list: %s", stdout)
		}
		for _, o := range list {
			hasKeys(t, "deployed object", o, azObjectKeys)
		}
	case "object":
		hasKeys(t, "deployed object", v, azObjectKeys)
	}
}

func checkAzConfig(t *testing.T, v any) {
	t.Helper()
	hasKeys(t, "configuration", v, azShowKeys)
	c, _ := v.(map[string]any)
	if git, _ := c["gitRepository"].(map[string]any); git != nil {
		hasKeys(t, "gitRepository", git, azGitKeys)
	}
	ks, _ := c["kustomizations"].(map[string]any)
	for _, k := range ks {
		hasKeys(t, "kustomization", k, azKustomizationKeys)
	}
	statuses, _ := c["statuses"].([]any)
	for _, s := range statuses {
		hasKeys(t, "status", s, azObjectKeys)
	}
}

func hasKeys(t *testing.T, what string, v any, keys []string) {
	t.Helper()
	m, _ := v.(map[string]any)
	var missing []string
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		have := make([]string, 0, len(m))
		for k := range m {
			have = append(have, k)
		}
		slices.Sort(have)
		t.Errorf("az prints %s with %v; arcgitops lacks %v (it has %v)", what, keys, missing, have)
	}
}
