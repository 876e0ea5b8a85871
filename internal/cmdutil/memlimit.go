package cmdutil

import (
	"fmt"
	"os"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MemoryLimitEnv is the environment variable the charts fill with the
// container's memory limit (the downward API's limits.memory), the default
// of --memory-limit (the manager's and the data plane's).
const MemoryLimitEnv = "MEMORY_LIMIT"

// SetMemoryLimit sets Go's soft memory limit to ratio of the container's
// memory limit (softMemoryLimit) and returns it in bytes, 0 when none is set.
func SetMemoryLimit(limit string, ratio float64) (int64, error) {
	soft, err := softMemoryLimit(limit, ratio, os.Getenv("GOMEMLIMIT"))
	if err == nil && soft > 0 {
		debug.SetMemoryLimit(soft)
	}
	return soft, err
}

// softMemoryLimit is the Go soft memory limit, in bytes, for a process
// whose container may use limit (a quantity such as 512Mi or a number of
// bytes): ratio of it, so that the garbage collector works harder before
// the container is killed instead of letting the heap double. It is 0 (no
// limit set) when limit is empty, or when GOMEMLIMIT is set (gomemlimit):
// the Go runtime has applied that one already, and it wins.
func softMemoryLimit(limit string, ratio float64, gomemlimit string) (int64, error) {
	if ratio <= 0 || ratio > 1 {
		return 0, fmt.Errorf("--memory-limit-ratio must be above 0 and at most 1, got %g", ratio)
	}
	if limit == "" || gomemlimit != "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(limit)
	if err != nil {
		return 0, fmt.Errorf("--memory-limit %q (or $%s): use a quantity such as 512Mi or a number of bytes", limit, MemoryLimitEnv)
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("--memory-limit %q (or $%s) must be above zero", limit, MemoryLimitEnv)
	}
	return int64(float64(q.Value()) * ratio), nil
}
