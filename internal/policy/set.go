package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/arcgitops/arcgitops/internal/armexpr"
)

// SetProperties are a policySetDefinition's (an initiative's) properties,
// as ARM takes them.
type SetProperties struct {
	DisplayName       string                         `json:"displayName,omitempty"`
	Description       string                         `json:"description,omitempty"`
	PolicyType        string                         `json:"policyType,omitempty"`
	Metadata          json.RawMessage                `json:"metadata,omitempty"`
	Version           string                         `json:"version,omitempty"`
	Parameters        map[string]ParameterDefinition `json:"parameters,omitempty"`
	PolicyDefinitions []SetMember                    `json:"policyDefinitions"`
	Groups            []SetGroup                     `json:"policyDefinitionGroups,omitempty"`
}

// SetMember is one definition of a set, with the values of its parameters
// (usually the set's: [parameters('x')]).
type SetMember struct {
	PolicyDefinitionID string                     `json:"policyDefinitionId"`
	ReferenceID        string                     `json:"policyDefinitionReferenceId,omitempty"`
	Parameters         map[string]json.RawMessage `json:"parameters,omitempty"`
	GroupNames         []string                   `json:"groupNames,omitempty"`
}

// SetGroup is a group of a set's definitions, by name.
type SetGroup struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Category    string `json:"category,omitempty"`
	Description string `json:"description,omitempty"`
}

// Set is a checked policy set definition: its members compiled.
type Set struct {
	Properties SetProperties
	params     *Definition // the set's own parameters, resolved as a definition's are
	Members    []SetMemberDefinition
}

// SetMemberDefinition is a member with its compiled definition.
type SetMemberDefinition struct {
	SetMember
	Definition *Definition
}

// Member is a member of an assigned set: its definition and the values of
// its parameters.
type Member struct {
	ReferenceID, DefinitionID string
	Definition                *Definition
	Parameters                map[string]any
}

// ParseSet checks a set: at least one member, each naming a definition
// that lookup finds, unique reference IDs (given to members without one,
// as Azure does), group names that the set's groups declare, and member
// parameters that name the member definition's parameters and refer only to
// the set's.
func ParseSet(props SetProperties, lookup func(id string) (*Definition, error)) (*Set, error) {
	if len(props.PolicyDefinitions) == 0 {
		return nil, errAt("properties.policyDefinitions", "is required: [{\"policyDefinitionId\": ..., \"parameters\": {...}}, ...]")
	}
	for name, p := range props.Parameters {
		if err := checkParameter(name, p); err != nil {
			return nil, err
		}
	}
	groups := map[string]bool{}
	for _, g := range props.Groups {
		groups[strings.ToLower(g.Name)] = true
	}
	set := &Set{Properties: props, params: &Definition{Properties: DefinitionProperties{Parameters: props.Parameters}}}
	seen := map[string]bool{}
	for i := range props.PolicyDefinitions {
		m := &set.Properties.PolicyDefinitions[i]
		path := fmt.Sprintf("properties.policyDefinitions[%d]", i)
		if m.PolicyDefinitionID == "" {
			return nil, errAt(path+".policyDefinitionId", "is required")
		}
		if m.ReferenceID == "" {
			m.ReferenceID = lastSegment(m.PolicyDefinitionID)
			for n := 2; seen[strings.ToLower(m.ReferenceID)]; n++ {
				m.ReferenceID = fmt.Sprintf("%s_%d", lastSegment(m.PolicyDefinitionID), n)
			}
		}
		if seen[strings.ToLower(m.ReferenceID)] {
			return nil, errAt(path+".policyDefinitionReferenceId", "%q is used by another member: reference IDs are unique in a set", m.ReferenceID)
		}
		seen[strings.ToLower(m.ReferenceID)] = true
		for _, g := range m.GroupNames {
			if !groups[strings.ToLower(g)] {
				return nil, errAt(path+".groupNames", "%q is not a group of the set: declare it in properties.policyDefinitionGroups", g)
			}
		}
		def, err := lookup(m.PolicyDefinitionID)
		if err != nil {
			return nil, errAt(path+".policyDefinitionId", "%v", err)
		}
		for name, raw := range m.Parameters {
			if !hasParam(def.Properties.Parameters, name) {
				return nil, errAt(path+".parameters."+name, "the definition has no such parameter (it has %s)", paramNames(def.Properties.Parameters))
			}
			if err := checkSetReferences(raw, props.Parameters, path+".parameters."+name); err != nil {
				return nil, err
			}
		}
		set.Members = append(set.Members, SetMemberDefinition{SetMember: *m, Definition: def})
	}
	return set, nil
}

// checkSetReferences: every parameters('x') in a member's value names a
// parameter of the set.
func checkSetReferences(raw json.RawMessage, params map[string]ParameterDefinition, path string) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return errAt(path, "is not JSON: %v", err)
	}
	for _, s := range strings_(v) {
		if !isExpr(s) {
			continue
		}
		for _, name := range paramRefs(s) {
			if !hasParam(params, name) {
				return errAt(path, "parameters('%s') names no parameter of the set (it has %s)", name, paramNames(params))
			}
		}
	}
	return nil
}

// strings_ are the strings anywhere in v.
func strings_(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, strings_(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, strings_(e)...)
		}
		return out
	}
	return nil
}

// Resolve gives each member of the set, assigned with given (the set's
// parameters), its parameters' values.
func (s *Set) Resolve(given map[string]json.RawMessage) ([]Member, error) {
	values, err := s.params.ResolveParameters(given)
	if err != nil {
		return nil, err
	}
	ev := &evaluation{env: &Env{Parameters: values}}
	out := make([]Member, 0, len(s.Members))
	for i, m := range s.Members {
		path := fmt.Sprintf("properties.policyDefinitions[%d].parameters", i)
		memberGiven := map[string]json.RawMessage{}
		for name, raw := range m.Parameters {
			var wrapped struct {
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(raw, &wrapped); err != nil || len(wrapped.Value) == 0 {
				return nil, errAt(path+"."+name, "give it as {\"value\": ...}")
			}
			v, err := armexpr.FromJSON(wrapped.Value)
			if err != nil {
				return nil, errAt(path+"."+name+".value", "is not JSON: %v", err)
			}
			x, err := ev.expand(v, path+"."+name+".value")
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(map[string]any{"value": x})
			if err != nil {
				return nil, errAt(path+"."+name, "%v", err)
			}
			memberGiven[name] = b
		}
		params, err := m.Definition.ResolveParameters(memberGiven)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.ReferenceID, err)
		}
		out = append(out, Member{ReferenceID: m.ReferenceID, DefinitionID: m.PolicyDefinitionID, Definition: m.Definition, Parameters: params})
	}
	return out, nil
}

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }
