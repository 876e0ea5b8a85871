package policy

// Applicability, as Azure Policy documents it ("What is applicability in
// Azure Policy?"): for the *IfNotExists effects the whole if decides; for
// every other effect only the if's type, name and kind conditions do, the
// others counting as true (false when negated), with these refinements: an
// if of only kind conditions, or only name conditions, applies to every
// resource; of only type and kind (or only type and name) conditions, only
// type counts; type, kind (or name) and other conditions: type and kind
// (or name) count.

// fieldKinds are the standard fields an if's leaves read, by kind: "type",
// "name", "kind" or "other" (aliases, tags, values, counts).
func (c *Condition) fieldKinds(into map[string]bool) {
	if c.logic != "" {
		for _, ch := range c.children {
			ch.fieldKinds(into)
		}
		return
	}
	into[leafKind(c)] = true
}

func leafKind(c *Condition) string {
	if c.count != nil || c.hasValue || isExpr(c.field) {
		return "other"
	}
	switch f, _ := standardField(c.field); f {
	case "type", "name", "kind":
		return f
	}
	return "other"
}

// applies evaluates the if for applicability: leaves of the kinds in
// counted are evaluated, the others are neutral.
func (ev *evaluation) applies(c *Condition, counted map[string]bool, negated bool) (bool, error) {
	switch c.logic {
	case "allOf":
		for _, ch := range c.children {
			ok, err := ev.applies(ch, counted, negated)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "anyOf":
		for _, ch := range c.children {
			ok, err := ev.applies(ch, counted, negated)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "not":
		ok, err := ev.applies(c.children[0], counted, !negated)
		return !ok, err
	}
	if !counted[leafKind(c)] {
		return !negated, nil
	}
	return ev.cond(c)
}

// Applicable reports whether the rule applies to res for an effect other
// than the *IfNotExists ones.
func (d *Definition) applicable(res *Resource, env *Env) (bool, error) {
	kinds := map[string]bool{}
	d.If.fieldKinds(kinds)
	counted := map[string]bool{"type": true, "name": true, "kind": true}
	switch {
	case !kinds["type"] && !kinds["other"] && (kinds["kind"] != kinds["name"]):
		return true, nil // only kind, or only name, conditions
	case kinds["type"] && !kinds["other"]:
		counted = map[string]bool{"type": true} // type with kind or name: type alone
	}
	ev := &evaluation{res: res, env: env}
	return ev.applies(d.If, counted, false)
}
