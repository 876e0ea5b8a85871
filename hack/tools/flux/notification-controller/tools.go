//go:build tools

// Package tools pins the Flux controller that hack/flux.sh builds.
package tools

import _ "github.com/fluxcd/notification-controller"
