#!/usr/bin/env bash
# Regenerates everything (code, manifests, formatting, go.mod) and fails if
# that changed any file, committed or not: a generated file edited by hand, or
# generated output not brought up to date, is reported with the diff.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

snapshot() { git add -A --dry-run . >/dev/null; { git status --porcelain; git diff HEAD; git ls-files --others --exclude-standard | xargs -r cat; } | sha256sum; }

before=$(snapshot)
git diff HEAD >"${TMPDIR:-/tmp}/verify-before.diff"
make --no-print-directory generate manifests fmt >&2
go mod tidy
after=$(snapshot)

if [ "$before" != "$after" ]; then
	log "Regenerating changed the tree: generated files were out of date or edited by hand."
	log "The tree now holds the regenerated files; review and commit them:"
	git status --short >&2
	git --no-pager diff --stat HEAD >&2
	exit 1
fi
log "Generated files are up to date"
