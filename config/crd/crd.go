// Package crd embeds the FluxConfig CRD that controller-gen writes into
// bases/, so that code outside the cluster (the data plane, the CLI) can
// validate against the very schema the API server enforces.
package crd

import _ "embed"

// FluxConfig is the FluxConfig CustomResourceDefinition, as YAML.
//
//go:embed bases/clusterconfig.azure.com_fluxconfigs.yaml
var FluxConfig []byte
