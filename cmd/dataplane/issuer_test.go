package main

import "testing"

func TestDefaultIssuer(t *testing.T) {
	for _, tc := range []struct{ external, listen, want string }{
		{"https://hub.example.com/", "0.0.0.0:8090", "https://hub.example.com/adfs"},
		{"", "127.0.0.1:8090", "https://127.0.0.1:8090/adfs"},
		{"", ":8090", "https://localhost:8090/adfs"},
		{"", "[::]:8443", "https://localhost:8443/adfs"},
		{"", "hub.internal:8090", "https://hub.internal:8090/adfs"},
	} {
		if got := defaultIssuer(tc.external, tc.listen); got != tc.want {
			t.Errorf("defaultIssuer(%q, %q) = %q, want %q", tc.external, tc.listen, got, tc.want)
		}
	}
}
