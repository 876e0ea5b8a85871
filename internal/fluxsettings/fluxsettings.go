// Package fluxsettings maps the configuration settings of Azure's
// microsoft.flux extension (az k8s-extension create --configuration-settings
// key=value) to what they mean for the Flux controllers and the manager
// this project runs: flags and environment per controller, and the
// manager's flags. It decides only; internal/localenv starts the
// processes. Settings that only mean something on Azure are refused with
// what replaces them.
package fluxsettings

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The Flux controllers, in the order they start.
const (
	SourceController       = "source-controller"
	KustomizeController    = "kustomize-controller"
	HelmController         = "helm-controller"
	NotificationController = "notification-controller"
)

var controllers = []string{SourceController, KustomizeController, HelmController, NotificationController}

// ApplierServiceAccount is the ServiceAccount Kustomizations and
// HelmReleases impersonate under multi-tenancy (the manager makes it in
// every configuration's namespace).
const ApplierServiceAccount = "flux-applier"

type kind int

const (
	boolean kind = iota
	integer
	quantity
	duration
	level
	text
)

// setting is one known key.
type setting struct {
	kind kind
	// def is the value when the key is not given ("" for none).
	def string
	// refuse, when set, says why the key cannot be honoured here and what
	// to do instead; with refuseIf, only for that value.
	refuse, refuseIf string
	help             string
}

// perController are the keys every controller takes, after
// "<controller>.".
var perController = map[string]setting{
	"concurrent":                {kind: integer, help: "reconciles at once (--concurrent)"},
	"logLevel":                  {kind: level, help: "debug, info or error (--log-level)"},
	"resources.limits.memory":   {kind: quantity, help: "memory limit; here a soft limit, GOMEMLIMIT at 90% of it"},
	"resources.limits.cpu":      {kind: quantity, refuse: "a CPU limit needs a container: set it on the controller's Deployment in a cluster"},
	"resources.requests.memory": {kind: quantity, refuse: "requests schedule pods: set them on the controller's Deployment in a cluster"},
	"resources.requests.cpu":    {kind: quantity, refuse: "requests schedule pods: set them on the controller's Deployment in a cluster"},
}

// imageControllersNotBuilt: the Go module proxy this project builds Flux
// from serves neither image controller.
const imageControllersNotBuilt = "image-reflector- and image-automation-controller cannot be built here (the Go module proxy serves no version of them): install them with Flux's release manifests in a cluster"

// known are the other keys: Azure's, and a few of this project's named in
// the same style.
var known = map[string]setting{
	"multiTenancy.enforce": {kind: boolean, def: "true",
		help: "Kustomizations and HelmReleases apply as flux-applier and cross-namespace references are refused"},
	"source-controller.enabled":       {kind: boolean, def: "true", refuseIf: "false", refuse: "FluxConfigs need source-controller"},
	"kustomize-controller.enabled":    {kind: boolean, def: "true", refuseIf: "false", refuse: "FluxConfigs need kustomize-controller"},
	"helm-controller.enabled":         {kind: boolean, def: "true", help: "run helm-controller"},
	"notification-controller.enabled": {kind: boolean, def: "true", help: "run notification-controller (Alerts, Providers, Receivers)"},
	"image-automation-controller.enabled": {kind: boolean, def: "false", refuseIf: "true",
		refuse: imageControllersNotBuilt},
	"image-reflector-controller.enabled": {kind: boolean, def: "false", refuseIf: "true",
		refuse: imageControllersNotBuilt},
	"helm-controller.detectDrift": {kind: boolean, def: "false", help: "detect drift of every Helm release (feature gate DetectDrift)"},
	"helm-controller.correctDrift": {kind: boolean, def: "false",
		help: "also correct it (feature gate CorrectDrift; an arcgitops key: a HelmRelease's spec.driftDetection.mode does the same per release)"},
	"kustomize-controller.strict-substitution-mode": {kind: boolean,
		help: "fail a post-build substitution of an unset variable without a default (feature gate StrictPostBuildSubstitutions)"},
	"helm-controller.outOfMemoryWatch.enabled": {kind: boolean, refuseIf: "true",
		refuse: "the OOM watch reads the container's memory limit from its cgroup, which a process here does not have: enable it on a cluster's helm-controller"},
	"helm-controller.outOfMemoryWatch.memoryThreshold": {kind: integer, refuse: "see helm-controller.outOfMemoryWatch.enabled"},
	"helm-controller.outOfMemoryWatch.interval":        {kind: duration, refuse: "see helm-controller.outOfMemoryWatch.enabled"},
	"proxy.httpsProxy": {kind: text, help: "HTTPS_PROXY of the controllers that reach out (source, helm, notification); az connectedk8s connect --proxy-https on Arc"},
	"proxy.httpProxy":  {kind: text, help: "HTTP_PROXY of the same; --proxy-http on Arc"},
	"proxy.noProxy":    {kind: text, help: "NO_PROXY of the same; --proxy-skip-range on Arc (loopback is never proxied)"},
	"proxy.caCertDir": {kind: text,
		help: "a directory of extra PEM CA certificates the same trust besides the system's (SSL_CERT_DIR); --proxy-cert on Arc"},
	"workloadIdentity.enable": {kind: boolean, refuseIf: "true",
		refuse: "workload identity federates with Microsoft Entra ID, which exists only on Azure: give sources credentials (protected settings, localAuthRef) or provider Generic"},
	"workloadIdentity.azureClientId": {kind: text, refuse: "see workloadIdentity.enable"},
	"workloadIdentity.azureTenantId": {kind: text, refuse: "see workloadIdentity.enable"},
	"useKubeletIdentity": {kind: boolean, refuseIf: "true",
		refuse: "the kubelet identity is an AKS managed identity, which exists only on Azure: give sources credentials (protected settings, localAuthRef)"},
}

// Settings are validated settings, every known key with its value.
type Settings struct {
	values map[string]string
}

// Parse validates key=value pairs (as az k8s-extension takes them) and
// returns the settings with the defaults filled in. Every problem is
// reported at once.
func Parse(pairs []string) (Settings, error) {
	s := Settings{values: map[string]string{}}
	var errs []error
	for _, p := range pairs {
		key, val, ok := strings.Cut(p, "=")
		if !ok || key == "" {
			errs = append(errs, fmt.Errorf("%q: write a setting as key=value", p))
			continue
		}
		def, found := lookup(key)
		if !found {
			errs = append(errs, fmt.Errorf("%s is not a setting: use one of %s", key, strings.Join(Keys(), ", ")))
			continue
		}
		if err := check(def.kind, val); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w", key, val, err))
			continue
		}
		if def.refuse != "" && (def.refuseIf == "" || def.refuseIf == val) {
			errs = append(errs, fmt.Errorf("%s=%s is not supported here: %s", key, val, def.refuse))
			continue
		}
		s.values[key] = val
	}
	for key, def := range known {
		if _, given := s.values[key]; !given && def.def != "" {
			s.values[key] = def.def
		}
	}
	return s, errors.Join(errs...)
}

func lookup(key string) (setting, bool) {
	if def, ok := known[key]; ok {
		return def, true
	}
	c, rest, ok := strings.Cut(key, ".")
	if !ok || !slices.Contains(controllers, c) {
		return setting{}, false
	}
	def, ok := perController[rest]
	return def, ok
}

// Keys lists every key Parse takes, sorted.
func Keys() []string {
	var out []string
	for k := range known {
		out = append(out, k)
	}
	for _, c := range controllers {
		for k := range perController {
			out = append(out, c+"."+k)
		}
	}
	sort.Strings(out)
	return out
}

func check(k kind, v string) error {
	switch k {
	case boolean:
		if v != "true" && v != "false" {
			return errors.New("use true or false")
		}
	case integer:
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			return errors.New("use a whole number from 1 to 1000")
		}
	case quantity:
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return errors.New("use a positive Kubernetes quantity such as 512Mi or 1Gi")
		}
	case duration:
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return errors.New("use a duration such as 500ms")
		}
	case level:
		if v != "debug" && v != "info" && v != "error" {
			return errors.New("use debug, info or error")
		}
	case text:
		if v == "" {
			return errors.New("give a value")
		}
	}
	return nil
}

func (s Settings) is(key string) bool { return s.values[key] == "true" }

// Controller is one Flux controller to run.
type Controller struct {
	Name string
	// Args are the flags the settings decide (the environment adds its
	// own: addresses, storage, leader election).
	Args []string
	// Env are environment variables (KEY=value).
	Env []string
}

// Controllers returns the controllers to run, in start order, with the
// flags and environment the settings give them.
func (s Settings) Controllers() []Controller {
	var out []Controller
	mt := s.is("multiTenancy.enforce")
	for _, name := range controllers {
		if s.values[name+".enabled"] == "false" {
			continue
		}
		c := Controller{Name: name}
		if name != SourceController {
			c.Args = append(c.Args, "--no-cross-namespace-refs="+strconv.FormatBool(mt))
		}
		if mt && (name == KustomizeController || name == HelmController) {
			c.Args = append(c.Args, "--default-service-account="+ApplierServiceAccount)
		}
		var gates []string
		switch name {
		case HelmController:
			if s.is("helm-controller.detectDrift") {
				gates = append(gates, "DetectDrift=true")
			}
			if s.is("helm-controller.correctDrift") {
				gates = append(gates, "CorrectDrift=true")
			}
		case KustomizeController:
			if v, ok := s.values["kustomize-controller.strict-substitution-mode"]; ok {
				gates = append(gates, "StrictPostBuildSubstitutions="+v)
			}
		}
		if len(gates) > 0 {
			c.Args = append(c.Args, "--feature-gates="+strings.Join(gates, ","))
		}
		if v, ok := s.values[name+".concurrent"]; ok {
			c.Args = append(c.Args, "--concurrent="+v)
		}
		c.Args = append(c.Args, "--log-level="+s.orDefault(name+".logLevel", "info"))
		if v, ok := s.values[name+".resources.limits.memory"]; ok {
			q := resource.MustParse(v)
			c.Env = append(c.Env, fmt.Sprintf("GOMEMLIMIT=%d", q.Value()/10*9))
		}
		if name != KustomizeController {
			// The controllers that reach outside: sources, charts, alerts.
			c.Env = append(c.Env, s.proxyEnv()...)
		}
		out = append(out, c)
	}
	return out
}

func (s Settings) orDefault(key, def string) string {
	if v, ok := s.values[key]; ok {
		return v
	}
	return def
}

func (s Settings) proxyEnv() []string {
	var env []string
	for _, p := range []struct{ key, env string }{
		{"proxy.httpsProxy", "HTTPS_PROXY"}, {"proxy.httpProxy", "HTTP_PROXY"}, {"proxy.noProxy", "NO_PROXY"},
	} {
		if v, ok := s.values[p.key]; ok {
			env = append(env, p.env+"="+v)
		}
	}
	if dir, ok := s.values["proxy.caCertDir"]; ok {
		// Go reads SSL_CERT_DIR besides the system's bundle file.
		env = append(env, "SSL_CERT_DIR=/etc/ssl/certs:"+dir)
	}
	return env
}

// ManagerArgs are the manager's flags the settings decide.
func (s Settings) ManagerArgs() []string {
	return []string{"--enforce-multi-tenancy=" + strconv.FormatBool(s.is("multiTenancy.enforce"))}
}

// Help describes every key, one line each, for a command's usage.
func Help() string {
	var b strings.Builder
	for _, k := range Keys() {
		def, _ := lookup(k)
		text := def.help
		if def.refuse != "" && def.refuseIf == "" {
			text = "not supported here: " + def.refuse
		} else if def.refuse != "" {
			text = strings.TrimSpace(text + " (" + def.refuseIf + " is not supported here: " + def.refuse + ")")
		}
		if def.def != "" {
			text += " (default " + def.def + ")"
		}
		fmt.Fprintf(&b, "  %s: %s\n", k, text)
	}
	return b.String()
}
