package v1alpha1

// Labels and annotations are part of the API: they are put on every object a
// FluxConfig creates (as Azure does) and are how the operator finds them
// again, across namespaces and for cluster-scoped objects.
const (
	// LabelIsManaged marks objects created for a FluxConfig ("true").
	LabelIsManaged = "clusterconfig.azure.com/is-managed"
	// LabelName is the name of the FluxConfig an object was created for.
	LabelName = "clusterconfig.azure.com/name"
	// LabelNamespace is the namespace of the FluxConfig an object was created for.
	LabelNamespace = "clusterconfig.azure.com/namespace"
	// LabelManagedBy on a FluxConfig names who owns it: the agent sets it to
	// ManagedByAgent on the FluxConfigs it writes, and leaves every other
	// FluxConfig alone.
	LabelManagedBy = "clusterconfig.azure.com/managed-by"
	// ManagedByAgent is the LabelManagedBy value of FluxConfigs the agent writes.
	ManagedByAgent = "fluxconfig-agent"

	// AnnotationUseManagedSource on a HelmRelease in a configuration's Git
	// repository ("true") makes the configuration's GitRepository its chart
	// source, as Azure documents: each Kustomization patches
	// spec.chart.spec.sourceRef of such HelmReleases when it applies them.
	AnnotationUseManagedSource = "clusterconfig.azure.com/use-managed-source"

	// FluxConfigFinalizer lets the operator delete what it created before a
	// FluxConfig goes away.
	FluxConfigFinalizer = "clusterconfig.azure.com/finalizer"
)

// Condition types, as in fluxcd/pkg/apis/meta: Ready is always present,
// Reconciling and Stalled only while true.
const (
	ReadyCondition       = "Ready"
	ReconcilingCondition = "Reconciling"
	StalledCondition     = "Stalled"
)

// Conditions of a generated SSH key's life, present only while true; they
// do not change Ready.
const (
	// KeyRotationInProgressCondition: a new key pair is published and waits
	// for confirmation, the grace period, or access to the repository.
	KeyRotationInProgressCondition = "KeyRotationInProgress"
	// KeyRotationDueCondition: the key pair in use is older than
	// sshKeyRotation.maxKeyAgeInDays.
	KeyRotationDueCondition = "KeyRotationDue"
)

// Condition reasons.
const (
	// ReasonSucceeded: every object exists and is ready for the current spec.
	ReasonSucceeded = "ReconciliationSucceeded"
	// ReasonProgressing: objects were written and Flux has not reported on them yet.
	ReasonProgressing = "Progressing"
	// ReasonInvalidSpec: the spec cannot be reconciled as written (a dependsOn
	// cycle, a credential that does not fit the URL, malformed key material).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonMissingSecret: a referenced Secret does not exist (yet).
	ReasonMissingSecret = "SecretNotFound"
	// ReasonApplyFailed: writing a generated object to the API server failed.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonDeleteFailed: deleting an object the configuration no longer
	// needs (a Kustomization removed from the spec, the source of another
	// sourceKind) failed.
	ReasonDeleteFailed = "DeleteFailed"
	// ReasonReadFailed: reading the state of a deployed object (a HelmRelease)
	// from the API server failed.
	ReasonReadFailed = "ReadFailed"
	// ReasonSourceNotReady: Flux reports the source as not ready.
	ReasonSourceNotReady = "SourceNotReady"
	// ReasonKustomizationNotReady: Flux reports a Kustomization as not ready.
	ReasonKustomizationNotReady = "KustomizationNotReady"
	// ReasonSuspended: the configuration is suspended.
	ReasonSuspended = "Suspended"
	// ReasonDeleting: the configuration is being deleted.
	ReasonDeleting = "Deleting"
	// ReasonFluxNotInstalled: the API server does not serve Flux's kinds
	// (its CRDs are not installed); the manager restarts once they are.
	ReasonFluxNotInstalled = "FluxNotInstalled"
	// ReasonGeneratingKey: the configuration's SSH key pair is queued for
	// generation (RSA keys are generated in the background).
	ReasonGeneratingKey = "GeneratingSSHKey"
	// ReasonNewKeyPublished: the next key pair's public key is in
	// status.sshKey.pendingPublicKey, waiting for the switch.
	ReasonNewKeyPublished = "NewKeyPublished"
	// ReasonNewKeyRefused: the switch is due but the next key cannot read
	// the repository yet; the old key stays in use.
	ReasonNewKeyRefused = "NewKeyRefused"
	// ReasonMaxKeyAgeExceeded: the key pair in use is older than allowed.
	ReasonMaxKeyAgeExceeded = "MaxKeyAgeExceeded"
)
