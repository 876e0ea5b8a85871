package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/policy"
)

// Cluster extensions (Microsoft.KubernetesConfiguration/extensions), as
// far as GitOps needs them: the Flux extension, which Azure installs before
// fluxConfigurations and which Azure's built-in "Configure installation of
// Flux extension" policy deploys. Here the agent (installed with its Helm
// chart or Kustomize overlay, Flux's controllers beside it) is that
// extension: a microsoft.flux extension records it, and is Succeeded once
// the cluster's agent has connected. Its settings are kept and returned;
// nothing is installed or removed in the cluster on their account.

var extensionAPIVersions = []string{"2022-03-01", "2022-11-01", "2023-05-01", "2024-11-01"}

const (
	extensionsType  = "Microsoft.KubernetesConfiguration/extensions"
	fluxExtension   = "microsoft.flux"
	readExtensions  = "Microsoft.KubernetesConfiguration/extensions/read"
	writeExtensions = "Microsoft.KubernetesConfiguration/extensions/write"
	deleteExtension = "Microsoft.KubernetesConfiguration/extensions/delete"
)

// isExtensionPath: segs (after a cluster's ID) are providers/
// Microsoft.KubernetesConfiguration/extensions[/{name}].
func isExtensionPath(segs []string) bool {
	return (len(segs) == 3 || len(segs) == 4) && strings.EqualFold(segs[0], "providers") &&
		strings.EqualFold(segs[1], "Microsoft.KubernetesConfiguration") && strings.EqualFold(segs[2], "extensions")
}

func extensionID(ref clusterRef, name string) string {
	return ref.ID() + "/providers/" + extensionsType + "/" + name
}

func (s *Server) routeExtensions(w http.ResponseWriter, r *http.Request, ref clusterRef, rest []string) {
	if e := checkAPIVersion(r, extensionAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	if len(rest) == 3 {
		setRoute(r, "extensions")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readExtensions, ref.ID(),
			func(w http.ResponseWriter, _ *http.Request) { s.listExtensions(w, ref) })})
		return
	}
	name := rest[3]
	id := extensionID(ref, name)
	setRoute(r, "extension")
	s.methods(w, r, map[string]http.HandlerFunc{
		http.MethodPut: s.guard(writeExtensions, id, func(w http.ResponseWriter, r *http.Request) {
			var body extensionBody
			if e := s.decodeBody(r, &body); e != nil {
				writeError(w, e)
				return
			}
			out, created, err := s.commitExtension(ref, name, callerOf(r).name(), nil, &body)
			if err != nil {
				s.fail(w, err)
				return
			}
			writeJSON(w, putStatus(created), out)
		}),
		http.MethodGet:    s.guard(readExtensions, id, func(w http.ResponseWriter, _ *http.Request) { s.getExtension(w, ref, id) }),
		http.MethodDelete: s.guard(deleteExtension, id, func(w http.ResponseWriter, _ *http.Request) { s.deleteExtension(w, ref, id) }),
	})
}

// extensionBody is an extension as ARM takes it.
type extensionBody struct {
	ID         string          `json:"id,omitempty"`
	Name       string          `json:"name,omitempty"`
	Type       string          `json:"type,omitempty"`
	Identity   *store.Identity `json:"identity,omitempty"`
	Properties struct {
		ExtensionType                  string            `json:"extensionType"`
		AutoUpgradeMinorVersion        *bool             `json:"autoUpgradeMinorVersion,omitempty"`
		ReleaseTrain                   string            `json:"releaseTrain,omitempty"`
		Version                        *string           `json:"version,omitempty"`
		Scope                          json.RawMessage   `json:"scope,omitempty"`
		ConfigurationSettings          map[string]any    `json:"configurationSettings,omitempty"`
		ConfigurationProtectedSettings map[string]string `json:"configurationProtectedSettings,omitempty"`
		// Read-only, sent back from a GET.
		ProvisioningState string          `json:"provisioningState,omitempty"`
		CurrentVersion    string          `json:"currentVersion,omitempty"`
		IsSystemExtension bool            `json:"isSystemExtension,omitempty"`
		Statuses          json.RawMessage `json:"statuses,omitempty"`
	} `json:"properties"`
}

// extensionProperties are what is stored of an extension.
type extensionProperties struct {
	ExtensionType           string            `json:"extensionType"`
	AutoUpgradeMinorVersion bool              `json:"autoUpgradeMinorVersion"`
	ReleaseTrain            string            `json:"releaseTrain"`
	Version                 *string           `json:"version"`
	Scope                   json.RawMessage   `json:"scope"`
	ConfigurationSettings   map[string]string `json:"configurationSettings"`
}

func badExtension(format string, args ...any) error {
	return errAPI{&apiError{http.StatusBadRequest, "InvalidExtension", fmt.Sprintf(format, args...)}}
}

// commitExtension checks and stores an extension, its transaction checked
// by guard (nil: none); ARM's PUT and policy deployments write through it.
func (s *Server) commitExtension(ref clusterRef, name, by string, guard deployGuard, body *extensionBody) (map[string]any, bool, error) {
	p := body.Properties
	if !segmentRE.MatchString(name) {
		return nil, false, badExtension("The extension name '%s' is invalid.", name)
	}
	switch {
	case p.ExtensionType == "":
		return nil, false, badExtension("properties.extensionType is required: microsoft.flux.")
	case !strings.EqualFold(p.ExtensionType, fluxExtension):
		return nil, false, errAPI{&apiError{http.StatusBadRequest, "ExtensionTypeNotSupported", fmt.Sprintf(
			"The extension type '%s' is not served here: only microsoft.flux, which the arcgitops agent is.", p.ExtensionType)}}
	case len(p.ConfigurationProtectedSettings) > 0:
		return nil, false, badExtension("properties.configurationProtectedSettings: the Flux extension here takes none.")
	}
	props := extensionProperties{ExtensionType: fluxExtension, AutoUpgradeMinorVersion: true, ReleaseTrain: "Stable",
		Scope: json.RawMessage(`{"cluster":{"releaseNamespace":"flux-system"}}`), ConfigurationSettings: map[string]string{}}
	if p.AutoUpgradeMinorVersion != nil {
		props.AutoUpgradeMinorVersion = *p.AutoUpgradeMinorVersion
	}
	if p.ReleaseTrain != "" {
		props.ReleaseTrain = p.ReleaseTrain
	}
	if p.Version != nil && *p.Version != "" {
		if props.AutoUpgradeMinorVersion {
			return nil, false, badExtension("properties.version is set only with autoUpgradeMinorVersion false.")
		}
		props.Version = p.Version
	}
	if len(p.Scope) > 0 && string(p.Scope) != "null" {
		props.Scope = p.Scope
	}
	for k, v := range p.ConfigurationSettings {
		switch v.(type) {
		case string, bool, float64:
			props.ConfigurationSettings[k] = fmt.Sprint(v)
		default:
			return nil, false, badExtension("properties.configurationSettings.%s must be a string.", k)
		}
	}
	raw, err := json.Marshal(props)
	if err != nil {
		return nil, false, err
	}
	now, id := s.opts.Now().UTC(), extensionID(ref, name)
	var (
		ext     *store.Extension
		cluster *store.Cluster
		created bool
	)
	err = s.store.Update(func(tx store.Tx) error {
		if guard != nil {
			if err := guard(tx); err != nil {
				return err
			}
		}
		var err error
		if cluster, err = tx.Cluster(ref.ID()); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errAPI{clusterNotFound(ref)}
			}
			return err
		}
		all, err := tx.Extensions(ref.ID())
		if err != nil {
			return err
		}
		var old *store.Extension
		for i := range all {
			if strings.EqualFold(all[i].Name, name) {
				old = &all[i]
				continue
			}
			var other extensionProperties
			_ = json.Unmarshal(all[i].Properties, &other)
			if strings.EqualFold(other.ExtensionType, fluxExtension) {
				return errAPI{&apiError{http.StatusConflict, "ExtensionAlreadyExists", fmt.Sprintf(
					"The cluster already has the Flux extension, as '%s': a cluster has it once.", all[i].Name)}}
			}
		}
		ext = &store.Extension{ID: id, Name: name, Properties: raw,
			SystemData: store.SystemData{CreatedBy: by, CreatedAt: now, LastModifiedBy: by, LastModifiedAt: now}}
		if old != nil {
			ext.ID, ext.Identity, ext.SystemData.CreatedBy, ext.SystemData.CreatedAt = old.ID, old.Identity, old.SystemData.CreatedBy, old.SystemData.CreatedAt
		}
		if body.Identity != nil && strings.EqualFold(body.Identity.Type, "SystemAssigned") && ext.Identity == nil {
			ext.Identity = &store.Identity{Type: "SystemAssigned", PrincipalID: uuid.NewString(), TenantID: s.opts.TenantID}
		}
		created = old == nil
		return tx.PutExtension(ext)
	})
	if err != nil {
		return nil, false, err
	}
	s.policy.enqueue(ref.ID(), false)
	return renderExtension(ext, cluster), created, nil
}

// renderExtension is an extension as ARM returns it: Succeeded once the
// cluster's agent has connected, Creating until then.
func renderExtension(e *store.Extension, cluster *store.Cluster) map[string]any {
	var props map[string]any
	_ = json.Unmarshal(e.Properties, &props)
	props["provisioningState"], props["isSystemExtension"], props["statuses"] = "Creating", false, []any{}
	if cluster != nil && cluster.AgentConnectedAt != nil {
		props["provisioningState"] = "Succeeded"
	}
	out := map[string]any{"id": e.ID, "name": e.Name, "type": extensionsType, "properties": props, "systemData": renderSystemData(e.SystemData)}
	if e.Identity != nil {
		out["identity"] = e.Identity
	}
	return out
}

func (s *Server) getExtension(w http.ResponseWriter, ref clusterRef, id string) {
	var (
		e *store.Extension
		c *store.Cluster
	)
	err := s.store.View(func(tx store.Tx) error {
		var err error
		if e, err = tx.Extension(id); err != nil {
			return err
		}
		c, err = tx.Cluster(ref.ID())
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, &apiError{http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The extension '%s' was not found.", id)})
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, renderExtension(e, c))
	}
}

func (s *Server) listExtensions(w http.ResponseWriter, ref clusterRef) {
	value := []any{}
	err := s.store.View(func(tx store.Tx) error {
		c, err := tx.Cluster(ref.ID())
		if err != nil {
			return err
		}
		all, err := tx.Extensions(ref.ID())
		for i := range all {
			value = append(value, renderExtension(&all[i], c))
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, clusterNotFound(ref))
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"value": value})
	}
}

// deleteExtension deletes the record; the agent keeps running (it is
// uninstalled with its chart).
func (s *Server) deleteExtension(w http.ResponseWriter, ref clusterRef, id string) {
	err := s.store.Update(func(tx store.Tx) error { return tx.DeleteExtension(id) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.fail(w, err)
	default:
		s.policy.enqueue(ref.ID(), false)
		w.WriteHeader(http.StatusOK)
	}
}

// extensionResources are a cluster's extensions as policies see them.
func extensionResources(exts []store.Extension, cluster *store.Cluster) []*policy.Resource {
	out := make([]*policy.Resource, 0, len(exts))
	for i := range exts {
		m := renderExtension(&exts[i], cluster)
		props, _ := m["properties"].(map[string]any)
		out = append(out, &policy.Resource{ID: exts[i].ID, Name: exts[i].Name, Type: extensionsType, Properties: normalize(props)})
	}
	return out
}
