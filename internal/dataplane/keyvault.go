package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// A minimal Microsoft.KeyVault: vaults in resource groups and their
// secrets, written through ARM (as Bicep and ARM templates write them),
// write-only, sealed at rest like protected settings, and read only by
// policy deployments that reference them. The vault's own data plane
// (vaultUri, az keyvault secret set) is not served.

// keyVaultAPIVersions are Microsoft.KeyVault's vault api-versions.
var keyVaultAPIVersions = []string{"2019-09-01", "2021-10-01", "2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01"}

const (
	vaultType       = "Microsoft.KeyVault/vaults"
	readVaults      = "Microsoft.KeyVault/vaults/read"
	writeVaults     = "Microsoft.KeyVault/vaults/write"
	deleteVaults    = "Microsoft.KeyVault/vaults/delete"
	readSecrets     = "Microsoft.KeyVault/vaults/secrets/read"
	writeSecrets    = "Microsoft.KeyVault/vaults/secrets/write"
	deployFromVault = "Microsoft.KeyVault/vaults/deploy/action"
)

var (
	vaultNameRE  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)
	secretNameRE = regexp.MustCompile(`^[a-zA-Z0-9-]{1,127}$`)
)

// vaultPath reads subscriptions/{s}/resourceGroups/{rg}/providers/
// Microsoft.KeyVault/vaults[/{v}[/secrets[/{name}]]].
func vaultPath(segs []string) (group groupRef, vault, secret string, secrets, ok bool) {
	if len(segs) < 6 || !strings.EqualFold(segs[0], "subscriptions") || !strings.EqualFold(segs[2], "resourceGroups") ||
		!strings.EqualFold(segs[4], "providers") || !strings.EqualFold(segs[5], "Microsoft.KeyVault") {
		return groupRef{}, "", "", false, false
	}
	group = groupRef{Subscription: segs[1], Name: segs[3]}
	rest := segs[6:]
	switch {
	case len(rest) == 1 && strings.EqualFold(rest[0], "vaults"):
		return group, "", "", false, true
	case len(rest) == 2 && strings.EqualFold(rest[0], "vaults"):
		return group, rest[1], "", false, true
	case len(rest) == 3 && strings.EqualFold(rest[0], "vaults") && strings.EqualFold(rest[2], "secrets"):
		return group, rest[1], "", true, true
	case len(rest) == 4 && strings.EqualFold(rest[0], "vaults") && strings.EqualFold(rest[2], "secrets"):
		return group, rest[1], rest[3], true, true
	}
	return group, "", "", false, false
}

// routeKeyVault serves vaults and their secrets; it reports whether segs
// were one of them.
func (s *Server) routeKeyVault(w http.ResponseWriter, r *http.Request, segs []string) bool {
	group, vault, secret, secrets, ok := vaultPath(segs)
	if !ok {
		return false
	}
	if e := checkAPIVersion(r, keyVaultAPIVersions, nil); e != nil {
		writeError(w, e)
		return true
	}
	if s.subscription(group.Subscription) == nil {
		writeError(w, subscriptionNotFound(group.Subscription))
		return true
	}
	vaultsID := group.ID() + "/providers/" + vaultType
	vaultID := vaultsID + "/" + vault
	switch {
	case vault == "":
		setRoute(r, "vaults")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readVaults, group.ID(),
			func(w http.ResponseWriter, _ *http.Request) { s.listVaults(w, vaultsID) })})
	case !vaultNameRE.MatchString(vault) || strings.Contains(vault, "--"):
		writeError(w, &apiError{http.StatusBadRequest, "VaultNameNotValid", fmt.Sprintf(
			"The vault name '%s' is invalid: 3-24 letters, digits and single hyphens, starting with a letter and ending with a letter or digit.", vault)})
	case !secrets:
		setRoute(r, "vault")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(writeVaults, vaultID, func(w http.ResponseWriter, r *http.Request) { s.putVault(w, r, vaultID, vault) }),
			http.MethodGet:    s.guard(readVaults, vaultID, func(w http.ResponseWriter, _ *http.Request) { s.getVault(w, vaultID) }),
			http.MethodDelete: s.guard(deleteVaults, vaultID, func(w http.ResponseWriter, _ *http.Request) { s.deleteVault(w, vaultID) }),
		})
	case secret == "":
		setRoute(r, "vault-secrets")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readSecrets, vaultID,
			func(w http.ResponseWriter, _ *http.Request) { s.listSecrets(w, vaultID) })})
	case !secretNameRE.MatchString(secret):
		writeError(w, &apiError{http.StatusBadRequest, "BadParameter", fmt.Sprintf("The secret name '%s' is invalid: 1-127 letters, digits and hyphens.", secret)})
	default:
		setRoute(r, "vault-secret")
		id := vaultID + "/secrets/" + secret
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut: s.guard(writeSecrets, id, func(w http.ResponseWriter, r *http.Request) { s.putSecret(w, r, vaultID, id, secret) }),
			http.MethodGet: s.guard(readSecrets, id, func(w http.ResponseWriter, _ *http.Request) { s.getSecret(w, id) }),
		})
	}
	return true
}

// vaultNotFound is ARM's answer for a missing vault.
func vaultNotFound(id string) *apiError {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	return &apiError{http.StatusNotFound, "ResourceNotFound", fmt.Sprintf(
		"The Resource '%s/%s' under resource group '%s' was not found.", vaultType, segs[len(segs)-1], segs[3])}
}

// vaultProperties are what a vault PUT must and may say.
type vaultProperties struct {
	TenantID string `json:"tenantId"`
	SKU      *struct {
		Family string `json:"family"`
		Name   string `json:"name"`
	} `json:"sku"`
	EnabledForTemplateDeployment bool `json:"enabledForTemplateDeployment"`
}

func (s *Server) putVault(w http.ResponseWriter, r *http.Request, id, name string) {
	var body struct {
		Location   string            `json:"location"`
		Tags       map[string]string `json:"tags"`
		Properties json.RawMessage   `json:"properties"`
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Type       string            `json:"type"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	var props vaultProperties
	if len(body.Properties) > 0 {
		if err := json.Unmarshal(body.Properties, &props); err != nil {
			writeError(w, &apiError{http.StatusBadRequest, "InvalidRequestContent", "properties is not a vault's properties: " + err.Error()})
			return
		}
	}
	switch {
	case body.Location == "":
		writeError(w, &apiError{http.StatusBadRequest, "LocationRequired", "The location property is required for this definition."})
		return
	case props.TenantID == "":
		writeError(w, &apiError{http.StatusBadRequest, "BadRequest", fmt.Sprintf("properties.tenantId is required: the tenant of the principals that use the vault (%s here).", s.opts.TenantID)})
		return
	case props.SKU == nil || (!strings.EqualFold(props.SKU.Name, "standard") && !strings.EqualFold(props.SKU.Name, "premium")):
		writeError(w, &apiError{http.StatusBadRequest, "BadRequest", "properties.sku is required: {\"family\": \"A\", \"name\": \"standard\"} (or premium)."})
		return
	}
	var stored map[string]any
	_ = json.Unmarshal(body.Properties, &stored)
	stored["provisioningState"] = "Succeeded"
	raw, err := json.Marshal(stored)
	if err != nil {
		s.fail(w, err)
		return
	}
	now, by := s.opts.Now().UTC(), callerOf(r).name()
	var out *store.Vault
	created := false
	err = s.store.Update(func(tx store.Tx) error {
		old, err := tx.Vault(id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if old == nil {
			// Vault names are global, as their URIs are in Azure.
			all, err := tx.Vaults("")
			if err != nil {
				return err
			}
			for _, v := range all {
				if strings.EqualFold(v.Name, name) {
					return errAPI{&apiError{http.StatusConflict, "VaultAlreadyExists", fmt.Sprintf("The vault name '%s' is already in use (%s): vault names are global.", name, v.ID)}}
				}
			}
		}
		v := &store.Vault{ID: id, Name: name, Location: body.Location, Tags: body.Tags, Properties: raw,
			SystemData: store.SystemData{CreatedBy: by, CreatedAt: now, LastModifiedBy: by, LastModifiedAt: now}}
		if old != nil {
			v.ID, v.SystemData.CreatedBy, v.SystemData.CreatedAt = old.ID, old.SystemData.CreatedBy, old.SystemData.CreatedAt
		}
		created, out = old == nil, v
		return tx.PutVault(v)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, putStatus(created), renderVault(out))
}

func renderVault(v *store.Vault) map[string]any {
	out := map[string]any{"id": v.ID, "name": v.Name, "type": vaultType, "location": v.Location,
		"properties": v.Properties, "systemData": renderSystemData(v.SystemData)}
	if len(v.Tags) > 0 {
		out["tags"] = v.Tags
	}
	return out
}

func (s *Server) getVault(w http.ResponseWriter, id string) {
	serveOne(s, w, func(tx store.Tx) (*store.Vault, error) { return tx.Vault(id) }, vaultNotFound(id), renderVault)
}

func (s *Server) listVaults(w http.ResponseWriter, prefix string) {
	serveList(s, w, nil, func(tx store.Tx) ([]store.Vault, error) { return tx.Vaults(prefix + "/") }, nil, renderVault)
}

// deleteVault deletes a vault with its secrets (Azure would keep it soft
// deleted; nothing is kept here).
func (s *Server) deleteVault(w http.ResponseWriter, id string) {
	err := s.store.Update(func(tx store.Tx) error { return tx.DeleteVault(id) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.fail(w, err)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request, vaultID, id, name string) {
	var body struct {
		Tags       map[string]string `json:"tags"`
		Properties struct {
			Value       *string         `json:"value"`
			ContentType string          `json:"contentType"`
			Attributes  json.RawMessage `json:"attributes"`
		} `json:"properties"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	now := s.opts.Now().UTC()
	var out *store.VaultSecret
	created := false
	err := s.store.Update(func(tx store.Tx) error {
		if _, err := tx.Vault(vaultID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errAPI{vaultNotFound(vaultID)}
			}
			return err
		}
		old, err := tx.VaultSecret(id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		sec := &store.VaultSecret{ID: id, Name: name, ContentType: body.Properties.ContentType, Created: now, Updated: now}
		switch {
		case old != nil && body.Properties.Value == nil: // metadata only
			sec.Sealed, sec.KeyID, sec.Created = old.Sealed, old.KeyID, old.Created
		case body.Properties.Value == nil:
			return errAPI{&apiError{http.StatusBadRequest, "BadParameter", "properties.value is required: the secret's value (never returned)."}}
		default:
			sealed, keyID, err := s.sealer.seal(map[string]string{"value": *body.Properties.Value}, store.Key(id))
			if err != nil {
				return err
			}
			sec.Sealed, sec.KeyID = sealed, keyID
			if old != nil {
				sec.Created = old.Created
			}
		}
		created, out = old == nil, sec
		return tx.PutVaultSecret(sec)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, putStatus(created), renderSecret(out))
}

// renderSecret is a secret without its value, as ARM returns it.
func renderSecret(sec *store.VaultSecret) map[string]any {
	vault := strings.Split(sec.ID, "/")[8]
	uri := "https://" + vault + ".vault.azure.net/secrets/" + sec.Name
	props := map[string]any{"attributes": map[string]any{"enabled": true, "created": sec.Created.Unix(), "updated": sec.Updated.Unix()},
		"secretUri": uri}
	if sec.ContentType != "" {
		props["contentType"] = sec.ContentType
	}
	return map[string]any{"id": sec.ID, "name": sec.Name, "type": vaultType + "/secrets", "properties": props}
}

func (s *Server) getSecret(w http.ResponseWriter, id string) {
	serveOne(s, w, func(tx store.Tx) (*store.VaultSecret, error) { return tx.VaultSecret(id) },
		&apiError{http.StatusNotFound, "SecretNotFound", fmt.Sprintf("The secret '%s' was not found.", id)}, renderSecret)
}

func (s *Server) listSecrets(w http.ResponseWriter, vaultID string) {
	value := []any{}
	err := s.store.View(func(tx store.Tx) error {
		if _, err := tx.Vault(vaultID); err != nil {
			return err
		}
		all, err := tx.VaultSecrets(vaultID)
		for i := range all {
			value = append(value, renderSecret(&all[i]))
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, vaultNotFound(vaultID))
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"value": value})
	}
}

// vaultResolver reads secrets for a deployment made by principal, as
// Azure's template deployments do: the vault must allow template
// deployments and the principal must hold .../vaults/deploy/action on it.
// Its errors never hold a secret's value.
func (s *Server) vaultResolver(grants []armrbac.Grant, principal string) func(vaultID, secretName, version string) (string, error) {
	return func(vaultID, secretName, version string) (string, error) {
		if version != "" {
			return "", fmt.Errorf("secret versions are not kept here: reference %s in %s without secretVersion", secretName, vaultID)
		}
		var (
			v   *store.Vault
			sec *store.VaultSecret
		)
		err := s.store.View(func(tx store.Tx) error {
			var err error
			if v, err = tx.Vault(vaultID); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("the Key Vault %s was not found: give the vault's resource ID (/subscriptions/.../providers/Microsoft.KeyVault/vaults/<name>)", vaultID)
				}
				return err
			}
			if sec, err = tx.VaultSecret(v.ID + "/secrets/" + secretName); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("the Key Vault %s has no secret %s", v.Name, secretName)
			}
			return err
		})
		if err != nil {
			return "", err
		}
		var props vaultProperties
		_ = json.Unmarshal(v.Properties, &props)
		if !props.EnabledForTemplateDeployment {
			return "", fmt.Errorf("the Key Vault %s does not allow template deployments to read it: set properties.enabledForTemplateDeployment to true", v.Name)
		}
		if !armrbac.Allowed(grants, deployFromVault, v.ID) {
			return "", fmt.Errorf("the deploying identity %s has no role allowing %s on %s: give it one (Contributor, say) on the vault", principal, deployFromVault, v.ID)
		}
		values, err := s.sealer.open(sec.Sealed, sec.KeyID, store.Key(sec.ID))
		if err != nil {
			return "", fmt.Errorf("the secret %s of %s cannot be opened: %w", secretName, v.Name, err)
		}
		return values["value"], nil
	}
}
