// Package identity is the data plane's built-in token issuer, shaped like
// ADFS as Azure Stack Hub uses it so that the stock az CLI signs in to it:
// service principal secrets, signed JWT access tokens, their signing keys
// (kept in the data directory, rotated without invalidating tokens already
// issued), and the verification of tokens from it or from an external
// OpenID Connect issuer.
package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Algorithm is the only signature algorithm the issuer signs with and
// accepts (so "alg": "none" or an HMAC forged with the public key is
// refused before any key is tried).
const Algorithm = jose.ES256

const (
	keySuffix     = ".key"
	retiredSuffix = ".retired.key"
)

// KeySet holds the signing keys: the active one, and retired ones that
// still verify the tokens they signed until those have expired.
type KeySet struct {
	active  jose.JSONWebKey
	retired []jose.JSONWebKey
}

// LoadKeys reads the signing keys in dir, creating dir and a first key if
// there is none. With rotate, a new key becomes active and the old one is
// retired. Retired keys older than maxTokenLifetime are deleted: no token
// they signed is still valid.
func LoadKeys(dir string, rotate bool, maxTokenLifetime time.Duration, now time.Time) (*KeySet, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	ks := &KeySet{}
	var actives []string
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, retiredSuffix):
			info, err := e.Info()
			if err != nil {
				return nil, err
			}
			if now.Sub(info.ModTime()) > maxTokenLifetime {
				if err := os.Remove(path); err != nil {
					return nil, fmt.Errorf("failed to remove the expired signing key %s: %w", path, err)
				}
				continue
			}
			k, err := readKey(path, strings.TrimSuffix(name, retiredSuffix))
			if err != nil {
				return nil, err
			}
			ks.retired = append(ks.retired, k)
		case strings.HasSuffix(name, keySuffix):
			actives = append(actives, name)
		}
	}
	switch {
	case len(actives) > 1:
		return nil, fmt.Errorf("%s holds %d active signing keys (%s): keep one and rename the others to <id>%s", dir, len(actives), strings.Join(actives, ", "), retiredSuffix)
	case len(actives) == 1:
		path := filepath.Join(dir, actives[0])
		k, err := readKey(path, strings.TrimSuffix(actives[0], keySuffix))
		if err != nil {
			return nil, err
		}
		if !rotate {
			ks.active = k
			return ks, nil
		}
		retiredPath := filepath.Join(dir, k.KeyID+retiredSuffix)
		if err := os.Rename(path, retiredPath); err != nil {
			return nil, fmt.Errorf("failed to retire signing key %s: %w", path, err)
		}
		if err := os.Chtimes(retiredPath, now, now); err != nil {
			return nil, err
		}
		ks.retired = append(ks.retired, k)
	}
	k, err := newKey(dir)
	if err != nil {
		return nil, err
	}
	ks.active = k
	return ks, nil
}

func newKey(dir string) (jose.JSONWebKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return jose.JSONWebKey{}, err
	}
	kid := hex.EncodeToString(id)
	path := filepath.Join(dir, kid+keySuffix)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("failed to write signing key %s: %w", path, err)
	}
	return jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(Algorithm), Use: "sig"}, nil
}

func readKey(path, kid string) (jose.JSONWebKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return jose.JSONWebKey{}, fmt.Errorf("signing key %s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return jose.JSONWebKey{}, fmt.Errorf("signing key %s is not an ECDSA P-256 key", path)
	}
	return jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(Algorithm), Use: "sig"}, nil
}

// JWKS is the public half of every key that verifies: what the JWKS
// endpoint serves.
func (ks *KeySet) JWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ks.active.Public()}}
	for _, k := range ks.retired {
		set.Keys = append(set.Keys, k.Public())
	}
	return set
}

// verificationKey is the public key named kid.
func (ks *KeySet) verificationKey(kid string) (any, error) {
	if kid == ks.active.KeyID {
		return ks.active.Public().Key, nil
	}
	for _, k := range ks.retired {
		if k.KeyID == kid {
			return k.Public().Key, nil
		}
	}
	return nil, errors.New("unknown signing key")
}
