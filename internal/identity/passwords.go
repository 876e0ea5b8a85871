package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Users' passwords are chosen by people, so they are hashed slowly:
// Argon2id (golang.org/x/crypto/argon2) with OWASP's minimum parameters
// (19 MiB, 2 passes, 1 lane), stored as a PHC string that names them, so
// that stronger ones can follow without breaking stored hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// ErrWeakPassword is CheckPassword's answer for a password Entra ID would
// refuse.
var ErrWeakPassword = errors.New("the password does not meet the complexity requirements: 8 to 256 characters, " +
	"with three of lower-case letters, upper-case letters, digits and symbols, and no control characters")

// CheckPassword applies Entra ID's rules for a user's password: 8 to 256
// characters, three of the four kinds (lower case, upper case, digits,
// symbols), no control characters.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < 8 || n > 256 || !utf8.ValidString(password) {
		return ErrWeakPassword
	}
	var lower, upper, digit, symbol bool
	for _, r := range password {
		switch {
		case unicode.IsControl(r):
			return ErrWeakPassword
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			symbol = true
		}
	}
	kinds := 0
	for _, has := range []bool{lower, upper, digit, symbol} {
		if has {
			kinds++
		}
	}
	if kinds < 3 {
		return ErrWeakPassword
	}
	return nil
}

// HashPassword hashes a user's password with a new random salt.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// PasswordMatches checks password against a HashPassword hash, with the
// parameters the hash names, in constant time; a hash it cannot read
// matches nothing.
func PasswordMatches(password, hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil || memory > 1<<20 || passes > 16 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// unknownUserHash is checked against when a user name does not exist, so
// that answers take as long as for a wrong password.
var unknownUserHash, _ = HashPassword("no such user")

// UnknownUser spends the time of a password check, for a name that does
// not exist.
func UnknownUser(password string) { PasswordMatches(password, unknownUserHash) }
