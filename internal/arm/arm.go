// Package arm is the ARM contract as this project serves and calls it: the
// resource types and api-versions of the data plane, resource IDs, and the
// error body. The data plane (server) and armclient (client) share it, so
// each name, version and shape has one home.
package arm

import "strings"

// Resource types.
const (
	// FluxConfigurationsType is the ARM type of fluxConfigurations.
	FluxConfigurationsType = "Microsoft.KubernetesConfiguration/fluxConfigurations"
	// ConnectedClustersType is the ARM type of Arc-enabled clusters.
	ConnectedClustersType = "Microsoft.Kubernetes/connectedClusters"
	// ManagedClustersType is the ARM type of AKS clusters.
	ManagedClustersType = "Microsoft.ContainerService/managedClusters"
)

// FluxConfigAPIVersions are the fluxConfigurations api-versions served, in
// the order Azure published them.
var FluxConfigAPIVersions = []string{
	"2021-11-01-preview", "2022-01-01-preview", "2022-03-01", "2022-07-01", "2022-11-01",
	"2023-05-01", "2024-04-01-preview", "2024-06-01-preview", "2024-11-01", "2025-04-01",
}

// DefaultAudience is the audience (aud) of the data plane's access tokens
// when none is configured: the resource ID a client asks a token for (az's
// --endpoint-active-directory-resource-id).
const DefaultAudience = "https://management.arcgitops.local/"

// FluxConfigAPIVersion is the fluxConfigurations api-version this project's
// clients send (the CLI, the bench, the tests).
const FluxConfigAPIVersion = "2024-11-01"

// ClusterAPIVersion is the connectedClusters api-version this project's
// clients send; the data plane takes any dated version for clusters.
const ClusterAPIVersion = "2024-01-01"

// ClusterTypeForName maps the az CLI's --cluster-type values
// (case-insensitive) to ARM resource types.
func ClusterTypeForName(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "connectedclusters":
		return ConnectedClustersType, true
	case "managedclusters":
		return ManagedClustersType, true
	}
	return "", false
}

// ScopeParts reads the subscription and the resource group an ARM ID or
// scope names ("" for what it does not name).
func ScopeParts(id string) (subscription, resourceGroup string) {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	if len(segs) < 2 || !strings.EqualFold(segs[0], "subscriptions") {
		return "", ""
	}
	if len(segs) >= 4 && strings.EqualFold(segs[2], "resourceGroups") {
		resourceGroup = segs[3]
	}
	return segs[1], resourceGroup
}

// ResourceGroupID is the ID of a resource group.
func ResourceGroupID(subscription, resourceGroup string) string {
	return "/subscriptions/" + subscription + "/resourceGroups/" + resourceGroup
}

// ClusterID is the ID of a cluster of resourceType (ConnectedClustersType or
// ManagedClustersType).
func ClusterID(subscription, resourceGroup, resourceType, name string) string {
	return ResourceGroupID(subscription, resourceGroup) + "/providers/" + resourceType + "/" + name
}

// FluxConfigID is the ID of a fluxConfiguration of a cluster; with an empty
// name, the ID of the cluster's fluxConfigurations collection.
func FluxConfigID(clusterID, name string) string {
	id := clusterID + "/providers/" + FluxConfigurationsType
	if name != "" {
		id += "/" + name
	}
	return id
}

// The statuses of an ARM asynchronous operation.
const (
	OperationInProgress = "InProgress"
	OperationSucceeded  = "Succeeded"
	OperationFailed     = "Failed"
	OperationCanceled   = "Canceled"
)

// OperationStatus is ARM's operation status resource (OperationStatusResult),
// what an Azure-AsyncOperation URL answers.
type OperationStatus struct {
	ID         string         `json:"id,omitempty"`
	Name       string         `json:"name,omitempty"`
	Status     string         `json:"status"`
	Properties map[string]any `json:"properties,omitempty"`
	Error      *ErrorDetail   `json:"error,omitempty"`
}

// ErrorResponse is ARM's error body.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error of an ErrorResponse.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Target and AdditionalInfo, when set (RequestDisallowedByPolicy).
	Target         string           `json:"target,omitempty"`
	AdditionalInfo []AdditionalInfo `json:"additionalInfo,omitempty"`
}

// AdditionalInfo is ARM's typed detail of an error.
type AdditionalInfo struct {
	Type string `json:"type"`
	Info any    `json:"info"`
}
