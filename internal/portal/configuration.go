package portal

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// Resource is an ARM resource as the backend reads it: its properties in
// the current api-version's shape.
type Resource struct {
	ID, Name   string
	Properties json.RawMessage
	// CanWrite: the principal may change and delete it.
	CanWrite bool
	// History are the last changes of its compliance state, the oldest
	// first.
	History []ComplianceChange
}

// ComplianceChange is a configuration's compliance state changing, as its
// agent reported it.
type ComplianceChange struct {
	At             time.Time
	State, Message string
}

// ErrNotFound is the backend's answer for a resource that does not exist
// or that the principal may not read (the portal does not tell which).
var ErrNotFound = errors.New("no such resource, or not one you may read")

// configProperties are the properties of a fluxConfiguration a page shows.
type configProperties struct {
	Scope                string `json:"scope"`
	Namespace            string `json:"namespace"`
	SourceKind           string `json:"sourceKind"`
	Suspend              bool   `json:"suspend"`
	ComplianceState      string `json:"complianceState"`
	ProvisioningState    string `json:"provisioningState"`
	ErrorMessage         string `json:"errorMessage"`
	StatusUpdatedAt      string `json:"statusUpdatedAt"`
	SourceUpdatedAt      string `json:"sourceUpdatedAt"`
	SourceSyncedCommitID string `json:"sourceSyncedCommitId"`
	RepositoryPublicKey  string `json:"repositoryPublicKey"`
	GitRepository        *struct {
		URL           string `json:"url"`
		RepositoryRef *ref   `json:"repositoryRef"`
	} `json:"gitRepository"`
	Bucket *struct {
		URL        string `json:"url"`
		BucketName string `json:"bucketName"`
	} `json:"bucket"`
	AzureBlob *struct {
		URL           string `json:"url"`
		ContainerName string `json:"containerName"`
	} `json:"azureBlob"`
	OCIRepository *struct {
		URL           string `json:"url"`
		RepositoryRef *ref   `json:"repositoryRef"`
	} `json:"ociRepository"`
	Kustomizations map[string]struct {
		Path      string   `json:"path"`
		DependsOn []string `json:"dependsOn"`
		Prune     bool     `json:"prune"`
	} `json:"kustomizations"`
	Statuses []v1alpha1.ObjectStatusDefinition `json:"statuses"`
}

type ref struct {
	Branch string `json:"branch"`
	Tag    string `json:"tag"`
	Semver string `json:"semver"`
	Commit string `json:"commit"`
	Digest string `json:"digest"`
}

func (r *ref) String() string {
	if r == nil {
		return ""
	}
	for _, kv := range [][2]string{{"commit", r.Commit}, {"digest", r.Digest}, {"tag", r.Tag}, {"semver", r.Semver}, {"branch", r.Branch}} {
		if kv[1] != "" {
			return kv[0] + " " + kv[1]
		}
	}
	return ""
}

// ConfigurationPage is what a configuration's page shows.
type ConfigurationPage struct {
	ID, Name, ClusterID, ClusterName string
	// CanWrite: the principal may suspend, resume and delete it.
	CanWrite bool
	configProperties
	// Source is where it syncs from, and Ref what it follows there.
	Source, Ref string
	// KustomizationList are its Kustomizations by name.
	KustomizationList []KustomizationView
	Graph             Graph
	// Changes are its compliance changes, the newest first.
	Changes []ComplianceChange
}

// KustomizationView is one of a configuration's Kustomizations with the
// state its agent reported of it.
type KustomizationView struct {
	Name, Path, State, Message string
	DependsOn                  []string
	Prune                      bool
}

// NewConfigurationPage reads a configuration resource for its page.
func NewConfigurationPage(r Resource) (ConfigurationPage, error) {
	p := ConfigurationPage{ID: r.ID, Name: r.Name, CanWrite: r.CanWrite, Changes: slices.Clone(r.History)}
	slices.Reverse(p.Changes)
	if err := json.Unmarshal(r.Properties, &p.configProperties); err != nil {
		return p, err
	}
	p.ClusterID, _, _ = strings.Cut(r.ID, "/providers/Microsoft.KubernetesConfiguration/")
	p.ClusterName = p.ClusterID[strings.LastIndex(p.ClusterID, "/")+1:]
	switch {
	case p.GitRepository != nil:
		p.Source, p.Ref = p.GitRepository.URL, p.GitRepository.RepositoryRef.String()
	case p.OCIRepository != nil:
		p.Source, p.Ref = p.OCIRepository.URL, p.OCIRepository.RepositoryRef.String()
	case p.Bucket != nil:
		p.Source, p.Ref = p.Bucket.URL, "bucket "+p.Bucket.BucketName
	case p.AzureBlob != nil:
		p.Source, p.Ref = p.AzureBlob.URL, "container "+p.AzureBlob.ContainerName
	}
	deps, states := map[string][]string{}, map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(p.Kustomizations)) {
		k := p.Kustomizations[name]
		v := KustomizationView{Name: name, Path: k.Path, DependsOn: k.DependsOn, Prune: k.Prune, State: "Pending"}
		// The agent names a configuration's Kustomizations <config>-<name>.
		for _, s := range p.Statuses {
			if s.Kind == "Kustomization" && s.Name == p.Name+"-"+name {
				v.State, v.Message = string(s.ComplianceState), conditionMessage(s)
			}
		}
		deps[name], states[name] = k.DependsOn, v.State
		p.KustomizationList = append(p.KustomizationList, v)
	}
	p.Graph = Layout(deps, states)
	return p, nil
}

// conditionMessage is an object's Ready condition's message, else its
// first condition's.
func conditionMessage(s v1alpha1.ObjectStatusDefinition) string {
	for _, c := range s.StatusConditions {
		if c.Type == "Ready" {
			return c.Message
		}
	}
	if len(s.StatusConditions) > 0 {
		return s.StatusConditions[0].Message
	}
	return ""
}
