// Package agent is fluxconfig-agent: it keeps the cluster's FluxConfigs in
// line with the data plane's desired state (long-polling it), writes the
// protected settings into Secrets, and reports every FluxConfig's status
// back. It shares nothing with the FluxConfig controller but the FluxConfig
// API and the protected-parameters Secret contract.
//
// It owns only the FluxConfigs it labels clusterconfig.azure.com/managed-by:
// fluxconfig-agent; FluxConfigs applied by hand are never touched. When the
// data plane cannot be reached, nothing in the cluster changes: the agent
// backs off (exponentially, with jitter, up to a cap) and catches up once it
// answers again.
package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// +kubebuilder:rbac:groups=clusterconfig.azure.com,resources=fluxconfigs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// FieldOwner is the server-side apply field manager of the agent.
const FieldOwner = "fluxconfig-agent"

// Options configure the agent.
type Options struct {
	// LongPoll is how long the data plane may hold a list request.
	LongPoll time.Duration
	// PollInterval is the pause between lists when the data plane does not
	// hold requests (a fallback), with jitter.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failure.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// ClusterScopeNamespaces are the namespaces cluster-scope
	// configurations may be placed in (AnyNamespace: any but kube-*).
	ClusterScopeNamespaces []string
}

// DefaultOptions are the flag defaults.
func DefaultOptions() Options {
	return Options{LongPoll: 30 * time.Second, PollInterval: 30 * time.Second, MinBackoff: time.Second, MaxBackoff: 2 * time.Minute,
		ClusterScopeNamespaces: []string{"flux-system"}}
}

// Agent syncs the cluster with the data plane.
type Agent struct {
	Client    client.Client
	APIReader client.Reader
	// Cache reads the cached metadata of Secrets: the manager's client
	// reads Secrets, metadata too, from the API server (Client when nil).
	Cache     client.Reader
	DataPlane *agentapi.Client
	Options   Options
	Log       logr.Logger

	state tracker
}

// tracker is what the syncer learned and the reporter needs.
type tracker struct {
	mu sync.Mutex
	// synced is set once the desired state has been read.
	synced bool
	// desired is the namespace of each desired configuration, by name (a
	// name is unique in a cluster's desired state).
	desired map[string]string
	// deleting are the configurations the data plane wants gone, by name.
	deleting map[string]bool
	// reported is the last status sent per configuration, as JSON.
	reported map[string]string
}

func (t *tracker) setDesired(namespaces map[string]string, deleting map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.synced, t.desired, t.deleting = true, namespaces, deleting
}

// owner tells whether the FluxConfig key is the one the data plane's
// configuration of that name lives at (a same-named FluxConfig elsewhere,
// whatever its labels, is not), and whether that configuration is being
// deleted. known is false until the desired state has been read.
func (t *tracker) owner(key types.NamespacedName) (owned, deleting, known bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ns, ok := t.desired[key.Name]
	return ok && ns == key.Namespace, ok && ns == key.Namespace && t.deleting[key.Name], t.synced
}

func (t *tracker) lastReported(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reported[name]
}

func (t *tracker) setReported(name, v string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reported == nil {
		t.reported = map[string]string{}
	}
	if v == "" {
		delete(t.reported, name)
	} else {
		t.reported[name] = v
	}
}

// NeedLeaderElection makes the syncer run on the leader only.
func (a *Agent) NeedLeaderElection() bool { return true }

// Start runs the sync loop until ctx ends (a manager Runnable).
func (a *Agent) Start(ctx context.Context) error {
	log := a.Log.WithValues("dataplane", a.DataPlane.Current(), "cluster", a.DataPlane.ClusterID)
	log.Info("Starting the agent")
	register()
	etag := ""
	failures := 0
	for ctx.Err() == nil {
		started := time.Now()
		state, newETag, notModified, err := a.DataPlane.List(ctx, etag, a.Options.LongPoll)
		if err == nil && !notModified {
			err = a.Sync(ctx, state)
			if err == nil {
				etag = newETag
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			syncFailures.Set(float64(failures))
			wait := backoff(failures, a.Options.MinBackoff, a.Options.MaxBackoff)
			kv := []any{"retryIn", wait.Round(time.Millisecond).String()}
			if hint := syncHint(err); hint != "" {
				kv = append(kv, "hint", hint)
			}
			log.Error(err, "Sync with the data plane failed; the cluster keeps its last desired state", kv...)
			sleep(ctx, wait)
			continue
		}
		lastSync.SetToCurrentTime()
		syncFailures.Set(0)
		if failures > 0 {
			log.Info("Reconnected to the data plane", "afterFailures", failures)
			failures = 0
		}
		// A data plane that answers at once instead of holding the request
		// is polled at the poll interval.
		if notModified && time.Since(started) < a.Options.LongPoll/2 {
			sleep(ctx, jitter(a.Options.PollInterval))
		}
	}
	log.Info("Stopped the agent")
	return nil
}

// backoff is exponential from min, capped at max, with full jitter in its
// upper half.
func backoff(failures int, minWait, maxWait time.Duration) time.Duration {
	d := minWait << min(failures-1, 20)
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Sync makes the cluster's agent-managed FluxConfigs match state. It
// returns the first error after trying every configuration.
func (a *Agent) Sync(ctx context.Context, state *agentapi.DesiredState) error {
	var owned v1alpha1.FluxConfigList
	if err := a.Client.List(ctx, &owned, client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByAgent}); err != nil {
		return fmt.Errorf("failed to list FluxConfigs: %w", err)
	}
	namespaces := map[string]string{}
	deleting := map[string]bool{}
	props := make([]*agentapi.Properties, len(state.Configurations))
	var errs []error
	for i := range state.Configurations {
		c := &state.Configurations[i]
		p, err := desiredProperties(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("configuration %s: %w", c.Name, err))
			continue
		}
		props[i] = p
		namespaces[c.Name] = p.Namespace
		if c.Deleting {
			deleting[c.Name] = true
		}
	}
	a.state.setDesired(namespaces, deleting)
	for i := range state.Configurations {
		if props[i] == nil {
			continue
		}
		if err := a.syncOne(ctx, &state.Configurations[i], props[i]); err != nil {
			errs = append(errs, fmt.Errorf("configuration %s: %w", state.Configurations[i].Name, err))
		}
	}
	// Agent-managed FluxConfigs that the data plane no longer has
	// (forceDelete). A same-named one in another namespace is not the
	// agent's (a configuration's namespace never changes): left alone.
	for i := range owned.Items {
		fc := &owned.Items[i]
		if _, desired := namespaces[fc.Name]; desired || !fc.DeletionTimestamp.IsZero() {
			continue
		}
		if err := a.Client.Delete(ctx, fc); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("failed to delete FluxConfig %s/%s: %w", fc.Namespace, fc.Name, err))
		}
	}
	return errors.Join(errs...)
}

// desiredProperties decodes the properties of c.
func desiredProperties(c *agentapi.Configuration) (*agentapi.Properties, error) {
	var props agentapi.Properties
	if err := json.Unmarshal(c.Properties, &props); err != nil {
		return nil, fmt.Errorf("failed to decode its properties: %w", err)
	}
	if props.Namespace == "" {
		return nil, errors.New("its properties have no namespace")
	}
	return &props, nil
}

func (a *Agent) syncOne(ctx context.Context, c *agentapi.Configuration, props *agentapi.Properties) error {
	if msg := namespaceRefusal(props, a.Options.ClusterScopeNamespaces); msg != "" && !c.Deleting {
		// Nothing is written in the cluster; the data plane shows why.
		return a.reportOnce(ctx, c.Name, &agentapi.StatusReport{Generation: c.Generation, ProvisioningState: string(v1alpha1.ProvisioningFailed), ErrorMessage: msg})
	}
	current, err := a.find(ctx, props.Namespace, c.Name)
	if err != nil {
		return err
	}
	step := planSync(current, c)
	if step == stepCreate {
		// The cache may not have seen a FluxConfig applied by hand a moment
		// ago, and an apply would take it over: the API server decides.
		live := &v1alpha1.FluxConfig{}
		err := a.APIReader.Get(ctx, client.ObjectKey{Namespace: props.Namespace, Name: c.Name}, live)
		switch {
		case err == nil:
			current, step = live, planSync(live, c)
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("failed to get FluxConfig %s/%s: %w", props.Namespace, c.Name, err)
		}
	}
	switch step {
	case stepRefuse:
		// Applied by hand: never touched. Say so in the data plane.
		msg := fmt.Sprintf("A FluxConfig %s/%s that the agent does not manage exists in the cluster: delete it, or give this configuration another name.", props.Namespace, c.Name)
		return a.reportOnce(ctx, c.Name, &agentapi.StatusReport{Generation: c.Generation, ProvisioningState: string(v1alpha1.ProvisioningFailed), ErrorMessage: msg})
	case stepConfirmDeleted:
		if err := a.DataPlane.ConfirmDeleted(ctx, c.Name); err != nil {
			return err
		}
		a.state.setReported(c.Name, "")
		return nil
	case stepDelete:
		if err := a.Client.Delete(ctx, current); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to delete FluxConfig: %w", err)
		}
		return nil // confirmed by the reporter once the finalizer is done
	case stepWaitForDeletion:
		return nil
	case stepCreate:
		// A FluxConfig in the namespace means the namespace exists: only new
		// configurations pay for the (uncached) namespace read.
		if err := a.ensureNamespace(ctx, props.Namespace); err != nil {
			return err
		}
	}
	secretName := v1alpha1.ProtectedSettingsSecretName(c.Name)
	hasProtected, err := a.syncProtected(ctx, props.Namespace, c.Name, secretName, c.ProtectedSettings)
	if err != nil {
		return err
	}
	fc := desiredFluxConfig(c, props, hasProtected)
	withFinalizer(current, fc)
	if !upToDate(current, fc) {
		if err := apply(ctx, a.Client, fc); err != nil {
			if !refused(err) {
				return err
			}
			// The API server refuses this configuration as it is (a data
			// plane that checks less than the CRD): it fails alone, in ARM,
			// and the rest of the cluster goes on. Retrying would not help.
			return a.reportOnce(ctx, c.Name, &agentapi.StatusReport{Generation: c.Generation,
				ProvisioningState: string(v1alpha1.ProvisioningFailed),
				ErrorMessage:      "The cluster refused the configuration: " + err.Error()})
		}
	}
	if c.ProtectedSettings != nil {
		if err := a.DataPlane.Ack(ctx, c.Name, c.ProtectedSettings.Version); err != nil {
			return err
		}
	}
	return nil
}

// find returns the FluxConfig namespace/name, or nil.
func (a *Agent) find(ctx context.Context, namespace, name string) (*v1alpha1.FluxConfig, error) {
	fc := &v1alpha1.FluxConfig{}
	err := a.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, fc)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to get FluxConfig %s/%s: %w", namespace, name, err)
	}
	return fc, nil
}

func (a *Agent) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{}
	err := a.APIReader.Get(ctx, client.ObjectKey{Name: name}, ns)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to get namespace %s: %w", name, err)
	}
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := a.Client.Create(ctx, ns, client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create namespace %s: %w", name, err)
	}
	return nil
}

// syncProtected writes protected settings into their Secret, or, with
// none pending, reports whether the Secret from an earlier delivery exists.
// Values are kept base64-encoded, as ARM receives them.
func (a *Agent) syncProtected(ctx context.Context, namespace, config, name string, p *agentapi.ProtectedSettings) (bool, error) {
	if p == nil {
		s := &metav1.PartialObjectMetadata{}
		s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		cache := a.Cache
		if cache == nil {
			cache = a.Client
		}
		err := cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, client.IgnoreNotFound(err)
	}
	if len(p.Values) == 0 {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
		if err := a.Client.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
			return false, fmt.Errorf("failed to delete Secret %s/%s: %w", namespace, name, err)
		}
		return false, nil
	}
	data := map[string][]byte{}
	for k, v := range p.Values {
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			return false, fmt.Errorf("protected setting %s is not base64", k)
		}
		data[k] = []byte(v)
	}
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace,
			Labels: map[string]string{
				v1alpha1.LabelIsManaged: "true", v1alpha1.LabelName: config, v1alpha1.LabelNamespace: namespace,
				v1alpha1.LabelManagedBy: v1alpha1.ManagedByAgent,
			},
			Annotations: map[string]string{v1alpha1.ProtectedVersionAnnotation: strconv.FormatInt(p.Version, 10)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	if err := apply(ctx, a.Client, s); err != nil {
		return false, err
	}
	return true, nil
}

// refused reports whether err is the API server refusing an object as
// written (invalid, malformed or forbidden by admission), which no retry
// fixes, rather than a failure to reach it.
func refused(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err)
}

// apply writes obj with server-side apply as the agent.
func apply(ctx context.Context, c client.Client, obj client.Object) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to apply %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// reportOnce sends report unless the same one was sent last.
func (a *Agent) reportOnce(ctx context.Context, name string, report *agentapi.StatusReport) error {
	b, err := json.Marshal(report)
	if err != nil {
		return err
	}
	if a.state.lastReported(name) == string(b) {
		return nil
	}
	if err := a.DataPlane.ReportStatus(ctx, name, report); err != nil {
		return err
	}
	a.state.setReported(name, string(b))
	return nil
}
