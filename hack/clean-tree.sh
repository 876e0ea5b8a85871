#!/usr/bin/env bash
# Fails when the work tree differs from HEAD (changed, added or untracked
# files that git does not ignore): CI's checks must leave a clean clone clean,
# so a target that rewrites files, or a test that leaves output in the tree,
# is caught here.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

dirty=$(git status --porcelain --untracked-files=all)
if [ -n "$dirty" ]; then
	log "The checks changed the tree; a check must not write into it:"
	printf '%s\n' "$dirty" >&2
	git --no-pager diff --stat >&2
	exit 1
fi
log "The tree is clean"
