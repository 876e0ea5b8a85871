package arm

import "testing"

func TestScopeParts(t *testing.T) {
	for _, tc := range []struct{ id, sub, rg string }{
		{"/", "", ""},
		{"/subscriptions/s1", "s1", ""},
		{"/SUBSCRIPTIONS/s1/resourcegroups/rg1", "s1", "rg1"},
		{"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/c", "s1", "rg1"},
		{"/subscriptions/s1/providers/microsoft.insights/eventtypes", "s1", ""},
		{"/providers/Microsoft.Authorization/roleAssignments/x", "", ""},
	} {
		if sub, rg := ScopeParts(tc.id); sub != tc.sub || rg != tc.rg {
			t.Errorf("ScopeParts(%q) = %q, %q; want %q, %q", tc.id, sub, rg, tc.sub, tc.rg)
		}
	}
}
