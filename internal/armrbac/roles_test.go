package armrbac

import "testing"

func TestActionMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.Resources/subscriptions/resourceGroups/write", true},
		{"*/read", "Microsoft.KubernetesConfiguration/fluxConfigurations/read", true},
		{"*/read", "Microsoft.KubernetesConfiguration/fluxConfigurations/write", false},
		{"*/read", "Microsoft.Kubernetes/connectedClusters/regenerateAgentToken/action", false},
		{"Microsoft.Authorization/*/Write", "microsoft.authorization/roleAssignments/write", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", false},
		{"Microsoft.KubernetesConfiguration/*", "Microsoft.KubernetesConfiguration/fluxConfigurations/delete", true},
		{"Microsoft.KubernetesConfiguration/*", "Microsoft.Kubernetes/connectedClusters/write", false},
		{"Microsoft.Kubernetes/connectedClusters/read", "Microsoft.Kubernetes/connectedClusters/read", true},
		{"Microsoft.Kubernetes/connectedClusters/read", "Microsoft.Kubernetes/connectedClusters/readx", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"", "", true},
		{"", "x", false},
	} {
		if got := ActionMatches(tc.pattern, tc.action); got != tc.want {
			t.Errorf("ActionMatches(%q, %q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}

func TestScopeContains(t *testing.T) {
	const sub = "/subscriptions/s1"
	const rg = sub + "/resourceGroups/rg1"
	for _, tc := range []struct {
		parent, child string
		want          bool
	}{
		{"/", rg, true},
		{"", rg, true},
		{sub, rg, true},
		{sub, sub, true},
		{sub + "/", "/SUBSCRIPTIONS/S1/resourcegroups/RG1", true},
		{rg, sub, false},
		{rg, sub + "/resourceGroups/rg10", false},
		{rg, rg + "/providers/Microsoft.Kubernetes/connectedClusters/c", true},
		{"/subscriptions/s", sub, false},
	} {
		if got := ScopeContains(tc.parent, tc.child); got != tc.want {
			t.Errorf("ScopeContains(%q, %q) = %v, want %v", tc.parent, tc.child, got, tc.want)
		}
	}
}

func TestAllowed(t *testing.T) {
	const rg1 = "/subscriptions/s1/resourceGroups/rg1"
	const rg2 = "/subscriptions/s1/resourceGroups/rg2"
	const fc = rg1 + "/providers/Microsoft.Kubernetes/connectedClusters/c/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/f"
	const (
		fcWrite   = "Microsoft.KubernetesConfiguration/fluxConfigurations/write"
		fcRead    = "Microsoft.KubernetesConfiguration/fluxConfigurations/read"
		raWrite   = "Microsoft.Authorization/roleAssignments/write"
		spWrite   = "Microsoft.Directory/servicePrincipals/write"
		clWrite   = "Microsoft.Kubernetes/connectedClusters/write"
		tokRegen  = "Microsoft.Kubernetes/connectedClusters/regenerateAgentToken/action"
		groupRead = "Microsoft.Resources/subscriptions/resourceGroups/read"
	)
	for _, tc := range []struct {
		name   string
		grants []Grant
		action string
		scope  string
		want   bool
	}{
		{"no grants", nil, fcRead, fc, false},
		{"owner at root writes anything", []Grant{{"/", Owner}}, raWrite, rg2, true},
		{"owner of rg1 writes in rg1", []Grant{{rg1, Owner}}, fcWrite, fc, true},
		{"owner of rg1 not in rg2", []Grant{{rg1, Owner}}, fcWrite, rg2 + "/x", false},
		{"contributor writes configurations", []Grant{{"/subscriptions/s1", Contributor}}, fcWrite, fc, true},
		{"contributor cannot assign roles", []Grant{{"/subscriptions/s1", Contributor}}, raWrite, rg1, false},
		{"contributor cannot make principals", []Grant{{"/", Contributor}}, spWrite, "/", false},
		{"reader reads", []Grant{{rg1, Reader}}, fcRead, fc, true},
		{"reader cannot write", []Grant{{rg1, Reader}}, fcWrite, fc, false},
		{"reader cannot take agent tokens", []Grant{{rg1, Reader}}, tokRegen, rg1 + "/providers/Microsoft.Kubernetes/connectedClusters/c", false},
		{"flux contributor writes configurations", []Grant{{rg1, FluxConfigurationContributor}}, fcWrite, fc, true},
		{"flux contributor reads groups", []Grant{{rg1, FluxConfigurationContributor}}, groupRead, rg1, true},
		{"flux contributor cannot register clusters", []Grant{{rg1, FluxConfigurationContributor}}, clWrite, rg1 + "/providers/Microsoft.Kubernetes/connectedClusters/c", false},
		{"grants add up", []Grant{{rg2, Owner}, {rg1, Reader}}, fcRead, fc, true},
		{"assignment below the target does not apply", []Grant{{fc, Owner}}, groupRead, rg1, false},
		{"user access administrator assigns roles", []Grant{{rg1, UserAccessAdministrator}}, raWrite, rg1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Allowed(tc.grants, tc.action, tc.scope); got != tc.want {
				t.Errorf("Allowed(%s at %s) = %v, want %v", tc.action, tc.scope, got, tc.want)
			}
		})
	}
}

func TestRoleLookup(t *testing.T) {
	if r, ok := RoleByID("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/ACDD72A7-3385-48EF-BD42-F606FBA81AE7"); !ok || r.Name != "Reader" {
		t.Errorf("RoleByID(Reader's id) = %v, %v", r.Name, ok)
	}
	if r, ok := RoleByName("owner"); !ok || r.ID != Owner.ID {
		t.Errorf("RoleByName(owner) = %v, %v", r.ID, ok)
	}
	if _, ok := RoleByName("Nobody"); ok {
		t.Error("RoleByName(Nobody) found a role")
	}
	if !Reaches([]Grant{{"/subscriptions/s1/resourceGroups/rg1", Reader}}, "/subscriptions/s1") {
		t.Error("a grant in a resource group does not reach its subscription")
	}
	if Reaches([]Grant{{"/subscriptions/s1/resourceGroups/rg1", Reader}}, "/subscriptions/s2") {
		t.Error("a grant reaches another subscription")
	}
}
