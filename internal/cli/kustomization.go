package cli

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// kustomizationSpec is one kustomization, parsed from a --kustomization
// value or from the flags of kustomization create/update.
type kustomizationSpec struct {
	Name string
	Def  v1alpha1.KustomizationDefinition
	// Set lists the keys given, so that an update sends only those.
	Set []string
}

// kustomizationKeys are the accepted keys of --kustomization, with az's
// aliases.
var kustomizationKeys = map[string]string{
	"name": "name", "path": "path",
	"depends_on": "depends_on", "dependson": "depends_on", "depends-on": "depends_on", "dependsOn": "depends_on",
	"timeout": "timeout", "sync_interval": "sync_interval", "interval": "sync_interval", "sync-interval": "sync_interval",
	"retry_interval": "retry_interval", "retry-interval": "retry_interval",
	"prune": "prune", "force": "force", "disable_health_check": "disable_health_check", "disable-health-check": "disable_health_check",
}

// parseKustomization parses "name=apps path=./apps depends_on=infra prune=true"
// (words joined by spaces or, from joinKustomizationArgs, NULs).
func parseKustomization(v string) (*kustomizationSpec, error) {
	k := &kustomizationSpec{}
	for _, pair := range strings.Fields(strings.ReplaceAll(v, "\x00", " ")) {
		key, val, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, usagef("--kustomization %q is not key=value: write name=NAME path=PATH ...", pair)
		}
		canon, known := kustomizationKeys[key]
		if !known {
			return nil, usagef("--kustomization has an unknown key %q: use name, path, depends_on, timeout, sync_interval, retry_interval, prune, force or disable_health_check", key)
		}
		if canon == "name" {
			k.Name = val
			k.Set = append(k.Set, canon)
			continue
		}
		if err := k.set(canon, "kustomization "+key, val); err != nil {
			return nil, err
		}
	}
	if k.Name == "" {
		return nil, usagef("--kustomization needs name=NAME")
	}
	return k, nil
}

// set sets the canonical key to val; flag names it in errors.
func (k *kustomizationSpec) set(key, flag, val string) error {
	k.Set = append(k.Set, key)
	switch key {
	case "path":
		k.Def.Path = val
	case "depends_on":
		k.Def.DependsOn = splitList(val)
		if k.Def.DependsOn == nil {
			k.Def.DependsOn = []string{}
		}
	case "timeout", "sync_interval", "retry_interval":
		n, err := seconds(flag, val)
		if err != nil {
			return err
		}
		switch key {
		case "timeout":
			k.Def.TimeoutInSeconds = &n
		case "sync_interval":
			k.Def.SyncIntervalInSeconds = &n
		default:
			k.Def.RetryIntervalInSeconds = &n
		}
	case "prune", "force", "disable_health_check":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return usagef("--%s=%q: use true or false", flag, val)
		}
		switch key {
		case "prune":
			k.Def.Prune = b
		case "force":
			k.Def.Force = b
		default:
			wait := !b
			k.Def.Wait = &wait
		}
	}
	return nil
}

// body is the kustomization as az sends it: only the keys given.
func (k *kustomizationSpec) body() map[string]any {
	out := map[string]any{}
	add := func(key, field string, v any) {
		if slices.Contains(k.Set, key) {
			out[field] = v
		}
	}
	add("path", "path", k.Def.Path)
	deps := k.Def.DependsOn
	if deps == nil {
		deps = []string{}
	}
	add("depends_on", "dependsOn", deps)
	if k.Def.TimeoutInSeconds != nil {
		add("timeout", "timeoutInSeconds", *k.Def.TimeoutInSeconds)
	}
	if k.Def.SyncIntervalInSeconds != nil {
		add("sync_interval", "syncIntervalInSeconds", *k.Def.SyncIntervalInSeconds)
	}
	if k.Def.RetryIntervalInSeconds != nil {
		add("retry_interval", "retryIntervalInSeconds", *k.Def.RetryIntervalInSeconds)
	}
	add("prune", "prune", k.Def.Prune)
	add("force", "force", k.Def.Force)
	add("disable_health_check", "wait", k.Def.Wait == nil || *k.Def.Wait)
	return out
}

// defaultKustomizationBody is the kustomization az creates when flux create
// is given none: every property at the REST spec's default.
func defaultKustomizationBody() map[string]any {
	return map[string]any{"path": "", "timeoutInSeconds": v1alpha1.DefaultIntervalSeconds,
		"syncIntervalInSeconds": v1alpha1.DefaultIntervalSeconds, "prune": false, "force": false, "wait": true}
}

// commandBody is the body of kustomization create or update, as az builds
// it: the keys given, wait always (true unless --disable-health-check), and
// on create the path even when not given ("", the source root).
func (k *kustomizationSpec) commandBody(create bool) map[string]any {
	body := k.body()
	body["wait"] = k.Def.Wait == nil || *k.Def.Wait
	if _, ok := body["path"]; create && !ok {
		body["path"] = ""
	}
	return body
}

func (a *App) kustomizationCommand() *cobra.Command {
	return group("kustomization", "Manage the kustomizations of a Flux v2 configuration.",
		a.kustomizationWrite("create", "Add a kustomization to a Flux v2 configuration."),
		a.kustomizationWrite("update", "Change a kustomization of a Flux v2 configuration: only the flags given change."),
		a.kustomizationDelete(), a.kustomizationList(), a.kustomizationShow())
}

type kustomizationFlags struct {
	configFlags
	Kustomization, Path, Depends, Timeout, SyncInterval, RetryInterval string
	Prune, Force, DisableHealthCheck                                   bool
}

func (k *kustomizationFlags) bind(cmd *cobra.Command, withSpec bool) {
	k.configFlags.bind(cmd, configNameUsage)
	required(cmd, &k.Kustomization, "kustomization-name", "k", "Name of the kustomization.")
	if !withSpec {
		return
	}
	fl := cmd.Flags()
	fl.StringVar(&k.Path, "path", "", "Path in the source to apply (default: its root).")
	fl.StringVar(&k.Depends, "depends", "", "Comma-separated kustomizations that must be ready before this one (also --dependencies, --depends-on).")
	fl.StringVar(&k.Depends, "depends-on", "", "Alias of --depends.")
	fl.StringVar(&k.Timeout, "timeout", "", "Maximum time to apply, e.g. 10m (default 10m).")
	fl.StringVar(&k.SyncInterval, "sync-interval", "", "Time between applies, e.g. 10m (default 10m).")
	fl.StringVar(&k.SyncInterval, "interval", "", "Alias of --sync-interval.")
	fl.StringVar(&k.RetryInterval, "retry-interval", "", "Time before a failed apply is retried, e.g. 1m.")
	fl.BoolVar(&k.Prune, "prune", false, "Delete the objects this kustomization applied when they leave the source.")
	fl.BoolVar(&k.Force, "force", false, "Recreate objects whose immutable fields changed.")
	fl.BoolVar(&k.DisableHealthCheck, "disable-health-check", false, "Do not wait for the applied objects to become ready.")
}

// spec turns the flags given into a kustomizationSpec.
func (k *kustomizationFlags) spec(changed func(string) bool) (*kustomizationSpec, error) {
	s := &kustomizationSpec{Name: k.Kustomization, Set: []string{"name"}}
	flags := []struct{ flag, key, val string }{
		{"path", "path", k.Path},
		{"depends", "depends_on", k.Depends}, {"depends-on", "depends_on", k.Depends},
		{"timeout", "timeout", k.Timeout},
		{"sync-interval", "sync_interval", k.SyncInterval}, {"interval", "sync_interval", k.SyncInterval},
		{"retry-interval", "retry_interval", k.RetryInterval},
		{"prune", "prune", strconv.FormatBool(k.Prune)},
		{"force", "force", strconv.FormatBool(k.Force)},
		{"disable-health-check", "disable_health_check", strconv.FormatBool(k.DisableHealthCheck)},
	}
	for _, f := range flags {
		if !changed(f.flag) {
			continue
		}
		if f.val == "" && f.key != "path" && f.key != "depends_on" {
			return nil, usagef("--%s needs a value", f.flag)
		}
		if err := s.set(f.key, f.flag, f.val); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (a *App) kustomizationWrite(verb, short string) *cobra.Command {
	var k kustomizationFlags
	var noWait bool
	cmd := leaf(verb, short, func(cmd *cobra.Command) error {
		spec, err := k.spec(cmd.Flags().Changed)
		if err != nil {
			return err
		}
		current, err := a.getConfig(&k.configFlags)
		if err != nil {
			return err
		}
		props, _ := current["properties"].(map[string]any)
		ks, _ := props["kustomizations"].(map[string]any)
		_, exists := ks[k.Kustomization]
		switch {
		case verb == "create" && exists:
			return usagef("kustomization %s already exists in %s: use kustomization update", k.Kustomization, k.Name)
		case verb == "update" && !exists:
			return notFoundf("kustomization %s does not exist in %s: use kustomization create", k.Kustomization, k.Name)
		}
		out, err := a.patchKustomization(&k.configFlags, k.Kustomization, spec.commandBody(verb == "create"), noWait)
		if err != nil {
			return err
		}
		return a.printKustomizations(out, k.Kustomization)
	})
	k.bind(cmd, true)
	bindNoWait(cmd, &noWait)
	return cmd
}

// patchKustomization sets kustomization name of configuration c to body
// (null deletes it), waits for the cluster unless noWait, and returns the
// configuration.
func (a *App) patchKustomization(c *configFlags, name string, body any, noWait bool) (map[string]any, error) {
	patch := map[string]any{"properties": map[string]any{"kustomizations": map[string]any{name: body}}}
	return a.writeAndSettle(http.MethodPatch, c, patch, noWait)
}

func (a *App) kustomizationDelete() *cobra.Command {
	var k kustomizationFlags
	var yes, noWait bool
	cmd := leaf("delete", "Remove a kustomization from a Flux v2 configuration (its objects are pruned if it prunes).", func(*cobra.Command) error {
		if _, err := a.fluxPath(&k.configFlags); err != nil {
			return err
		}
		if err := a.confirm(yes, "delete kustomization "+k.Kustomization); err != nil {
			return err
		}
		_, err := a.patchKustomization(&k.configFlags, k.Kustomization, nil, noWait)
		return err
	})
	k.bind(cmd, false)
	bindYes(cmd, &yes)
	bindNoWait(cmd, &noWait)
	return cmd
}

func (a *App) kustomizationList() *cobra.Command {
	return a.readCommand("list", "List the kustomizations of a Flux v2 configuration.", nil,
		func(_ *configFlags, cfg map[string]any) error { return a.printKustomizations(cfg, "") })
}

func (a *App) kustomizationShow() *cobra.Command {
	var name string
	return a.readCommand("show", "Show one kustomization of a Flux v2 configuration.",
		func(cmd *cobra.Command) {
			required(cmd, &name, "kustomization-name", "k", "Name of the kustomization.")
		},
		func(_ *configFlags, cfg map[string]any) error { return a.printKustomizations(cfg, name) })
}

// printKustomizations prints the kustomizations of a configuration as az
// does: a map keyed by name, all of them or the one named only.
func (a *App) printKustomizations(cfg map[string]any, only string) error {
	props, _ := cfg["properties"].(map[string]any)
	ks, _ := props["kustomizations"].(map[string]any)
	if ks == nil {
		ks = map[string]any{}
	}
	azKustomizations(ks)
	if only != "" {
		k, ok := ks[only]
		if !ok {
			return notFoundf("kustomization %s does not exist", only)
		}
		ks = map[string]any{only: k}
	}
	return a.printRows(ks, kustomizationRows(ks), kustomizationColumns)
}
