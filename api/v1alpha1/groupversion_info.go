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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the FluxConfig API.
	GroupVersion = schema.GroupVersion{Group: "clusterconfig.azure.com", Version: "v1alpha1"}

	// SchemeBuilder adds the API types to a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
