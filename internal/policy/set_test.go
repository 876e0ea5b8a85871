package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func memberDefinition(t *testing.T) *Definition {
	t.Helper()
	d, err := ParseDefinition(DefinitionProperties{
		Parameters: map[string]ParameterDefinition{
			"url":    {Type: "String"},
			"effect": {Type: "String", DefaultValue: json.RawMessage(`"Audit"`), AllowedValues: []any{"Audit", "Disabled"}},
		},
		PolicyRule: json.RawMessage(`{"if": {"field": "` + fc + `gitRepository.url", "notEquals": "[parameters('url')]"}, "then": {"effect": "[parameters('effect')]"}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSet(t *testing.T) {
	def := memberDefinition(t)
	lookup := func(id string) (*Definition, error) {
		if strings.HasSuffix(id, "/audit-url") {
			return def, nil
		}
		return nil, errors.New("no such policy definition")
	}
	props := SetProperties{
		Parameters: map[string]ParameterDefinition{"url": {Type: "String", DefaultValue: json.RawMessage(`"https://github.com/org/baseline"`)}},
		Groups:     []SetGroup{{Name: "sources"}},
		PolicyDefinitions: []SetMember{
			{PolicyDefinitionID: "/subscriptions/s1/providers/Microsoft.Authorization/policyDefinitions/audit-url",
				Parameters: map[string]json.RawMessage{"url": json.RawMessage(`{"value": "[parameters('url')]"}`)}, GroupNames: []string{"Sources"}},
			{PolicyDefinitionID: "/subscriptions/s1/providers/Microsoft.Authorization/policyDefinitions/audit-url",
				Parameters: map[string]json.RawMessage{"url": json.RawMessage(`{"value": "[concat(parameters('url'), '-mirror')]"}`), "effect": json.RawMessage(`{"value": "Disabled"}`)}},
		},
	}
	set, err := ParseSet(props, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{set.Members[0].ReferenceID, set.Members[1].ReferenceID}; got[0] != "audit-url" || got[1] != "audit-url_2" {
		t.Errorf("generated reference IDs: %v", got)
	}
	members, err := set.Resolve(map[string]json.RawMessage{"url": json.RawMessage(`{"value": "https://github.com/org/fleet"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if members[0].Parameters["url"] != "https://github.com/org/fleet" || members[0].Parameters["effect"] != "Audit" ||
		members[1].Parameters["url"] != "https://github.com/org/fleet-mirror" || members[1].Parameters["effect"] != "Disabled" {
		t.Errorf("members' parameters: %+v, %+v", members[0].Parameters, members[1].Parameters)
	}
	if _, err := set.Resolve(map[string]json.RawMessage{"branch": json.RawMessage(`{"value": "main"}`)}); err == nil || !strings.Contains(err.Error(), "properties.parameters.branch: the definition has no such parameter") {
		t.Errorf("an unknown set parameter: %v", err)
	}

	member := func(id, params string) SetMember {
		m := SetMember{PolicyDefinitionID: id}
		if params != "" {
			_ = json.Unmarshal([]byte(params), &m.Parameters)
		}
		return m
	}
	ok := "/subscriptions/s1/providers/Microsoft.Authorization/policyDefinitions/audit-url"
	for _, tc := range []struct {
		name  string
		props SetProperties
		want  string
	}{
		{"no members", SetProperties{}, "properties.policyDefinitions: is required"},
		{"unknown definition", SetProperties{PolicyDefinitions: []SetMember{member(ok+"-nope", "")}}, "properties.policyDefinitions[0].policyDefinitionId: no such policy definition"},
		{"unknown member parameter", SetProperties{PolicyDefinitions: []SetMember{member(ok, `{"branch": {"value": "main"}}`)}},
			"properties.policyDefinitions[0].parameters.branch: the definition has no such parameter (it has effect, url)"},
		{"unknown set parameter", SetProperties{PolicyDefinitions: []SetMember{member(ok, `{"url": {"value": "[parameters('repo')]"}}`)}},
			"parameters('repo') names no parameter of the set (it has none)"},
		{"duplicate reference", SetProperties{PolicyDefinitions: []SetMember{{PolicyDefinitionID: ok, ReferenceID: "a"}, {PolicyDefinitionID: ok, ReferenceID: "A"}}},
			`properties.policyDefinitions[1].policyDefinitionReferenceId: "A" is used by another member`},
		{"undeclared group", SetProperties{PolicyDefinitions: []SetMember{{PolicyDefinitionID: ok, GroupNames: []string{"x"}}}},
			`"x" is not a group of the set: declare it in properties.policyDefinitionGroups`},
		{"bad set parameter type", SetProperties{Parameters: map[string]ParameterDefinition{"p": {Type: "Text"}}, PolicyDefinitions: []SetMember{member(ok, "")}},
			`parameters.p.type: "Text" is not a parameter type`},
	} {
		if _, err := ParseSet(tc.props, lookup); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A member parameter without a value from the set: resolving says which.
	noURL, err := ParseSet(SetProperties{PolicyDefinitions: []SetMember{member(ok, "")}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noURL.Resolve(nil); err == nil || !strings.Contains(err.Error(), "member audit-url: properties.parameters.url: has no value and no default") {
		t.Errorf("a member parameter with no value: %v", err)
	}
}
