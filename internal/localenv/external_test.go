package localenv

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPodArgs(t *testing.T) {
	mounts := map[string]string{"/etc/fluxconfig-agent": "/tmp/pod/etc/fluxconfig-agent", "/etc/ca": "/tmp/pod/etc/ca"}
	ports := map[int32]string{8080: "127.0.0.1:40001", 8081: "127.0.0.1:40002"}
	cases := []struct{ in, want string }{
		{"--metrics-bind-address=:8080", "--metrics-bind-address=127.0.0.1:40001"},
		{"--health-probe-bind-address=0.0.0.0:8081", "--health-probe-bind-address=127.0.0.1:40002"},
		{"--agent-token-file=/etc/fluxconfig-agent/token", "--agent-token-file=/tmp/pod/etc/fluxconfig-agent/token"},
		{"--dataplane-ca-file=/etc/ca/ca.crt", "--dataplane-ca-file=/tmp/pod/etc/ca/ca.crt"},
		{"--cafile=/etc/cabundle/x", "--cafile=/etc/cabundle/x"},                           // a prefix of the path only, not a mount
		{"--dataplane-url=https://10.0.0.1:8080", "--dataplane-url=https://10.0.0.1:8080"}, // not a listen address
		{"--concurrent=4", "--concurrent=4"},
		{"--leader-elect", "--leader-elect"},
		{"--zap-log-level=info", "--zap-log-level=info"},
	}
	for _, tc := range cases {
		if got := podArgs([]string{tc.in}, mounts, ports); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("podArgs(%s) = %v, want %s", tc.in, got, tc.want)
		}
	}
}

func TestEnvValue(t *testing.T) {
	ctr := corev1.Container{Resources: corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
	}}
	from := func(res string) corev1.EnvVar {
		return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: res}}}
	}
	cases := []struct {
		name string
		v    corev1.EnvVar
		want string
		err  bool
	}{
		{"a value", corev1.EnvVar{Name: "X", Value: "v"}, "v", false},
		{"the memory limit, in bytes", from("limits.memory"), "536870912", false},
		{"a request", from("requests.cpu"), "2", false},
		{"a limit the container does not set", from("limits.cpu"), "", true},
		{"the namespace", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}, "flux-system", false},
		{"a Secret's key", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}, "", true},
	}
	for _, tc := range cases {
		got, err := envValue(ctr, tc.v)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: envValue = %q, %v; want %q (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
}
