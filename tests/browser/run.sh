#!/usr/bin/env bash
# Browser checks against a fresh `bigmember up --demo` (small demo, free
# ports): GraphiQL renders and answers with no network; a page on another
# origin shows a member's points, and is refused from a disallowed one; the
# same page asks by a trusted document's id and runs an APQ round.
# Screenshots go to
# ${ARTIFACTS:-.ci/artifacts}.
#   tests/browser/run.sh [path to the bigmember binary]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/bigmember}"
artifacts="${ARTIFACTS:-$root/.ci/artifacts}"
mkdir -p "$artifacts"
[ -x "$bin" ] || { echo "no bigmember binary at $bin (cargo build first)" >&2; exit 2; }
command -v "${CHROMIUM:-chromium}" >/dev/null || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 2; }
(cd "$here" && npm ci --silent --no-audit --no-fund)

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export BIGMEMBER_DEMO__MEMBERS=60 BIGMEMBER_GATEWAY__PORT=0 BIGMEMBER_LOG=warn
export BIGMEMBER_GATEWAY__DOCUMENTS__MANIFEST="$root/examples/trusted-documents.json"
for s in MEMBER STORE PRODUCT ALLIANCE; do export "BIGMEMBER_SERVICES__${s}__PORT=0"; done
(cd "$work" && exec "$bin" up --demo) > "$work/up.out" 2> "$work/up.err" &
pid=$!
for _ in $(seq 1 600); do
  grep -q "Press Ctrl-C" "$work/up.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/up.err" >&2; echo "up --demo stopped" >&2; exit 1; }
  sleep 0.1
done
graph="$(grep -o 'Ready: the graph answers at [^ ]*' "$work/up.out" | awk '{print $NF}')"
[ -n "$graph" ] || { cat "$work/up.out" >&2; echo "up --demo did not become ready" >&2; exit 1; }
node "$here/graphiql.mjs" "$graph" "$artifacts/graphiql.png"
member_token="$(awk '/^Demo tokens/ { t = 1 } t && $1 == "member:" { print $2; exit }' "$work/up.out")"
[ -n "$member_token" ] || { cat "$work/up.out" >&2; echo "up --demo printed no member token" >&2; exit 1; }
node "$here/cors.mjs" "$graph" "$member_token" "$artifacts/cors"
node "$here/documents.mjs" "$graph" "$member_token" "$root/examples/trusted-documents.json" "$artifacts/documents.png"
