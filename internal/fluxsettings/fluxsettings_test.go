package fluxsettings

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func controller(cs []Controller, name string) *Controller {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func TestDefaultsAreAzures(t *testing.T) {
	g := NewWithT(t)
	s, err := Parse(nil)
	g.Expect(err).NotTo(HaveOccurred())
	cs := s.Controllers()
	g.Expect(cs).To(HaveLen(4), "source-, kustomize-, helm- and notification-controller, as the extension installs by default")
	g.Expect(controller(cs, SourceController).Args).To(Equal([]string{"--log-level=info"}))
	g.Expect(controller(cs, KustomizeController).Args).To(Equal([]string{"--no-cross-namespace-refs=true",
		"--default-service-account=flux-applier", "--log-level=info"}))
	g.Expect(controller(cs, HelmController).Args).To(Equal([]string{"--no-cross-namespace-refs=true",
		"--default-service-account=flux-applier", "--log-level=info"}))
	g.Expect(controller(cs, NotificationController).Args).To(Equal([]string{"--no-cross-namespace-refs=true", "--log-level=info"}))
	g.Expect(s.ManagerArgs()).To(Equal([]string{"--enforce-multi-tenancy=true"}))
}

func TestSettingsToFlags(t *testing.T) {
	cases := []struct {
		name       string
		settings   []string
		controller string
		args, env  []string
		absent     bool
	}{
		{"multi-tenancy off", []string{"multiTenancy.enforce=false"}, KustomizeController,
			[]string{"--no-cross-namespace-refs=false", "--log-level=info"}, nil, false},
		{"helm drift detection", []string{"helm-controller.detectDrift=true"}, HelmController,
			[]string{"--no-cross-namespace-refs=true", "--default-service-account=flux-applier", "--feature-gates=DetectDrift=true", "--log-level=info"}, nil, false},
		{"helm drift correction", []string{"helm-controller.detectDrift=true", "helm-controller.correctDrift=true"}, HelmController,
			[]string{"--no-cross-namespace-refs=true", "--default-service-account=flux-applier", "--feature-gates=DetectDrift=true,CorrectDrift=true", "--log-level=info"}, nil, false},
		{"strict substitution off", []string{"kustomize-controller.strict-substitution-mode=false"}, KustomizeController,
			[]string{"--no-cross-namespace-refs=true", "--default-service-account=flux-applier", "--feature-gates=StrictPostBuildSubstitutions=false", "--log-level=info"}, nil, false},
		{"concurrency and log level", []string{"source-controller.concurrent=8", "source-controller.logLevel=debug"}, SourceController,
			[]string{"--concurrent=8", "--log-level=debug"}, nil, false},
		{"memory limit", []string{"source-controller.resources.limits.memory=1Gi"}, SourceController,
			[]string{"--log-level=info"}, []string{"GOMEMLIMIT=966367638"}, false},
		{"proxy for the controllers that reach out", []string{"proxy.httpsProxy=http://proxy:3128", "proxy.noProxy=.svc,10.0.0.0/8", "proxy.caCertDir=/etc/proxy-ca"},
			HelmController, []string{"--no-cross-namespace-refs=true", "--default-service-account=flux-applier", "--log-level=info"},
			[]string{"HTTPS_PROXY=http://proxy:3128", "NO_PROXY=.svc,10.0.0.0/8", "SSL_CERT_DIR=/etc/ssl/certs:/etc/proxy-ca"}, false},
		{"no proxy for kustomize-controller", []string{"proxy.httpsProxy=http://proxy:3128"}, KustomizeController,
			[]string{"--no-cross-namespace-refs=true", "--default-service-account=flux-applier", "--log-level=info"}, nil, false},
		{"helm-controller off", []string{"helm-controller.enabled=false"}, HelmController, nil, nil, true},
		{"notification-controller off", []string{"notification-controller.enabled=false"}, NotificationController, nil, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s, err := Parse(tc.settings)
			g.Expect(err).NotTo(HaveOccurred())
			c := controller(s.Controllers(), tc.controller)
			if tc.absent {
				g.Expect(c).To(BeNil())
				return
			}
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Args).To(Equal(tc.args))
			g.Expect(c.Env).To(Equal(tc.env))
		})
	}
}

func TestBadSettingsAreRefusedWithWhatToDo(t *testing.T) {
	cases := []struct {
		setting string
		want    string
	}{
		{"multiTenancy.enforce=yes", "multiTenancy.enforce=yes: use true or false"},
		{"multiTenancy", `"multiTenancy": write a setting as key=value`},
		{"helm-controller.detecDrift=true", "helm-controller.detecDrift is not a setting: use one of"},
		{"source-controller.concurrent=0", "use a whole number from 1 to 1000"},
		{"helm-controller.logLevel=trace", "use debug, info or error"},
		{"source-controller.resources.limits.memory=lots", "use a positive Kubernetes quantity"},
		{"kustomize-controller.enabled=false", "FluxConfigs need kustomize-controller"},
		{"image-automation-controller.enabled=true", "install them with Flux's release manifests"},
		{"workloadIdentity.enable=true", "Microsoft Entra ID, which exists only on Azure"},
		{"workloadIdentity.azureClientId=00000000-0000-0000-0000-000000000000", "see workloadIdentity.enable"},
		{"useKubeletIdentity=true", "exists only on Azure"},
		{"helm-controller.outOfMemoryWatch.enabled=true", "cgroup"},
		{"source-controller.resources.requests.memory=64Mi", "set them on the controller's Deployment"},
		{"proxy.httpsProxy=", "give a value"},
	}
	for _, tc := range cases {
		t.Run(tc.setting, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Parse([]string{tc.setting})
			g.Expect(err).To(MatchError(ContainSubstring(tc.want)))
		})
	}
	// Every problem at once.
	_, err := Parse([]string{"multiTenancy.enforce=yes", "nope=1"})
	g := NewWithT(t)
	g.Expect(strings.Count(err.Error(), "\n")).To(Equal(1), "two problems, two lines: %v", err)
	// Settings the Azure-only keys allow stay accepted.
	_, err = Parse([]string{"workloadIdentity.enable=false", "image-reflector-controller.enabled=false", "useKubeletIdentity=false"})
	g.Expect(err).NotTo(HaveOccurred())
}

func TestHelpNamesEveryKey(t *testing.T) {
	g := NewWithT(t)
	help := Help()
	for _, k := range Keys() {
		g.Expect(help).To(ContainSubstring("  " + k + ": "))
	}
	g.Expect(help).To(ContainSubstring("multiTenancy.enforce: Kustomizations and HelmReleases apply as flux-applier"))
}
