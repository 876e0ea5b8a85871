#!/usr/bin/env bash
# Builds the Kubernetes binaries that envtest and the local environment run
# (what setup-envtest would download, which cannot be reached here) from the
# pinned throw-away modules in hack/tools/etcd and hack/tools/kube, once per
# version, and prints the directory that holds them (KUBEBUILDER_ASSETS).
#
# Usage: hack/envtest.sh [COMPONENT...]
#   COMPONENT: etcd, kube-apiserver (the default pair), kube-controller-manager, kubectl
#
# Idempotent: a component already in the cache is not rebuilt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_MOD=$ROOT/hack/tools/kube
ETCD_MOD=$ROOT/hack/tools/etcd
k8s_version=$(module_version "$KUBE_MOD" k8s.io/kubernetes)
etcd_version=$(module_version "$ETCD_MOD" go.etcd.io/etcd/server/v3)
DIR=$CACHE/envtest/k8s-$k8s_version-etcd-$etcd_version

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kube-apiserver)

# The version stamped into the Kubernetes binaries, so that clients (kubectl,
# Flux's server-side apply) see a real server version instead of v0.0.0.
minor=${k8s_version#v1.}
minor=${minor%%.*}
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_version \
-X k8s.io/component-base/version.gitMajor=1 \
-X k8s.io/component-base/version.gitMinor=$minor \
-X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=$k8s_version \
-X k8s.io/client-go/pkg/version.gitMajor=1 \
-X k8s.io/client-go/pkg/version.gitMinor=$minor"

for c in "${components[@]}"; do
	[ -x "$DIR/$c" ] && continue
	case $c in
	etcd) go_build_to "$ETCD_MOD" go.etcd.io/etcd/server/v3 "$DIR/etcd" ;;
	kube-apiserver | kube-controller-manager | kubectl)
		go_build_to "$KUBE_MOD" "k8s.io/kubernetes/cmd/$c" "$DIR/$c" "$kube_ldflags" ;;
	*) die "unknown component '$c' (want etcd, kube-apiserver, kube-controller-manager or kubectl)" ;;
	esac
done

printf '%s\n' "$DIR"
