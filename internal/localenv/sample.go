package localenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// SampleFiles are the sample repository of `make run`: a namespace, a
// ConfigMap in it, and a Helm chart in the repository released by a
// HelmRelease that takes the configuration's own GitRepository as its
// source (Azure's use-managed-source annotation). The HelmRelease lives in
// the configuration's namespace and places the release in demo, as
// multi-tenancy wants.
var SampleFiles = map[string]string{
	"infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
	"apps/configmap.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n  namespace: demo\ndata:\n  message: Hello from arcgitops\n",
	"apps/release.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
  namespace: sample
  annotations:
    clusterconfig.azure.com/use-managed-source: "true"
spec:
  interval: 1m
  targetNamespace: demo
  chart:
    spec:
      chart: ./charts/hello
  values:
    message: Hello from a Helm release
`,
	"charts/hello/Chart.yaml":  "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
	"charts/hello/values.yaml": "message: Hello from the chart\n",
	"charts/hello/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" +
		"data:\n  message: {{ .Values.message | quote }}\n",
}

// SampleReleaseConfigMap is the ConfigMap the sample's Helm release makes
// (in namespace demo; helm-controller names a release placed in another
// namespace <namespace>-<name>).
const SampleReleaseConfigMap = "demo-hello"

// CreateSample commits the sample repository to the Git server and
// creates its configuration, "sample" in namespace sample, through the
// CLI, as a user would. It writes the Git server's CA to dir.
func (e *Env) CreateSample(dir string) error {
	if _, err := e.Git.Commit("sample", SampleFiles, "sample"); err != nil {
		return fmt.Errorf("git server: %w", err)
	}
	caFile := filepath.Join(dir, "git-ca.pem")
	if err := os.WriteFile(caFile, e.Git.CACert, 0o644); err != nil {
		return err
	}
	out, err := e.CLI("k8s-configuration", "flux", "create", "-g", "local", "-c", "local", "-t", "connectedClusters",
		"-n", "sample", "--namespace", "sample", "-u", e.Git.HTTPSRepoURL("sample"), "--branch", "main",
		"--https-ca-cert-file", caFile, "--interval", "30s",
		"--kustomization", "name=infra", "path=./infra", "prune=true", "sync_interval=30s",
		"--kustomization", "name=apps", "path=./apps", "prune=true", "depends_on=infra", "sync_interval=30s", "-o", "none")
	if err != nil {
		return fmt.Errorf("CLI flux create: %w: %s", err, out)
	}
	return nil
}
