package dataplane

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

// msgKeyLost is the error of a configuration whose protected settings were
// given up with their key.
const msgKeyLost = "The protected settings of this configuration were lost with their encryption key: apply it again with its protected settings."

// openSealer loads the keys of the data directory and checks them against
// the store before anything is served: sealed values whose key is missing
// stop the start (with how to recover), or, with ResetProtectedSettings,
// are given up and their configurations marked Failed. Only then is a key
// created where there is none. With RotateProtectedSettingsKey, a new key
// becomes active and every sealed value is sealed again with it, in one
// transaction.
func openSealer(opts Options, st store.Store) (*sealer, error) {
	sl, err := loadSealer(opts.KeysDir, false)
	if err != nil {
		return nil, err
	}
	missing := map[string]int{}
	err = st.View(func(tx store.Tx) error {
		_, err := eachSealed(tx, func(_ *store.Cluster, cfg *store.Config) (bool, error) {
			if !sl.has(cfg.Protected.KeyID) {
				missing[cfg.Protected.KeyID]++
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		return eachVaultSecret(tx, func(sec *store.VaultSecret) (bool, error) {
			if !sl.has(sec.KeyID) {
				missing[sec.KeyID]++
			}
			return false, nil
		})
	})
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		if !opts.ResetProtectedSettings {
			return nil, missingKeyError(opts.KeysDir, missing)
		}
		if err := st.Update(func(tx store.Tx) error {
			_, err := eachSealed(tx, func(_ *store.Cluster, cfg *store.Config) (bool, error) {
				if sl.has(cfg.Protected.KeyID) {
					return false, nil
				}
				cfg.Protected, cfg.Error = nil, msgKeyLost
				return true, nil
			})
			if err != nil {
				return err
			}
			// A Key Vault secret whose key is gone is gone: the deployments
			// that read it say the vault has no such secret.
			secrets, err := tx.VaultSecrets("")
			for _, sec := range secrets {
				if err == nil && !sl.has(sec.KeyID) {
					err = tx.DeleteVaultSecret(sec.ID)
				}
			}
			return err
		}); err != nil {
			return nil, err
		}
		opts.Log.Info("Gave up protected settings whose key is missing", "configurations", fmt.Sprint(missing))
	}
	if sl.active == "" {
		if sl, err = loadSealer(opts.KeysDir, true); err != nil {
			return nil, err
		}
	}
	if opts.RotateProtectedSettingsKey {
		if err := rotate(sl, st); err != nil {
			return nil, err
		}
		opts.Log.Info("Rotated the protected settings key", "active", sl.active, "keys", sl.ids())
	}
	return sl, nil
}

// rotate makes a new key active and seals every sealed value again with it.
func rotate(sl *sealer, st store.Store) error {
	if err := sl.rotate(); err != nil {
		return err
	}
	return st.Update(func(tx store.Tx) error {
		_, err := eachSealed(tx, func(c *store.Cluster, cfg *store.Config) (bool, error) {
			aad := store.Key(c.ID) + "/" + cfg.Name
			values, err := sl.open(cfg.Protected.Sealed, cfg.Protected.KeyID, aad)
			if err != nil {
				return false, fmt.Errorf("configuration %s of %s: %w", cfg.Name, c.ID, err)
			}
			if cfg.Protected.Sealed, cfg.Protected.KeyID, err = sl.seal(values, aad); err != nil {
				return false, err
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		return eachVaultSecret(tx, func(sec *store.VaultSecret) (bool, error) {
			values, err := sl.open(sec.Sealed, sec.KeyID, store.Key(sec.ID))
			if err != nil {
				return false, fmt.Errorf("vault secret %s: %w", sec.ID, err)
			}
			sec.Sealed, sec.KeyID, err = sl.seal(values, store.Key(sec.ID))
			return err == nil, err
		})
	})
}

// eachVaultSecret calls fn for every Key Vault secret and stores those fn
// changed (reporting true).
func eachVaultSecret(tx store.Tx, fn func(*store.VaultSecret) (bool, error)) error {
	secrets, err := tx.VaultSecrets("")
	if err != nil {
		return err
	}
	for i := range secrets {
		changed, err := fn(&secrets[i])
		if err != nil {
			return err
		}
		if changed {
			if err := tx.PutVaultSecret(&secrets[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachSealed calls fn for every configuration with sealed protected
// settings, and stores those fn changed (reporting true). A cluster whose
// desired state changed gets a new revision; their keys are returned, for
// waking long polls once the transaction is committed.
func eachSealed(tx store.Tx, fn func(*store.Cluster, *store.Config) (bool, error)) ([]string, error) {
	clusters, err := tx.Clusters()
	if err != nil {
		return nil, err
	}
	var bumped []string
	for i := range clusters {
		c := &clusters[i]
		configs, err := tx.Configs(c.ID)
		if err != nil {
			return nil, err
		}
		for j := range configs {
			cfg := &configs[j]
			if cfg.Protected == nil {
				continue
			}
			changed, err := fn(c, cfg)
			if err != nil {
				return nil, err
			}
			if !changed {
				continue
			}
			if err := tx.PutConfig(cfg); err != nil {
				return nil, err
			}
			if key := store.Key(c.ID); !slices.Contains(bumped, key) {
				if _, err := tx.BumpRevision(c.ID); err != nil {
					return nil, err
				}
				bumped = append(bumped, key)
			}
		}
	}
	return bumped, nil
}

// InitKeys makes the key files a data plane needs in dir (the protected
// settings key, the token signing key), keeping those already there: for
// replicas, which share one keys directory and must not each make their
// own.
func InitKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := loadSealer(dir, true); err != nil {
		return err
	}
	_, err := identity.LoadKeys(filepath.Join(dir, "token-signing"), false, DefaultOptions().TokenLifetime+time.Minute, time.Now())
	return err
}
