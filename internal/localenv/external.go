package localenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

// External is an existing cluster to attach to, as a user's: Flux already
// runs in it; the Git server and the data plane run on this machine at
// Host, and the operator is installed with its Helm chart, then removed.
type External struct {
	// Kubeconfig is the cluster's kubeconfig file (its current context).
	Kubeconfig string
	// Host is this machine's address as the cluster's pods reach it (for
	// kind: the Docker network's gateway); the Git server and the data
	// plane listen there.
	Host string
	// ReceiverAddr is notification-controller's webhook receiver as this
	// machine reaches it (a port-forward); empty when it cannot.
	ReceiverAddr string
	// Helm is the helm binary, Chart the operator's chart directory.
	Helm, Chart string
	// Image is the manager's image (repository:tag) for the cluster's
	// kubelets to run. Empty: the cluster has no kubelets (the make run
	// environment), and the chart's Deployment is run on this machine as
	// its pod would run: the container's arguments and environment, its
	// mounted Secret and ConfigMap files, and a token of its
	// ServiceAccount, so that the chart's RBAC is what it runs with.
	Image string
	// ClusterScopeNamespaces are where cluster-scope configurations may be
	// placed (the chart's multiTenancy.clusterScopeNamespaces).
	ClusterScopeNamespaces []string
}

const (
	// releaseName and releaseNamespace are where the chart is installed.
	releaseName      = "fluxconfig"
	releaseNamespace = "flux-system"
	// leaseName is the manager's leader election Lease.
	leaseName = "fluxconfig-manager.clusterconfig.azure.com"
	// applierBinding is the ClusterRoleBinding of cluster-scope appliers.
	applierBinding = "flux-applier-binding"
	fluxConfigCRD  = "fluxconfigs.clusterconfig.azure.com"
)

// attached is what Cleanup needs: what the cluster held before.
type attached struct {
	o          External
	cfg        *rest.Config
	namespaces map[string]bool
	configs    map[client.ObjectKey]bool
	had        map[string]bool // fluxConfigCRD, applierBinding, leaseName
	installed  bool
	cleaned    bool
}

// attach connects e to o.External's cluster, starts the Git server and the
// data plane on its Host, and installs the chart.
func (e *Env) attach(ctx context.Context, o Options) error {
	x := *o.External
	if x.Host == "" || x.Helm == "" || x.Chart == "" {
		return errors.New("attaching to a cluster needs the address it reaches this machine at, helm and the chart")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", x.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", x.Kubeconfig, err)
	}
	if e.Client, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", x.Kubeconfig, err)
	}
	e.Kubeconfig = x.Kubeconfig
	e.step("Attaching to the cluster at %s", cfg.Host)
	if err := fluxInstalled(e.Client); err != nil {
		return err
	}
	if out, err := e.helm(x, "status", releaseName); err == nil {
		return fmt.Errorf("the cluster already has the operator's chart installed (Helm release %s/%s): run the suite on a cluster without it\n%s",
			releaseNamespace, releaseName, out)
	}
	a := &attached{o: x, cfg: cfg, namespaces: map[string]bool{}, configs: map[client.ObjectKey]bool{}, had: map[string]bool{}}
	if err := a.snapshot(ctx, e.Client); err != nil {
		return err
	}
	e.external = a
	e.ReceiverAddr = x.ReceiverAddr

	if err := e.startHub(ctx, o, x.Host); err != nil {
		return err
	}

	e.step("Installing the operator's chart with Helm (release %s/%s)", releaseNamespace, releaseName)
	args := []string{"install", releaseName, x.Chart, "--create-namespace",
		"--set", "agent.dataplaneURL=" + e.DataPlaneURL, "--set", "agent.clusterResourceID=" + ClusterID,
		"--set-file", "agent.token=" + e.TokenFile, "--set-file", "agent.caCert=" + e.DataPlaneCAFile,
		"--set", "multiTenancy.clusterScopeNamespaces={" + strings.Join(x.ClusterScopeNamespaces, ",") + "}"}
	if x.Image != "" {
		repo, tag, ok := strings.Cut(x.Image, ":")
		if !ok {
			return fmt.Errorf("image %q: give repository:tag", x.Image)
		}
		args = append(args, "--set", "image.repository="+repo, "--set", "image.tag="+tag, "--set", "image.pullPolicy=IfNotPresent",
			"--wait", "--timeout", "5m")
	}
	a.installed = true // a failed install may have left objects: Cleanup uninstalls
	if out, err := e.helm(x, args...); err != nil {
		return fmt.Errorf("helm install: %w\n%s", err, out)
	}
	if x.Image == "" {
		return e.runDeployment(ctx, a)
	}
	return nil
}

// helm runs helm against the attached cluster, in the release's namespace.
func (e *Env) helm(x External, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, x.Helm, append(args, "--namespace", releaseNamespace, "--kubeconfig", x.Kubeconfig)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fluxInstalled says which of Flux's kinds the suite needs the cluster
// lacks, and how to install them.
func fluxInstalled(c client.Client) error {
	var missing []string
	for _, gk := range []schema.GroupKind{
		{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository"}, {Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"},
		{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease"}, {Group: "notification.toolkit.fluxcd.io", Kind: "Alert"},
	} {
		if _, err := c.RESTMapper().RESTMapping(gk); meta.IsNoMatchError(err) {
			missing = append(missing, gk.Kind)
		} else if err != nil {
			return fmt.Errorf("looking up %s: %w", gk.Kind, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("flux is not installed in the cluster (no %s): install source-, kustomize-, helm- and notification-controller first, "+
			"e.g. flux install --components=source-controller,kustomize-controller,helm-controller,notification-controller (test/e2e/kind.sh does)",
			strings.Join(missing, ", "))
	}
	return nil
}

// snapshot records what the cluster holds before the suite, so that
// Cleanup removes only what the suite made.
func (a *attached) snapshot(ctx context.Context, c client.Client) error {
	var nss corev1.NamespaceList
	if err := c.List(ctx, &nss); err != nil {
		return fmt.Errorf("listing namespaces: %w", err)
	}
	for _, ns := range nss.Items {
		a.namespaces[ns.Name] = true
	}
	for name, obj := range namedObjects() {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("looking up %s: %w", name, err)
		}
		a.had[name] = err == nil
	}
	if a.had[fluxConfigCRD] {
		var fcs v1alpha1.FluxConfigList
		if err := c.List(ctx, &fcs); err != nil {
			return fmt.Errorf("listing FluxConfigs: %w", err)
		}
		for _, fc := range fcs.Items {
			a.configs[client.ObjectKeyFromObject(&fc)] = true
		}
	}
	return nil
}

// namedObjects are the cluster-wide objects the suite may bring by name:
// the CRD the chart installs, the binding the operator makes and the
// manager's Lease, keyed by name.
func namedObjects() map[string]client.Object {
	return map[string]client.Object{
		fluxConfigCRD:  &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: fluxConfigCRD}},
		applierBinding: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: applierBinding}},
		leaseName:      &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: leaseName}},
	}
}

// runDeployment runs the chart's Deployment on this machine, as a kubelet
// would run its pod.
func (e *Env) runDeployment(ctx context.Context, a *attached) error {
	var deps appsv1.DeploymentList
	if err := e.Client.List(ctx, &deps, client.InNamespace(releaseNamespace),
		client.MatchingLabels{"app.kubernetes.io/instance": releaseName}); err != nil {
		return err
	}
	if len(deps.Items) != 1 {
		return fmt.Errorf("the chart made %d Deployments, want 1", len(deps.Items))
	}
	pod := deps.Items[0].Spec.Template.Spec
	ctr := pod.Containers[0]
	e.step("Running Deployment %s/%s's pod here (no kubelets): as ServiceAccount %s, with the chart's arguments",
		releaseNamespace, deps.Items[0].Name, pod.ServiceAccountName)
	root := filepath.Join(e.Dir, "pod")

	mounts := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			return fmt.Errorf("volume %s is not in the pod", m.Name)
		}
		files, err := volumeFiles(ctx, e.Client, releaseNamespace, pod.Volumes[i])
		if err != nil {
			return err
		}
		dir := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				return err
			}
		}
		mounts[m.MountPath] = dir
	}

	kubeconfig, err := a.serviceAccountKubeconfig(ctx, pod.ServiceAccountName, root)
	if err != nil {
		return err
	}
	env := []string{"KUBECONFIG=" + kubeconfig}
	for _, v := range ctr.Env {
		value, err := envValue(ctr, v)
		if err != nil {
			return err
		}
		env = append(env, v.Name+"="+value)
	}
	ports := map[int32]string{}
	for _, p := range ctr.Ports {
		if ports[p.ContainerPort], err = freePort(); err != nil {
			return err
		}
	}
	if err := e.startProc("manager", e.Bins.Manager, env, podArgs(ctr.Args, mounts, ports)...); err != nil {
		return err
	}
	probe := ctr.ReadinessProbe
	if probe == nil || probe.HTTPGet == nil {
		return nil
	}
	port := probe.HTTPGet.Port.IntVal
	for _, p := range ctr.Ports {
		if p.Name == probe.HTTPGet.Port.StrVal {
			port = p.ContainerPort
		}
	}
	return e.waitHTTP(ctx, "manager", "http://"+ports[port]+probe.HTTPGet.Path)
}

// serviceAccountKubeconfig writes a kubeconfig that signs in as the
// ServiceAccount with a token of its own (the TokenRequest API, as the
// kubelet mounts one), and returns its path.
func (a *attached) serviceAccountKubeconfig(ctx context.Context, sa, dir string) (string, error) {
	cs, err := kubernetes.NewForConfig(a.cfg)
	if err != nil {
		return "", err
	}
	hours := int64(6 * 3600)
	tok, err := cs.CoreV1().ServiceAccounts(releaseNamespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hours}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("a token for ServiceAccount %s/%s: %w", releaseNamespace, sa, err)
	}
	caData := a.cfg.CAData
	if len(caData) == 0 && a.cfg.CAFile != "" {
		if caData, err = os.ReadFile(a.cfg.CAFile); err != nil {
			return "", err
		}
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cluster"] = &clientcmdapi.Cluster{Server: a.cfg.Host, CertificateAuthorityData: caData}
	kc.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["sa"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "sa", Namespace: releaseNamespace}
	kc.CurrentContext = "sa"
	path := filepath.Join(dir, "kubeconfig")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return path, clientcmd.WriteToFile(*kc, path)
}

// volumeFiles are the files a Secret or ConfigMap volume mounts.
func volumeFiles(ctx context.Context, c client.Client, ns string, v corev1.Volume) (map[string][]byte, error) {
	data := map[string][]byte{}
	var items []corev1.KeyToPath
	switch {
	case v.Secret != nil:
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: v.Secret.SecretName}, s); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		data, items = s.Data, v.Secret.Items
	case v.ConfigMap != nil:
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: v.ConfigMap.Name}, cm); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		for k, s := range cm.Data {
			data[k] = []byte(s)
		}
		items = v.ConfigMap.Items
	default:
		return nil, fmt.Errorf("volume %s: only Secret and ConfigMap volumes can be run here", v.Name)
	}
	if len(items) == 0 {
		return data, nil
	}
	out := map[string][]byte{}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("volume %s: no key %s", v.Name, it.Key)
		}
		out[it.Path] = b
	}
	return out, nil
}

// envValue resolves a container's environment variable as the kubelet does
// for the sources the chart uses.
func envValue(ctr corev1.Container, v corev1.EnvVar) (string, error) {
	switch {
	case v.ValueFrom == nil:
		return v.Value, nil
	case v.ValueFrom.ResourceFieldRef != nil:
		ref := v.ValueFrom.ResourceFieldRef
		var q = ctr.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(ref.Resource, "limits."))]
		if strings.HasPrefix(ref.Resource, "requests.") {
			q = ctr.Resources.Requests[corev1.ResourceName(strings.TrimPrefix(ref.Resource, "requests."))]
		}
		if q.IsZero() {
			return "", fmt.Errorf("env %s: the container sets no %s (a kubelet would give the node's capacity)", v.Name, ref.Resource)
		}
		return strconv.FormatInt(q.Value(), 10), nil
	case v.ValueFrom.FieldRef != nil && v.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
		return releaseNamespace, nil
	}
	return "", fmt.Errorf("env %s: its source cannot be resolved here", v.Name)
}

// podArgs are a container's arguments for a process on this machine:
// paths under a mount moved to where its files were written, and ports the
// container listens on moved to the free addresses chosen for them (the
// process shares this machine's network, not a pod's).
func podArgs(args []string, mounts map[string]string, ports map[int32]string) []string {
	out := make([]string, 0, len(args))
	for _, arg := range args {
		flag, value, ok := strings.Cut(arg, "=")
		if ok {
			for from, to := range mounts {
				if value == from || strings.HasPrefix(value, strings.TrimSuffix(from, "/")+"/") {
					value = to + strings.TrimPrefix(value, from)
				}
			}
			if i := strings.LastIndex(value, ":"); i >= 0 && !strings.Contains(value, "/") {
				if p, err := strconv.ParseInt(value[i+1:], 10, 32); err == nil {
					if addr, ok := ports[int32(p)]; ok {
						value = addr
					}
				}
			}
			arg = flag + "=" + value
		}
		out = append(out, arg)
	}
	return out
}

// Cleanup removes from an attached cluster what the suite made and
// installed: the configurations and namespaces that were not there before
// (waiting for the manager to finalize them), the chart, the manager's
// Lease, and the FluxConfig CRD when the chart brought it. Leftovers then
// says what remains.
func (e *Env) Cleanup(ctx context.Context) error {
	a := e.external
	if a == nil || a.cleaned {
		return nil
	}
	a.cleaned = true
	e.step("Removing what the suite made and installed in the cluster")
	c := e.Client
	var errs []error
	// Through the data plane first, as a user deletes them: the agent would
	// bring back a FluxConfig deleted under it.
	if e.DataPlaneURL != "" && e.find("dataplane") != nil {
		errs = append(errs, e.deleteConfigurations())
	}
	if fcs := (&v1alpha1.FluxConfigList{}); c.List(ctx, fcs) == nil {
		for i := range fcs.Items {
			if fc := &fcs.Items[i]; !a.configs[client.ObjectKeyFromObject(fc)] {
				errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, fc)))
			}
		}
		errs = append(errs, waitGone(ctx, "FluxConfigs", func() (int, error) {
			left := 0
			err := c.List(ctx, fcs)
			for _, fc := range fcs.Items {
				if !a.configs[client.ObjectKeyFromObject(&fc)] {
					left++
				}
			}
			return left, err
		}))
	}
	var nss corev1.NamespaceList
	newNamespaces := func() (int, error) {
		err := c.List(ctx, &nss)
		n := 0
		for _, ns := range nss.Items {
			if !a.namespaces[ns.Name] {
				n++
			}
		}
		return n, err
	}
	if _, err := newNamespaces(); err == nil {
		for i := range nss.Items {
			if !a.namespaces[nss.Items[i].Name] {
				errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, &nss.Items[i])))
			}
		}
	}
	errs = append(errs, waitGone(ctx, "namespaces", newNamespaces))
	// The manager removes flux-applier and its bindings once no
	// configuration needs them: before it is uninstalled.
	errs = append(errs, waitGone(ctx, "objects the operator labelled", func() (int, error) {
		left, err := labelled(ctx, c, client.MatchingLabels{v1alpha1.LabelIsManaged: "true"})
		return len(left), err
	}))

	if a.installed {
		if out, err := e.helm(a.o, "uninstall", releaseName, "--wait", "--timeout", "3m"); err != nil && !strings.Contains(out, "not found") {
			errs = append(errs, fmt.Errorf("helm uninstall: %w: %s", err, out))
		}
	}
	e.stopProc("manager") // its Deployment is gone: so is its pod
	if !a.had[leaseName] {
		errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: leaseName}})))
	}
	if !a.had[fluxConfigCRD] {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: fluxConfigCRD}}
		errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, crd)))
		errs = append(errs, waitGone(ctx, "the FluxConfig CRD", func() (int, error) {
			err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd)
			if apierrors.IsNotFound(err) {
				return 0, nil
			}
			return 1, err
		}))
	}
	return errors.Join(errs...)
}

// waitGone waits up to three minutes until count says none are left.
func waitGone(ctx context.Context, what string, count func() (int, error)) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		n, err := count()
		if err == nil && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d %s still there after 3 minutes (%v)", n, what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Leftovers lists what the suite left in an attached cluster after
// Cleanup: nothing, when it cleaned up after itself.
func (e *Env) Leftovers(ctx context.Context) ([]string, error) {
	a := e.external
	if a == nil {
		return nil, nil
	}
	c := e.Client
	var left []string
	if out, err := e.helm(a.o, "status", releaseName); err == nil {
		left = append(left, "Helm release "+releaseNamespace+"/"+releaseName+": "+firstLine(out))
	}
	var nss corev1.NamespaceList
	if err := c.List(ctx, &nss); err != nil {
		return nil, err
	}
	for _, ns := range nss.Items {
		if !a.namespaces[ns.Name] {
			left = append(left, "Namespace "+ns.Name)
		}
	}
	for name, obj := range namedObjects() {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if err == nil && !a.had[name] {
			left = append(left, fmt.Sprintf("%T %s", obj, name))
		} else if client.IgnoreNotFound(err) != nil {
			return nil, err
		}
	}
	// Whatever the chart or the operator labelled, anywhere.
	for _, sel := range []client.MatchingLabels{{"app.kubernetes.io/instance": releaseName}, {v1alpha1.LabelIsManaged: "true"}} {
		objs, err := labelled(ctx, c, sel)
		if err != nil {
			return nil, err
		}
		left = append(left, objs...)
	}
	return left, nil
}

// labelled names the objects of the kinds the chart and the operator make
// that carry sel's labels.
func labelled(ctx context.Context, c client.Client, sel client.MatchingLabels) ([]string, error) {
	var out []string
	for _, list := range []client.ObjectList{&rbacv1.ClusterRoleList{}, &rbacv1.ClusterRoleBindingList{}, &rbacv1.RoleBindingList{},
		&rbacv1.RoleList{}, &corev1.ServiceAccountList{}, &corev1.SecretList{}, &corev1.ConfigMapList{}, &corev1.ServiceList{},
		&appsv1.DeploymentList{}} {
		if err := c.List(ctx, list, sel); err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if o, ok := it.(client.Object); ok {
				out = append(out, fmt.Sprintf("%T %s/%s", o, o.GetNamespace(), o.GetName()))
			}
		}
	}
	return out, nil
}

// deleteConfigurations deletes every fluxConfiguration of the cluster in
// the data plane, each waited for until the agent has removed it.
func (e *Env) deleteConfigurations() error {
	cluster := []string{"-g", "local", "-c", "local", "-t", "connectedClusters"}
	out, err := e.CLI(append([]string{"k8s-configuration", "flux", "list", "--query", "[].name", "-o", "tsv"}, cluster...)...)
	if err != nil {
		return fmt.Errorf("listing the configurations: %w: %s", err, out)
	}
	var errs []error
	for _, name := range strings.Fields(out) {
		if out, err := e.CLI(append([]string{"k8s-configuration", "flux", "delete", "-n", name, "--yes"}, cluster...)...); err != nil {
			errs = append(errs, fmt.Errorf("deleting configuration %s: %w: %s", name, err, out))
		}
	}
	return errors.Join(errs...)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// stopProc stops the named process, if it runs.
func (e *Env) stopProc(name string) {
	if p := e.find(name); p != nil {
		p.stop()
	}
}
