package dataplane

import (
	"fmt"
	"os"
	"testing"

	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
)

// testEtcd is the etcd every fixture keeps its store on (each under a
// prefix of its own) when DATAPLANE_STORE=etcd; "" for bbolt. make test
// runs the package both ways.
var testEtcd string

func TestMain(m *testing.M) {
	if os.Getenv("DATAPLANE_STORE") != "etcd" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "dataplane-etcd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	endpoint, stop, err := storetest.Etcd(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testEtcd = endpoint
	code := m.Run()
	stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
