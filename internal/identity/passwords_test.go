package identity

import (
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"Tr0ub4dor", true},                     // lower, upper, digit
		{"tr0ub4dor&", true},                    // lower, digit, symbol
		{"CORRECT-HORSE-9", true},               // upper, symbol, digit
		{"Ünïcödé-Pässwört", true},              // lower, upper, symbol in any script
		{"Sh0rt!", false},                       // 6 characters
		{"alllowercase1", false},                // two kinds
		{"ALLUPPER-CASE", false},                // two kinds
		{"Tab\tInside1", false},                 // a control character
		{strings.Repeat("Aa1", 86), false},      // 258 characters
		{strings.Repeat("Aa1", 85) + "!", true}, // 256
		{"", false},
	} {
		if err := CheckPassword(tc.password); (err == nil) != tc.ok {
			t.Errorf("CheckPassword(%q) = %v, want ok %v", tc.password, err, tc.ok)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	hash, err := HashPassword("Tr0ub4dor&3")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := HashPassword("Tr0ub4dor&3")
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || hash == again || strings.Contains(hash, "Tr0ub4dor") {
		t.Fatalf("hash %q (again %q): want a salted argon2id PHC string", hash, again)
	}
	parts := strings.Split(hash, "$")
	for _, tc := range []struct {
		password, hash string
		ok             bool
	}{
		{"Tr0ub4dor&3", hash, true},
		{"tr0ub4dor&3", hash, false},
		{"Tr0ub4dor&3 ", hash, false},
		{"", hash, false},
		{"Tr0ub4dor&3", "", false},
		{"Tr0ub4dor&3", strings.Replace(hash, "argon2id", "argon2i", 1), false},
		{"Tr0ub4dor&3", strings.Replace(hash, "t=2", "t=3", 1), false},            // other parameters: another key
		{"Tr0ub4dor&3", strings.Replace(hash, "m=19456", "m=99999999", 1), false}, // refused, not allocated
		{"Tr0ub4dor&3", strings.Join(append(parts[:5:5], "!!"), "$"), false},
		{"Tr0ub4dor&3", HashSecret("Tr0ub4dor&3"), false}, // a service principal's kind of hash
	} {
		if got := PasswordMatches(tc.password, tc.hash); got != tc.ok {
			t.Errorf("PasswordMatches(%q, %q) = %v, want %v", tc.password, tc.hash, got, tc.ok)
		}
	}
}
