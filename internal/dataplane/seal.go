package dataplane

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// sealer encrypts protected settings at rest with AES-256-GCM. Its key is
// a file created (0600) on first start in the data directory.
type sealer struct {
	aead cipher.AEAD
}

const keyFile = "protected-settings.key"

// loadOrCreateSealer reads the key in dir, creating it when absent.
func loadOrCreateSealer(dir string) (*sealer, error) {
	path := filepath.Join(dir, keyFile)
	key, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("failed to generate the encryption key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("failed to create %s: %w", path, err)
		}
		if _, err := f.Write(key); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("failed to write %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("failed to sync %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s must hold 32 bytes, has %d: restore it, or remove it together with the data it protects", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts values; aad binds the ciphertext to its configuration.
func (s *sealer) seal(values map[string]string, aad string) ([]byte, error) {
	plain, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(aad)), nil
}

// open decrypts what seal produced with the same aad.
func (s *sealer) open(sealed []byte, aad string) (map[string]string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed protected settings are truncated")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, errors.New("failed to decrypt protected settings: wrong key file or corrupted data")
	}
	var values map[string]string
	if err := json.Unmarshal(plain, &values); err != nil {
		return nil, err
	}
	return values, nil
}
