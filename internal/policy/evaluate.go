package policy

import "strings"

// Compliance states, as Azure Policy reports them.
const (
	Compliant    = "Compliant"
	NonCompliant = "NonCompliant"
)

// Result is one assignment's verdict on one resource.
type Result struct {
	// Applicable: the rule's if matched (else the resource is not in the
	// assignment's compliance at all).
	Applicable bool
	Effect     string
	// ComplianceState is Compliant or NonCompliant when Applicable, and the
	// effect is not Disabled.
	ComplianceState string
	// Deploy: a deployIfNotExists whose related resource does not exist.
	Deploy bool
}

// Evaluate decides an assignment's verdict on res, given the resources
// related to it (for the ifNotExists effects: those of details.type, e.g.
// a cluster's fluxConfigurations) and the assignment's parameter values.
func (d *Definition) Evaluate(res *Resource, related []*Resource, env *Env) (Result, error) {
	effect, err := d.Effect(env.Parameters)
	if err != nil {
		return Result{}, err
	}
	if effect == Disabled {
		return Result{Effect: effect}, nil
	}
	if effect == Audit || effect == Deny {
		// Only type, name and kind decide whether these apply; the rest
		// of the if decides compliance.
		applies, err := d.applicable(res, env)
		if err != nil || !applies {
			return Result{Effect: effect}, err
		}
		matched, err := d.If.Eval(res, env)
		if err != nil {
			return Result{}, err
		}
		r := Result{Applicable: true, Effect: effect, ComplianceState: Compliant}
		if matched {
			r.ComplianceState = NonCompliant
		}
		return r, nil
	}
	matched, err := d.If.Eval(res, env)
	if err != nil || !matched {
		return Result{Effect: effect}, err
	}
	r := Result{Applicable: true, Effect: effect}
	switch effect {
	case AuditIfNotExists, DeployIfNotExists:
		exists, err := d.relatedExists(related, env)
		if err != nil {
			return Result{}, err
		}
		r.ComplianceState = NonCompliant
		if exists {
			r.ComplianceState = Compliant
		}
		r.Deploy = effect == DeployIfNotExists && !exists
	}
	return r, nil
}

// relatedExists: one related resource of details.type (and details.name,
// when given) meets the existence condition.
func (d *Definition) relatedExists(related []*Resource, env *Env) (bool, error) {
	for _, rel := range related {
		if !strings.EqualFold(rel.Type, d.Details.Type) {
			continue
		}
		if d.Details.Name != "" {
			name, err := (&evaluation{res: rel, env: env}).expand(d.Details.Name, "properties.policyRule.then.details.name")
			if err != nil {
				return false, err
			}
			if s, _ := name.(string); !strings.EqualFold(s, rel.Name) {
				continue
			}
		}
		if d.Details.ExistenceCondition == nil {
			return true, nil
		}
		ok, err := d.Details.ExistenceCondition.Eval(rel, env)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
