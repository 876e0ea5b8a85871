package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// SecretPrefix starts every client secret: secret scanners can recognize
// them, and no secret starts with '-', which command lines (az login -p)
// would take for a flag.
const SecretPrefix = "agsp_"

// RandomToken returns 256 random bits, base64url-encoded: a bearer secret
// (agent tokens are these, client secrets these with SecretPrefix).
func RandomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewSecret returns a client secret of 256 random bits, and its stored form.
func NewSecret() (secret, hash string, err error) {
	t, err := RandomToken()
	if err != nil {
		return "", "", err
	}
	secret = SecretPrefix + t
	return secret, HashSecret(secret), nil
}

// Hint is the part of a secret that may be shown to tell secrets apart:
// three characters after the prefix, as Entra ID shows three.
func Hint(secret string) string {
	rest := strings.TrimPrefix(secret, SecretPrefix)
	return rest[:min(3, len(rest))]
}

// HashSecret is the stored form of a secret (a client secret, an agent
// token). Secrets are generated with 256 random bits, so SHA-256 makes guessing as hard as a slow hash would, and
// keeps sign-in cheap under a burst of wrong ones.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches compares secret with a stored hash in constant time.
func SecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}
