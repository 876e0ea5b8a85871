// Package v1alpha1 contains the FluxConfig API, group clusterconfig.azure.com.
//
// A FluxConfig mirrors the ARM resource
// Microsoft.KubernetesConfiguration/fluxConfigurations: its spec has the same
// JSON names, units and defaults as the ARM properties, so the properties of
// an ARM request body are a valid spec (minus namespace and the protected
// settings, which reach the cluster as a Secret).
//
// +kubebuilder:object:generate=true
// +groupName=clusterconfig.azure.com
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the FluxConfig API.
	GroupVersion = schema.GroupVersion{Group: "clusterconfig.azure.com", Version: "v1alpha1"}

	// SchemeBuilder adds the API types to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the API types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &FluxConfig{}, &FluxConfigList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
