package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

func (a *App) fluxCreate() *cobra.Command {
	var c clusterFlags
	var f sourceFlags
	var name string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a Flux v2 configuration on a cluster.",
		Example: `  arcgitops k8s-configuration flux create -g my-rg -c my-cluster -t connectedClusters -n cluster-config \
    --namespace cluster-config --scope cluster -u https://github.com/Azure/gitops-flux2-kustomize-helm-mt --branch main \
    --kustomization name=infra path=./infrastructure prune=true \
    --kustomization name=apps path=./apps/staging prune=true depends_on=infra`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.changed = cmd.Flags().Changed
			body, err := f.createBody(name)
			if err != nil {
				return err
			}
			path, err := a.fluxPath(&c, name)
			if err != nil {
				return err
			}
			var out map[string]any
			if _, err := a.call("PUT", path, body, &out); err != nil {
				return err
			}
			return a.print(out, fluxColumns)
		},
	}
	c.bind(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "Name of the flux configuration (1-30 lowercase letters, digits and '-').")
	_ = cmd.MarkFlagRequired("name")
	bindSourceFlags(cmd, &f, true)
	return cmd
}

// bindSourceFlags registers the source flags of create (all) or update.
func bindSourceFlags(cmd *cobra.Command, f *sourceFlags, create bool) {
	fl := cmd.Flags()
	if create {
		fl.StringVarP(&f.Scope, "scope", "s", "cluster", "Where the configuration may apply objects: cluster or namespace.")
		fl.StringVar(&f.Namespace, "namespace", "default", "Namespace the configuration and its Flux objects live in.")
		fl.StringVar(&f.Kind, "kind", "git", "Source kind: git, bucket, azblob or oci.")
		fl.StringArrayVar(&f.Kustomizations, "kustomization", nil, "A kustomization to create, as space-separated key=value pairs: name, path, depends_on (comma list), timeout, sync_interval, retry_interval, prune, force, disable_health_check. Repeat the flag for more; without it, one named kustomization-1 at the source root is created.")
		fl.BoolVar(&f.WaitForReconciliation, "wait-for-reconciliation", false, "Report the configuration as provisioned only once its kustomizations have reconciled.")
		fl.StringVar(&f.ReconciliationWaitDuration, "reconciliation-wait-duration", "", "How long to wait for reconciliation, e.g. 30m.")
		fl.StringVar(&f.BucketName, "bucket-name", "", "Name of the S3 bucket (kind bucket).")
		fl.StringVar(&f.ContainerName, "container-name", "", "Name of the Azure Blob container (kind azblob).")
		fl.StringVar(&f.SPClientID, "sp-client-id", "", "Client ID of the service principal that reads the blob container.")
		fl.StringVar(&f.SPTenantID, "sp-tenant-id", "", "Tenant ID of that service principal.")
		fl.BoolVar(&f.SPClientCertSendChain, "sp-client-cert-send-chain", false, "Send the certificate chain with the service principal's client certificate.")
		fl.StringVar(&f.MIClientID, "mi-client-id", "", "Client ID of the managed identity that reads the blob container.")
		fl.StringVar(&f.OCITag, "oci-tag", "", "Tag of the OCI artifact (default latest).")
		fl.StringVar(&f.OCISemver, "oci-semver", "", "Semver range of OCI artifact tags.")
		fl.StringVar(&f.OCIDigest, "oci-digest", "", "Digest of the OCI artifact.")
		fl.StringVar(&f.LayerMediaType, "layer-selector-media-type", "", "Media type of the OCI layer to use.")
		fl.StringVar(&f.LayerOperation, "layer-selector-operation", "", "What to do with that layer: extract or copy.")
		fl.BoolVar(&f.UseWorkloadIdentity, "use-workload-identity", false, "Authenticate to the OCI registry with the cluster's workload identity.")
		fl.StringVar(&f.ServiceAccountName, "service-account-name", "", "ServiceAccount whose image pull secrets authenticate to the OCI registry.")
		fl.StringVar(&f.TLSClientCert, "tls-client-certificate", "", "File with the PEM client certificate for mutual TLS to the OCI registry.")
		fl.StringVar(&f.TLSPrivateKey, "tls-private-key", "", "File with the PEM private key of that certificate.")
		fl.StringVar(&f.TLSCACert, "tls-ca-certificate", "", "File with the PEM CA certificate of the OCI registry.")
		fl.StringVar(&f.Provider, "provider", "", "Authentication provider of the Git repository: Azure, GitHub or Generic.")
	}
	fl.StringVarP(&f.URL, "url", "u", "", "URL of the source: https://, ssh:// or git@host:path for git; the endpoint for bucket and azblob; oci:// for oci.")
	fl.StringVar(&f.Branch, "branch", "", "Branch of the Git repository to sync.")
	fl.StringVar(&f.Tag, "tag", "", "Tag of the Git repository to sync.")
	fl.StringVar(&f.Semver, "semver", "", "Semver range of Git tags to sync the newest match of.")
	fl.StringVar(&f.Commit, "commit", "", "Commit SHA to sync (optionally with --branch).")
	fl.StringVar(&f.Interval, "interval", "", "Time between syncs of the source, e.g. 10m (default 10m).")
	fl.StringVar(&f.Interval, "sync-interval", "", "Alias of --interval.")
	fl.StringVar(&f.Timeout, "timeout", "", "Maximum time to sync the source, e.g. 10m (default 10m).")
	fl.StringVar(&f.SSHPrivateKey, "ssh-private-key", "", "Base64 of the PEM private key that reads the Git repository over SSH.")
	fl.StringVar(&f.SSHPrivateKeyFile, "ssh-private-key-file", "", "File with the PEM private key that reads the Git repository over SSH.")
	fl.StringVar(&f.KnownHosts, "known-hosts", "", "Base64 of the known_hosts of the SSH Git host (GitHub, GitLab, Bitbucket and Azure DevOps are built in).")
	fl.StringVar(&f.KnownHostsFile, "known-hosts-file", "", "File with the known_hosts of the SSH Git host.")
	fl.StringVar(&f.HTTPSUser, "https-user", "", "User name for a Git repository over HTTPS.")
	fl.StringVar(&f.HTTPSKey, "https-key", "", "Password or personal access token for a Git repository over HTTPS.")
	fl.StringVar(&f.HTTPSCACert, "https-ca-cert", "", "Base64 of the PEM CA certificate of the Git server.")
	fl.StringVar(&f.HTTPSCACertFile, "https-ca-cert-file", "", "File with the PEM CA certificate of the Git server.")
	fl.StringVar(&f.LocalAuthRef, "local-auth-ref", "", "Name of a Secret in the configuration's namespace with Flux's credentials, used instead of the credential flags.")
	fl.StringVar(&f.LocalAuthRef, "local-ref", "", "Alias of --local-auth-ref.")
	fl.BoolVar(&f.Suspend, "suspend", false, "Suspend reconciliation of the source and kustomizations.")
	fl.StringVar(&f.AccessKey, "bucket-access-key", "", "Access key ID of the S3 bucket.")
	fl.StringVar(&f.AccessKey, "access-key", "", "Alias of --bucket-access-key.")
	fl.StringVar(&f.SecretKey, "bucket-secret-key", "", "Secret access key of the S3 bucket.")
	fl.StringVar(&f.SecretKey, "secret-key", "", "Alias of --bucket-secret-key.")
	fl.BoolVar(&f.BucketInsecure, "bucket-insecure", false, "Allow plain HTTP to the bucket (or OCI registry).")
	fl.StringVar(&f.AccountKey, "account-key", "", "Shared key of the Azure storage account.")
	fl.StringVar(&f.SASToken, "sas-token", "", "SAS token of the Azure Blob container.")
	fl.StringVar(&f.SPClientSecret, "sp-client-secret", "", "Client secret of the service principal.")
	fl.StringVar(&f.SPClientCert, "sp-client-cert", "", "File with the service principal's client certificate (PEM or PFX).")
	fl.StringVar(&f.SPClientCertPassword, "sp-client-cert-password", "", "Password of that certificate.")
}

func (a *App) fluxUpdate() *cobra.Command {
	var c clusterFlags
	var f sourceFlags
	var name string
	cmd := &cobra.Command{
		Use:     "update",
		Short:   "Update a Flux v2 configuration: only the flags given change.",
		Example: `  arcgitops k8s-configuration flux update -g my-rg -c my-cluster -n cluster-config --interval 5m`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.changed = cmd.Flags().Changed
			path, err := a.fluxPath(&c, name)
			if err != nil {
				return err
			}
			var current struct {
				Properties struct {
					SourceKind v1alpha1.SourceKindType `json:"sourceKind"`
				} `json:"properties"`
			}
			// Flags are checked first; the GET only learns the source kind.
			if _, err := f.updateBody(v1alpha1.SourceKindGitRepository); err != nil {
				return err
			}
			if _, err := a.call("GET", path, nil, &current); err != nil {
				return err
			}
			body, err := f.updateBody(current.Properties.SourceKind)
			if err != nil {
				return err
			}
			var out map[string]any
			if _, err := a.call("PATCH", path, body, &out); err != nil {
				return err
			}
			return a.print(out, fluxColumns)
		},
	}
	c.bind(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "Name of the flux configuration.")
	_ = cmd.MarkFlagRequired("name")
	bindSourceFlags(cmd, &f, false)
	return cmd
}

func (a *App) fluxShow() *cobra.Command {
	var c clusterFlags
	var name string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a Flux v2 configuration, with its compliance and status.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&c, name)
			if err != nil {
				return err
			}
			var out map[string]any
			if _, err := a.call("GET", path, nil, &out); err != nil {
				return err
			}
			return a.print(out, fluxColumns)
		},
	}
	c.bind(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "Name of the flux configuration.")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (a *App) fluxList() *cobra.Command {
	var c clusterFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the Flux v2 configurations of a cluster.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&c, "")
			if err != nil {
				return err
			}
			var all []map[string]any
			for next := path; next != ""; {
				var page struct {
					Value    []map[string]any `json:"value"`
					NextLink string           `json:"nextLink"`
				}
				if _, err := a.call("GET", next, nil, &page); err != nil {
					return err
				}
				all = append(all, page.Value...)
				next = ""
				if page.NextLink != "" {
					next = pathOf(page.NextLink)
				}
			}
			if all == nil {
				all = []map[string]any{}
			}
			return a.print(all, fluxColumns)
		},
	}
	c.bind(cmd)
	return cmd
}

// pathOf returns the path and query of a nextLink, which is sent to the
// data plane the CLI talks to.
func pathOf(link string) string {
	if u, err := url.Parse(link); err == nil && u.Path != "" {
		return u.RequestURI()
	}
	return link
}

func (a *App) fluxDelete() *cobra.Command {
	var c clusterFlags
	var name string
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a Flux v2 configuration; the cluster removes its objects first.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&c, name)
			if err != nil {
				return err
			}
			if err := a.confirm(yes, "delete flux configuration "+name); err != nil {
				return err
			}
			if force {
				path += "?forceDelete=true"
			}
			status, err := a.call("DELETE", path, nil, nil)
			if err != nil {
				return err
			}
			if status == 202 {
				a.warn("deletion of %s started: the cluster removes its objects, then the configuration disappears", name)
			}
			return nil
		},
	}
	c.bind(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "Name of the flux configuration.")
	_ = cmd.MarkFlagRequired("name")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation.")
	cmd.Flags().BoolVar(&force, "force", false, "Delete the configuration from the data plane without waiting for the cluster to clean up.")
	return cmd
}

// ---- kustomizations ----

func (a *App) kustomizationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "kustomization", Short: "Manage the kustomizations of a Flux v2 configuration."}
	cmd.AddCommand(a.kustomizationWrite("create"), a.kustomizationWrite("update"), a.kustomizationDelete(),
		a.kustomizationList(), a.kustomizationShow())
	return cmd
}

type kustomizationFlags struct {
	clusterFlags
	Config, Name, Path, Depends, Timeout, SyncInterval, RetryInterval string
	Prune, Force, DisableHealthCheck                                  bool
}

func (k *kustomizationFlags) bind(cmd *cobra.Command, withSpec bool) {
	k.clusterFlags.bind(cmd)
	cmd.Flags().StringVarP(&k.Config, "name", "n", "", "Name of the flux configuration.")
	cmd.Flags().StringVarP(&k.Name, "kustomization-name", "k", "", "Name of the kustomization.")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("kustomization-name")
	if !withSpec {
		return
	}
	fl := cmd.Flags()
	fl.StringVar(&k.Path, "path", "", "Path in the source to apply (default: its root).")
	fl.StringVar(&k.Depends, "depends", "", "Comma-separated kustomizations that must be ready before this one.")
	fl.StringVar(&k.Depends, "depends-on", "", "Alias of --depends.")
	fl.StringVar(&k.Timeout, "timeout", "", "Maximum time to apply, e.g. 10m (default 10m).")
	fl.StringVar(&k.SyncInterval, "sync-interval", "", "Time between applies, e.g. 10m (default 10m).")
	fl.StringVar(&k.SyncInterval, "interval", "", "Alias of --sync-interval.")
	fl.StringVar(&k.RetryInterval, "retry-interval", "", "Time before a failed apply is retried, e.g. 1m.")
	fl.BoolVar(&k.Prune, "prune", false, "Delete the objects this kustomization applied when they leave the source.")
	fl.BoolVar(&k.Force, "force", false, "Recreate objects whose immutable fields changed.")
	fl.BoolVar(&k.DisableHealthCheck, "disable-health-check", false, "Do not wait for the applied objects to become ready.")
}

// spec turns the flags into a kustomizationSpec, keeping what was given.
func (k *kustomizationFlags) spec(changed func(string) bool) (*kustomizationSpec, error) {
	var parts []string
	parts = append(parts, "name="+k.Name)
	add := func(flag, key, val string) {
		if changed(flag) {
			parts = append(parts, key+"="+val)
		}
	}
	add("path", "path", k.Path)
	add("depends", "depends_on", k.Depends)
	add("depends-on", "depends_on", k.Depends)
	add("timeout", "timeout", k.Timeout)
	add("sync-interval", "sync_interval", k.SyncInterval)
	add("interval", "sync_interval", k.SyncInterval)
	add("retry-interval", "retry_interval", k.RetryInterval)
	add("prune", "prune", fmt.Sprint(k.Prune))
	add("force", "force", fmt.Sprint(k.Force))
	add("disable-health-check", "disable_health_check", fmt.Sprint(k.DisableHealthCheck))
	for _, p := range parts {
		if len(p) > 0 && p[len(p)-1] == '=' && p != "depends_on=" && p != "path=" {
			return nil, usagef("--%s needs a value", p[:len(p)-1])
		}
	}
	return parseKustomization(joinWords(parts))
}

func joinWords(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "\x00"
		}
		out += p
	}
	return out
}

func (a *App) kustomizationWrite(verb string) *cobra.Command {
	var k kustomizationFlags
	cmd := &cobra.Command{
		Use:   verb,
		Short: map[string]string{"create": "Add a kustomization to a Flux v2 configuration.", "update": "Change a kustomization of a Flux v2 configuration: only the flags given change."}[verb],
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := k.spec(cmd.Flags().Changed)
			if err != nil {
				return err
			}
			path, err := a.fluxPath(&k.clusterFlags, k.Config)
			if err != nil {
				return err
			}
			var current struct {
				Properties struct {
					Kustomizations map[string]json.RawMessage `json:"kustomizations"`
				} `json:"properties"`
			}
			if _, err := a.call("GET", path, nil, &current); err != nil {
				return err
			}
			_, exists := current.Properties.Kustomizations[k.Name]
			switch {
			case verb == "create" && exists:
				return usagef("kustomization %s already exists in %s: use kustomization update", k.Name, k.Config)
			case verb == "update" && !exists:
				return &apiError{status: 404, code: "ResourceNotFound", message: fmt.Sprintf("kustomization %s does not exist in %s: use kustomization create", k.Name, k.Config)}
			}
			body := map[string]any{"properties": map[string]any{"kustomizations": map[string]any{
				k.Name: kustomizationJSON(spec, verb == "update"),
			}}}
			var out map[string]any
			if _, err := a.call("PATCH", path, body, &out); err != nil {
				return err
			}
			return a.printKustomizations(out, k.Name)
		},
	}
	k.bind(cmd, true)
	return cmd
}

func (a *App) kustomizationDelete() *cobra.Command {
	var k kustomizationFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Remove a kustomization from a Flux v2 configuration (its objects are pruned if it prunes).",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&k.clusterFlags, k.Config)
			if err != nil {
				return err
			}
			if err := a.confirm(yes, "delete kustomization "+k.Name); err != nil {
				return err
			}
			body := map[string]any{"properties": map[string]any{"kustomizations": map[string]any{k.Name: nil}}}
			_, err = a.call("PATCH", path, body, nil)
			return err
		},
	}
	k.bind(cmd, false)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation.")
	return cmd
}

func (a *App) kustomizationList() *cobra.Command {
	var c clusterFlags
	var config string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the kustomizations of a Flux v2 configuration.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&c, config)
			if err != nil {
				return err
			}
			var out map[string]any
			if _, err := a.call("GET", path, nil, &out); err != nil {
				return err
			}
			return a.printKustomizations(out, "")
		},
	}
	c.bind(cmd)
	cmd.Flags().StringVarP(&config, "name", "n", "", "Name of the flux configuration.")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (a *App) kustomizationShow() *cobra.Command {
	var k kustomizationFlags
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show one kustomization of a Flux v2 configuration.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&k.clusterFlags, k.Config)
			if err != nil {
				return err
			}
			var out map[string]any
			if _, err := a.call("GET", path, nil, &out); err != nil {
				return err
			}
			return a.printKustomizations(out, k.Name)
		},
	}
	k.bind(cmd, false)
	return cmd
}

// printKustomizations prints the kustomizations of a configuration: all
// (a list) or the one named only (an object).
func (a *App) printKustomizations(cfg map[string]any, only string) error {
	props, _ := cfg["properties"].(map[string]any)
	ks, _ := props["kustomizations"].(map[string]any)
	names := make([]string, 0, len(ks))
	for n := range ks {
		names = append(names, n)
	}
	sort.Strings(names)
	if only != "" {
		k, ok := ks[only]
		if !ok {
			return &apiError{status: 404, code: "ResourceNotFound", message: "kustomization " + only + " does not exist"}
		}
		return a.print(k, kustomizationColumns)
	}
	list := make([]any, 0, len(names))
	for _, n := range names {
		list = append(list, ks[n])
	}
	return a.print(list, kustomizationColumns)
}

// ---- deployed objects ----

func (a *App) deployedObjectCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deployed-object", Short: "Show the Flux objects a configuration deployed, as the cluster reported them."}
	list := func() *cobra.Command {
		var c clusterFlags
		var config string
		cmd := &cobra.Command{
			Use:   "list",
			Short: "List the objects deployed by a Flux v2 configuration, with their compliance.",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				statuses, err := a.statuses(&c, config)
				if err != nil {
					return err
				}
				return a.print(statuses, objectColumns)
			},
		}
		c.bind(cmd)
		cmd.Flags().StringVarP(&config, "name", "n", "", "Name of the flux configuration.")
		_ = cmd.MarkFlagRequired("name")
		return cmd
	}()
	show := func() *cobra.Command {
		var c clusterFlags
		var config, objName, objNS, objKind string
		cmd := &cobra.Command{
			Use:   "show",
			Short: "Show one object deployed by a Flux v2 configuration.",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				statuses, err := a.statuses(&c, config)
				if err != nil {
					return err
				}
				i := slices.IndexFunc(statuses, func(s map[string]any) bool {
					return s["name"] == objName && s["namespace"] == objNS && s["kind"] == objKind
				})
				if i < 0 {
					return &apiError{status: 404, code: "ResourceNotFound", message: fmt.Sprintf("%s %s/%s is not among the objects of %s", objKind, objNS, objName, config)}
				}
				return a.print(statuses[i], objectColumns)
			},
		}
		c.bind(cmd)
		cmd.Flags().StringVarP(&config, "name", "n", "", "Name of the flux configuration.")
		cmd.Flags().StringVar(&objName, "object-name", "", "Name of the object.")
		cmd.Flags().StringVar(&objNS, "object-namespace", "", "Namespace of the object.")
		cmd.Flags().StringVar(&objKind, "object-kind", "", "Kind of the object: GitRepository, Bucket, OCIRepository, Kustomization or HelmRelease.")
		for _, f := range []string{"name", "object-name", "object-namespace", "object-kind"} {
			_ = cmd.MarkFlagRequired(f)
		}
		return cmd
	}()
	cmd.AddCommand(list, show)
	return cmd
}

func (a *App) statuses(c *clusterFlags, config string) ([]map[string]any, error) {
	path, err := a.fluxPath(c, config)
	if err != nil {
		return nil, err
	}
	var out struct {
		Properties struct {
			Statuses []map[string]any `json:"statuses"`
		} `json:"properties"`
	}
	if _, err := a.call("GET", path, nil, &out); err != nil {
		return nil, err
	}
	if out.Properties.Statuses == nil {
		return []map[string]any{}, nil
	}
	return out.Properties.Statuses, nil
}

// ---- connectedk8s ----

func (a *App) connectedk8sCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "connectedk8s", Short: "Register clusters with the data plane (as Azure Arc does)."}
	var name, rg, location, tokenFile string
	connect := &cobra.Command{
		Use:   "connect",
		Short: "Register a cluster and store its agent token; prints how to start the agent.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := a.connectedPath(rg, name)
			var out map[string]any
			status, err := a.call("PUT", path+"?api-version=2024-01-01", map[string]any{"location": location}, &out)
			if err != nil {
				return err
			}
			props, _ := out["properties"].(map[string]any)
			token, _ := props["agentToken"].(string)
			delete(props, "agentToken")
			if status == 201 && token != "" {
				file, err := a.storeToken(tokenFile, rg, name, token)
				if err != nil {
					return err
				}
				id, _ := out["id"].(string)
				if !a.onlyErrors {
					fmt.Fprintf(a.Err, "Cluster %s registered. Its agent token is in %s (mode 0600).\nStart the agent in the cluster with:\n"+
						"  manager --dataplane-url %s --cluster-resource-id %s --agent-token-file %s\n"+
						"or with Helm:\n  helm install fluxconfig charts/fluxconfig -n flux-system --set agent.dataplaneURL=%s --set agent.clusterResourceID=%s --set-file agent.token=%s\n",
						name, file, a.dataplane, id, file, a.dataplane, id, file)
				}
			} else {
				a.warn("cluster %s was already registered: its agent token is unchanged", name)
			}
			return a.print(out, clusterColumns)
		},
	}
	connect.Flags().StringVarP(&name, "name", "n", "", "Name of the cluster.")
	connect.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	connect.Flags().StringVarP(&location, "location", "l", "", "Location (region) of the cluster.")
	connect.Flags().StringVar(&tokenFile, "agent-token-file", "", "Where to store the agent token (default: <user config dir>/arcgitops/tokens/<resource-group>_<name>.token).")
	_ = connect.MarkFlagRequired("name")
	_ = connect.MarkFlagRequired("resource-group")

	show := &cobra.Command{
		Use:   "show",
		Short: "Show a registered cluster.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var out map[string]any
			if _, err := a.call("GET", a.connectedPath(rg, name), nil, &out); err != nil {
				return err
			}
			return a.print(out, clusterColumns)
		},
	}
	show.Flags().StringVarP(&name, "name", "n", "", "Name of the cluster.")
	show.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	_ = show.MarkFlagRequired("name")
	_ = show.MarkFlagRequired("resource-group")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the registered clusters of a resource group.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var out struct {
				Value []map[string]any `json:"value"`
			}
			path := "/subscriptions/" + a.subscription + "/resourceGroups/" + rg + "/providers/Microsoft.Kubernetes/connectedClusters"
			if _, err := a.call("GET", path+"?api-version=2024-01-01", nil, &out); err != nil {
				return err
			}
			if out.Value == nil {
				out.Value = []map[string]any{}
			}
			return a.print(out.Value, clusterColumns)
		},
	}
	list.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	_ = list.MarkFlagRequired("resource-group")

	var yes bool
	del := &cobra.Command{
		Use:   "delete",
		Short: "Unregister a cluster and delete its configurations from the data plane.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := a.confirm(yes, "delete cluster "+name+" and its configurations"); err != nil {
				return err
			}
			_, err := a.call("DELETE", a.connectedPath(rg, name)+"?api-version=2024-01-01", nil, nil)
			return err
		},
	}
	del.Flags().StringVarP(&name, "name", "n", "", "Name of the cluster.")
	del.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	del.Flags().BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation.")
	_ = del.MarkFlagRequired("name")
	_ = del.MarkFlagRequired("resource-group")

	cmd.AddCommand(connect, show, list, del)
	return cmd
}

func (a *App) connectedPath(rg, name string) string {
	return "/subscriptions/" + a.subscription + "/resourceGroups/" + rg + "/providers/Microsoft.Kubernetes/connectedClusters/" + name
}

// storeToken writes the agent token to a 0600 file and returns its path.
func (a *App) storeToken(path, rg, name, token string) (string, error) {
	if path == "" {
		dir := a.ConfigDir
		if dir == "" {
			d, err := os.UserConfigDir()
			if err != nil {
				return "", fmt.Errorf("cannot find a config directory for the token: %w (set --agent-token-file)", err)
			}
			dir = d
		}
		path = filepath.Join(dir, "arcgitops", "tokens", rg+"_"+name+".token")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot store the agent token in %s: %w", path, err)
	}
	return path, nil
}
