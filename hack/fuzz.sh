#!/usr/bin/env bash
# Fuzzes what parses user input, each target for FUZZTIME (default 5m), with
# its address space capped (FUZZ_MEMORY_KB, default 3 GiB) so that input
# that makes a decoder allocate without bound fails the run instead of
# exhausting the machine. The test binary runs directly (go test would run
# under the cap too, compiling included); the corpus is kept where go test
# keeps it, under the build cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

fuzztime=${FUZZTIME:-5m}
memory_kb=${FUZZ_MEMORY_KB:-3145728}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

# package:target
targets=(internal/dataplane:FuzzParseBody)
for t in "${targets[@]}"; do
	pkg=${t%%:*} fuzz=${t#*:}
	log "Fuzzing $fuzz in $pkg for $fuzztime (address space capped at $((memory_kb / 1024)) MiB)"
	go test -c -o "$bin/fuzz.test" "./$pkg"
	(
		ulimit -v "$memory_kb"
		cd "$pkg"
		"$bin/fuzz.test" -test.run '^$' -test.fuzz "^$fuzz\$" -test.fuzztime "$fuzztime" \
			-test.fuzzcachedir "$(go env GOCACHE)/fuzz/github.com/arcgitops/arcgitops/$pkg"
	)
done
