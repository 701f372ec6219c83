#!/usr/bin/env bash
# Composes the conformance subgraph fixtures into fixtures/supergraph.graphql
# with the pinned composer in schema/ (Node needed). .ci/run runs it and
# fails if the checked-in supergraph differs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
schema="$here/../../../schema"
[ -d "$schema/node_modules/@theguild/federation-composition" ] || (cd "$schema" && npm ci --no-audit --no-fund)
args=()
for name in accounts products inventory reviews; do
  args+=("$name=http://$name.test/graphql=$here/fixtures/$name.graphql")
done
cd "$schema" && node compose.mjs "$here/fixtures/supergraph.graphql" "${args[@]}"
