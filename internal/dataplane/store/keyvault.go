package store

import (
	"encoding/json"
	"time"
)

var (
	bucketVaults       = []byte("vaults")
	bucketVaultSecrets = []byte("vaultSecrets")
)

func init() { typeBuckets = append(typeBuckets, bucketVaults, bucketVaultSecrets) }

// Vault is a Microsoft.KeyVault vault: a resource group's place for
// secrets that deployments read by reference.
type Vault struct {
	// ID is /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}.
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties json.RawMessage   `json:"properties"`
	SystemData SystemData        `json:"systemData"`
}

// VaultSecret is a secret of a vault. Its value is sealed (encrypted) with
// the data plane's protected settings key and never returned.
type VaultSecret struct {
	// ID is the vault's ID + /secrets/{name}.
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType,omitempty"`
	Sealed      []byte    `json:"sealed"`
	KeyID       string    `json:"keyId"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

func (t txn) Vault(id string) (*Vault, error) {
	return get[Vault](t.b(bucketVaults), Key(id))
}

func (t txn) Vaults(prefix string) ([]Vault, error) {
	return all[Vault](t.b(bucketVaults), []byte(Key(prefix)))
}

func (t txn) PutVault(v *Vault) error { return put(t.b(bucketVaults), Key(v.ID), v) }

// DeleteVault deletes a vault and its secrets.
func (t txn) DeleteVault(id string) error {
	if err := deleteExisting(t.b(bucketVaults), Key(id)); err != nil {
		return err
	}
	secrets, err := t.VaultSecrets(id)
	for _, s := range secrets {
		if err == nil {
			err = t.DeleteVaultSecret(s.ID)
		}
	}
	return err
}

func (t txn) VaultSecret(id string) (*VaultSecret, error) {
	return get[VaultSecret](t.b(bucketVaultSecrets), Key(id))
}

// VaultSecrets are the secrets of a vault (every vault's with "").
func (t txn) VaultSecrets(vaultID string) ([]VaultSecret, error) {
	prefix := ""
	if vaultID != "" {
		prefix = Key(vaultID) + "/secrets/"
	}
	return all[VaultSecret](t.b(bucketVaultSecrets), []byte(prefix))
}

func (t txn) PutVaultSecret(s *VaultSecret) error {
	return put(t.b(bucketVaultSecrets), Key(s.ID), s)
}

func (t txn) DeleteVaultSecret(id string) error {
	return deleteExisting(t.b(bucketVaultSecrets), Key(id))
}
