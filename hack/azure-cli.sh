#!/usr/bin/env bash
# Makes sure the stock az CLI, as Debian packages it (azure-cli, pinned
# below), is installed, installing it with apt-get when it is missing (as
# root; about a minute), and prints the path of az.
#
# Usage: hack/azure-cli.sh
#
# The az CLI test (test/azcli) runs it; it fails with the reason when az is
# missing and cannot be installed, so that the test never skips silently.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The version Debian 12 ships; any 2.x that registers custom clouds works.
AZURE_CLI_VERSION=${AZURE_CLI_VERSION:-2.45.0-1}

if az_path=$(command -v az); then
	printf '%s\n' "$az_path"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "az is not installed and installing it needs root: run 'sudo apt-get install -y azure-cli=$AZURE_CLI_VERSION', then the tests again"
command -v apt-get >/dev/null || die "az is not installed and this machine has no apt-get: install the azure-cli package (version $AZURE_CLI_VERSION or a later 2.x) by other means"
log "Installing azure-cli $AZURE_CLI_VERSION with apt-get (about a minute)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || die "apt-get update failed"
apt-get install -y -qq "azure-cli=$AZURE_CLI_VERSION" >&2 ||
	apt-get install -y -qq azure-cli >&2 ||
	die "apt-get install azure-cli failed"
command -v az || die "azure-cli is installed but az is not on PATH"
