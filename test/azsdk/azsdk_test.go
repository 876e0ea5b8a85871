// Package azsdk drives the data plane with the Azure SDK for Go, as a team
// moving from Azure would: azidentity signs in at the hub's ADFS-shaped
// issuer as a service principal, and armresources' generic client creates,
// reads, updates and deletes a fluxConfiguration through azcore's
// long-running-operation pollers. azcore sends bearer tokens over TLS only,
// so the hub serves HTTPS here, with its CA trusted by the test.
package azsdk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/dataplanetest"
)

const (
	sub     = "00000000-0000-0000-0000-000000000000"
	cluster = "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/sdk-cluster"
	config  = cluster + "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/sdk-config"
)

// hub serves the data plane over TLS on an address known before it starts
// (the issuer names it).
func hub(t *testing.T) (*httptest.Server, dataplane.Credentials) {
	t.Helper()
	ts, srv := dataplanetest.TLS(t)
	return ts, dataplanetest.Owner(t, srv.DataDir())
}

// transport sends the SDK's requests with the test server's client (which
// trusts its certificate).
type transport struct{ c *http.Client }

func (t transport) Do(r *http.Request) (*http.Response, error) { return t.c.Do(r) }

func TestAzureSDKForGo(t *testing.T) {
	ts, owner := hub(t)
	ctx := context.Background()
	// The hub as a cloud: ARM at its URL, Entra ID's place taken by its
	// ADFS-shaped issuer (tenant "adfs"), audience the data plane's.
	hubCloud := cloud.Configuration{
		ActiveDirectoryAuthorityHost: ts.URL + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: arm.DefaultAudience, Endpoint: ts.URL},
		},
	}
	opts := azcore.ClientOptions{Cloud: hubCloud, Transport: transport{ts.Client()}}
	cred, err := azidentity.NewClientSecretCredential("adfs", owner.AppID, owner.Password,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	client, err := armresources.NewClient(sub, cred, &azarm.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := armresources.NewResourceGroupsClient(sub, cred, &azarm.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "rg1", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatalf("resource group: %v", err)
	}
	poll := &runtime.PollUntilDoneOptions{Frequency: 200 * time.Millisecond}

	// Register the cluster; its agent (the protocol's stand-in) applies.
	p, err := client.BeginCreateOrUpdateByID(ctx, cluster, arm.ClusterAPIVersion,
		armresources.GenericResource{Location: to.Ptr("eastus"), Properties: map[string]any{}}, nil)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	registered, err := p.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	token, _ := registered.Properties.(map[string]any)["agentToken"].(string)
	if token == "" {
		t.Fatalf("no agent token in %+v", registered.Properties)
	}
	dataplanetest.Agent(t, ts.URL, cluster, token, ts.Client())

	// Create from Azure's example body, through the poller.
	raw, err := os.ReadFile("../fixtures/azure-examples/create-git.json")
	if err != nil {
		t.Fatal(err)
	}
	var body armresources.GenericResource
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	p, err = client.BeginCreateOrUpdateByID(ctx, config, arm.FluxConfigAPIVersion, body, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	created, err := p.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if state := created.Properties.(map[string]any)["provisioningState"]; state != "Succeeded" {
		t.Errorf("created: provisioningState %v, want Succeeded", state)
	}

	// Read.
	got, err := client.GetByID(ctx, config, arm.FluxConfigAPIVersion, nil)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if *got.Name != "sdk-config" || got.Properties.(map[string]any)["complianceState"] != "Compliant" {
		t.Errorf("get: %s %+v", *got.Name, got.Properties)
	}

	// Resource Graph, through armresourcegraph's client: the configuration
	// is a row of KubernetesConfigurationResources.
	graph, err := armresourcegraph.NewClient(cred, &azarm.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	var res armresourcegraph.ClientResourcesResponse
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err = graph.Resources(ctx, armresourcegraph.QueryRequest{
			Query:         to.Ptr(`KubernetesConfigurationResources | where name == "sdk-config" | project name, state = tostring(properties.complianceState), cluster = tostring(split(id, "/")[8])`),
			Subscriptions: []*string{to.Ptr(sub)},
			Options:       &armresourcegraph.QueryRequestOptions{ResultFormat: to.Ptr(armresourcegraph.ResultFormatObjectArray), Top: to.Ptr[int32](10)},
		}, nil)
		if err != nil {
			t.Fatalf("resource graph: %v", err)
		}
		// The index follows the store a moment behind: wait for the
		// report the GET above already showed.
		if rows, _ := res.Data.([]any); (len(rows) == 1 && rows[0].(map[string]any)["state"] == "Compliant") || time.Now().After(deadline) {
			break
		}
	}
	if rows, _ := res.Data.([]any); len(rows) != 1 || *res.TotalRecords != 1 || *res.ResultTruncated != armresourcegraph.ResultTruncatedFalse {
		t.Fatalf("resource graph answered %+v", res.QueryResponse)
	} else if row := rows[0].(map[string]any); row["state"] != "Compliant" || row["cluster"] != "sdk-cluster" {
		t.Errorf("resource graph row: %v", row)
	}
	faceted, err := graph.Resources(ctx, armresourcegraph.QueryRequest{Query: to.Ptr("union Resources, KubernetesConfigurationResources"),
		Facets: []*armresourcegraph.FacetRequest{{Expression: to.Ptr("type")}}}, nil)
	if err != nil || len(faceted.Facets) != 1 {
		t.Fatalf("a facet: %v %+v", err, faceted)
	}
	if f, ok := faceted.Facets[0].(*armresourcegraph.FacetResult); !ok || *f.TotalRecords != 2 || *f.Count != 2 {
		t.Errorf("the facet by type: %#v", faceted.Facets[0])
	}
	_, err = graph.Resources(ctx, armresourcegraph.QueryRequest{Query: to.Ptr("Resources | sumarize count()")}, nil)
	var respErr *azcore.ResponseError
	if !errors.As(err, &respErr) || respErr.ErrorCode != "InvalidQuery" {
		t.Errorf("a bad query: %v", err)
	}

	// Update (PATCH), through the poller.
	up, err := client.BeginUpdateByID(ctx, config, arm.FluxConfigAPIVersion,
		armresources.GenericResource{Properties: map[string]any{"suspend": true}}, nil)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, err := up.PollUntilDone(ctx, poll); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err = client.GetByID(ctx, config, arm.FluxConfigAPIVersion, nil)
	if err != nil || got.Properties.(map[string]any)["suspend"] != true {
		t.Errorf("after update: %v %+v", err, got.Properties)
	}

	// Delete, through the poller: done once the cluster confirmed.
	del, err := client.BeginDeleteByID(ctx, config, arm.FluxConfigAPIVersion, nil)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := del.PollUntilDone(ctx, poll); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := client.GetByID(ctx, config, arm.FluxConfigAPIVersion, nil); err == nil {
		t.Error("the configuration is still there after its delete finished")
	}
}
