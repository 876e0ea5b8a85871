package dataplane

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sealer encrypts protected settings at rest with AES-256-GCM. Its keys are
// files in the data directory (0600): the active one, protected-settings.key,
// created on first start, and the keys it replaced,
// protected-settings.<id>.retired.key, kept to open what they sealed. Every
// sealed value records the id of its key (the first 8 bytes of the key's
// SHA-256, in hex), so a key can be rotated, and a missing key is noticed at
// start instead of failing clusters later. A KMS can take the files' place.
type sealer struct {
	active string                 // id of the key new values are sealed with
	keys   map[string]cipher.AEAD // by id
	dir    string
}

const (
	keyFile       = "protected-settings.key"
	retiredPrefix = "protected-settings."
	retiredSuffix = ".retired.key"
)

// loadSealer reads the keys in dir. create makes the active key when there
// is none (a new data directory, or a deliberate reset).
func loadSealer(dir string, create bool) (*sealer, error) {
	s := &sealer{keys: map[string]cipher.AEAD{}, dir: dir}
	retired, err := filepath.Glob(filepath.Join(dir, retiredPrefix+"*"+retiredSuffix))
	if err != nil {
		return nil, err
	}
	for _, path := range retired {
		if _, err := s.add(path); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, keyFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if !create {
			return s, nil
		}
		if err := writeNewKey(path); err != nil {
			return nil, err
		}
	}
	if s.active, err = s.add(path); err != nil {
		return nil, err
	}
	return s, nil
}

// add reads the key file at path and returns its id.
func (s *sealer) add(path string) (string, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("failed to read %s: %w", path, err)
	}
	if len(key) != 32 {
		return "", fmt.Errorf("%s must hold 32 bytes, has %d: restore it from a backup", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(key)
	id := hex.EncodeToString(sum[:8])
	s.keys[id] = aead
	return id, nil
}

// writeNewKey writes 32 random bytes to path, which must not exist.
func writeNewKey(path string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("failed to generate the encryption key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("failed to create %s: %w", path, err)
	}
	if _, err := f.Write(key); err != nil {
		_ = f.Close()
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("failed to sync %s: %w", path, err)
	}
	return f.Close()
}

// rotate retires the active key and makes a new one active. Values sealed
// with the old key still open; the caller seals them again.
func (s *sealer) rotate() error {
	if s.active == "" {
		return errors.New("there is no active key to rotate")
	}
	path := filepath.Join(s.dir, keyFile)
	retired := filepath.Join(s.dir, retiredPrefix+s.active+retiredSuffix)
	if err := os.Rename(path, retired); err != nil {
		return fmt.Errorf("failed to retire the key: %w", err)
	}
	if err := writeNewKey(path); err != nil {
		return err
	}
	id, err := s.add(path)
	if err != nil {
		return err
	}
	s.active = id
	return nil
}

// ids lists the ids of the keys held.
func (s *sealer) ids() []string {
	var out []string
	for id := range s.keys {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// has reports whether the key keyID is held; "" is the key of values sealed
// before key ids were recorded, which can only be the first key.
func (s *sealer) has(keyID string) bool {
	if keyID == "" {
		return len(s.keys) > 0
	}
	_, ok := s.keys[keyID]
	return ok
}

// seal encrypts values with the active key, whose id it returns; aad binds
// the ciphertext to its configuration.
func (s *sealer) seal(values map[string]string, aad string) ([]byte, string, error) {
	aead, ok := s.keys[s.active]
	if !ok {
		return nil, "", errors.New("there is no active key to seal protected settings with")
	}
	plain, err := json.Marshal(values)
	if err != nil {
		return nil, "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	return aead.Seal(nonce, nonce, plain, []byte(aad)), s.active, nil
}

// open decrypts what seal produced with the key keyID and the same aad. A
// value without a key id is tried with every key held.
func (s *sealer) open(sealed []byte, keyID, aad string) (map[string]string, error) {
	var candidates []cipher.AEAD
	if keyID == "" {
		for _, id := range s.ids() {
			candidates = append(candidates, s.keys[id])
		}
	} else if aead, ok := s.keys[keyID]; ok {
		candidates = append(candidates, aead)
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("the key %s that sealed these protected settings is missing", keyID)
	}
	for _, aead := range candidates {
		n := aead.NonceSize()
		if len(sealed) < n {
			return nil, errors.New("sealed protected settings are truncated")
		}
		plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
		if err != nil {
			continue
		}
		var values map[string]string
		if err := json.Unmarshal(plain, &values); err != nil {
			return nil, err
		}
		return values, nil
	}
	return nil, errors.New("failed to decrypt protected settings: wrong key or corrupted data")
}

// missingKeyError says how to recover when sealed values need keys that are
// not in dir.
func missingKeyError(dir string, missing map[string]int) error {
	var parts []string
	for id, n := range missing {
		if id == "" {
			id = "(the original key)"
		}
		parts = append(parts, fmt.Sprintf("%s for %d configuration(s)", id, n))
	}
	sort.Strings(parts)
	return fmt.Errorf("the store holds protected settings sealed with keys that are not in %s: %s. "+
		"Restore %s (and any %s<id>%s files) from a backup; or, to give up those protected settings "+
		"(their configurations are marked Failed until they are given again), start once with --reset-protected-settings",
		dir, strings.Join(parts, ", "), keyFile, retiredPrefix, retiredSuffix)
}
