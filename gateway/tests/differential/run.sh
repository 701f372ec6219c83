#!/usr/bin/env bash
# Differential test of the bigmember gateway against Hive Router.
#
#   run.sh bench     [differential.py options]   The Guild's four benchmark subgraphs
#   run.sh bigmember [differential.py options]   bigmember's own services (up --demo)
#
# Starts the subgraphs and, on free ports, our gateway (`bigmember serve gateway
# --supergraph`) and Hive Router over the same supergraph; runs differential.py
# against both; stops everything it started; prints the summary. Options after the
# mode go to differential.py (e.g. --count 2000 --seed 7). Default count: 1000 for
# bench, 300 for bigmember.
#
# Environment:
#   BIGMEMBER_BIN  our binary [/root/.cache/bigmember/target/debug/bigmember];
#                  copied to the run folder first, so a rebuild during the run is harmless
#   BENCH_HOME     [~/.cache/bigmember-bench]: bin/hive_router and bin/subgraphs
#   BENCH_DIR      [/work/shared/bench/gateways]: supergraph.4200.graphql (bench mode)
#   OUT            report folder [a new /tmp/differential.<mode>.XXXXXX]
#   HIVE_ERROR_MASKING=1  keep Hive Router's default error masking ("Unexpected error"
#                  instead of subgraph messages); off by default so messages compare
#   KEEP=1         keep the run folder (logs, databases, binary copy) afterwards
#   BINARY_WAIT    seconds to wait for BIGMEMBER_BIN to appear (it may be being rebuilt) [600]
set -euo pipefail

HERE="$(cd "$(dirname "$(realpath "$0")")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
MODE="${1:-}"; shift || true
case "$MODE" in
  bench) DEFAULT_COUNT=1000;;
  bigmember) DEFAULT_COUNT=300;;
  *) sed -n 2,24p "$0" | sed 's/^# \{0,1\}//'; exit 2;;
esac

BIGMEMBER_BIN="${BIGMEMBER_BIN:-/root/.cache/bigmember/target/debug/bigmember}"
BENCH_HOME="${BENCH_HOME:-$HOME/.cache/bigmember-bench}"
BENCH_DIR="${BENCH_DIR:-/work/shared/bench/gateways}"
HIVE_BIN="$BENCH_HOME/bin/hive_router"
SUB_BIN="$BENCH_HOME/bin/subgraphs"
BINARY_WAIT="${BINARY_WAIT:-600}"

for t in python3 curl setsid; do
  command -v "$t" >/dev/null || { echo "run.sh: $t is missing" >&2; exit 2; }
done
python3 -c 'import graphql, sys; sys.exit(0 if graphql.__version__.startswith("3.") else 1)' 2>/dev/null || {
  echo "run.sh: differential.py needs graphql-core 3: pip install 'graphql-core>=3.2,<3.3'" >&2; exit 2; }
[[ -x "$HIVE_BIN" ]] || { echo "run.sh: $HIVE_BIN missing (see $BENCH_DIR/setup.sh)" >&2; exit 2; }

OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/differential.$MODE.XXXXXX")}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$OUT/run"
mkdir -p "$WORK"
log() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

PIDS=()
stop_group() { # $1: pid of a session leader started here
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do stop_group "${PIDS[$i]}"; done
  PIDS=()
  if [[ "${KEEP:-0}" != 1 ]]; then
    rm -rf "$WORK/bin" "$WORK/bigmember/data"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until a GraphQL endpoint answers a POST with HTTP 200 (any body).
wait_graphql() { # $1 url, $2 pid, $3 name, $4 log, [$5 extra curl header]
  local i code
  for i in $(seq 1 600); do
    kill -0 "$2" 2>/dev/null || { log "$3 exited; its log ($4):"; tail -20 "$4" >&2; return 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'content-type: application/json' \
      ${5:+-H "$5"} --data '{"query":"{ __typename }"}' "$1" 2>/dev/null || true)
    [[ "$code" == 200 ]] && return 0
    sleep 0.2
  done
  log "$3 did not answer at $1 within 120 s (log $4)"; return 1
}

# Our binary, copied so that a rebuild under us does not change it mid-run.
copy_binary() {
  local waited=0 a b
  mkdir -p "$WORK/bin"
  while :; do
    if [[ -x "$BIGMEMBER_BIN" ]]; then
      a=$(stat -c '%s %Y' "$BIGMEMBER_BIN" 2>/dev/null || true); sleep 2
      b=$(stat -c '%s %Y' "$BIGMEMBER_BIN" 2>/dev/null || true)
      if [[ -n "$a" && "$a" == "$b" ]] && cp "$BIGMEMBER_BIN" "$WORK/bin/bigmember.tmp" 2>/dev/null \
         && "$WORK/bin/bigmember.tmp" --version >/dev/null 2>&1; then
        mv "$WORK/bin/bigmember.tmp" "$WORK/bin/bigmember"; break
      fi
    fi
    (( waited >= BINARY_WAIT )) && { log "$BIGMEMBER_BIN not usable after ${BINARY_WAIT}s"; exit 3; }
    (( waited == 0 )) && log "waiting for $BIGMEMBER_BIN (being rebuilt?)"
    sleep 10; waited=$((waited + 12))
  done
  BM="$WORK/bin/bigmember"
  log "our gateway: $("$BM" --version) (copy of $BIGMEMBER_BIN, modified $(stat -c %y "$BIGMEMBER_BIN" | cut -d. -f1))"
}

# Our gateway over SUPERGRAPH on PORT; BIGMEMBER_DATA_DIR=$3 (its token secret).
start_ours() { # $1 supergraph, $2 port, $3 data dir
  mkdir -p "$WORK/ours"
  ( cd "$WORK/ours" && exec setsid env BIGMEMBER_DATA_DIR="$3" "$BM" serve gateway \
      --supergraph "$1" --port "$2" ) > "$WORK/ours.log" 2>&1 &
  PIDS+=($!); OURS_PID=$!
}

# Hive Router as /work/shared/bench/gateways/gw/hive-router.sh runs it (its default
# "nodedupe" mode), plus: error masking off unless HIVE_ERROR_MASKING=1, and, with
# $3 = propagate, the client's Authorization header forwarded to every subgraph.
start_hive() { # $1 supergraph, $2 port, $3 propagate|-
  mkdir -p "$WORK/hive"
  {
    echo "supergraph:"
    echo "  source: file"
    echo "  path: $1"
    echo "traffic_shaping:"
    echo "  all:"
    echo "    dedupe_enabled: true"
    echo "  router:"
    echo "    dedupe:"
    echo "      enabled: false"
    if [[ "${HIVE_ERROR_MASKING:-0}" != 1 ]]; then
      echo "error_masking:"
      echo "  enabled: false"
    fi
    if [[ "$3" == propagate ]]; then
      echo "headers:"
      echo "  all:"
      echo "    request:"
      echo "      - propagate:"
      echo "          named: Authorization"
    fi
  } > "$WORK/hive/router.config.yaml"
  ( cd "$WORK/hive" && exec setsid env -i PATH=/usr/bin:/bin HOME="$WORK/hive" RUST_LOG=info LOG_LEVEL=info \
      HOST=127.0.0.1 PORT="$2" ROUTER_CONFIG_FILE_PATH="$WORK/hive/router.config.yaml" "$HIVE_BIN" ) \
      > "$WORK/hive.log" 2>&1 &
  PIDS+=($!); HIVE_PID=$!
}

ARGS=("$@")
has_count=0
for a in "${ARGS[@]}"; do [[ "$a" == --count || "$a" == --count=* ]] && has_count=1; done
(( has_count )) || ARGS+=(--count "$DEFAULT_COUNT")

copy_binary
SUPERGRAPH="$WORK/supergraph.graphql"
EXTRA=()
HDR=""

if [[ "$MODE" == bench ]]; then
  [[ -x "$SUB_BIN" ]] || { echo "run.sh: $SUB_BIN missing (see $BENCH_DIR/setup.sh)" >&2; exit 2; }
  SUB_PORT=$(free_port)
  sed "s#http://0.0.0.0:4200/#http://127.0.0.1:$SUB_PORT/#g" "$BENCH_DIR/supergraph.4200.graphql" > "$SUPERGRAPH"
  ( cd "$WORK" && exec setsid env HOST=127.0.0.1 PORT="$SUB_PORT" "$SUB_BIN" ) > "$WORK/subgraphs.log" 2>&1 &
  PIDS+=($!); SUB_PID=$!
  for i in $(seq 1 100); do curl -fsS --max-time 1 "http://127.0.0.1:$SUB_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS --max-time 1 "http://127.0.0.1:$SUB_PORT/health" >/dev/null 2>&1 \
    || { log "subgraphs did not start (log $WORK/subgraphs.log)"; exit 3; }
  log "subgraphs on port $SUB_PORT"
  DATA="$WORK/ours-data"; mkdir -p "$DATA"
  PROPAGATE=-
else
  # bigmember's services with demo data, each on a free port.
  mkdir -p "$WORK/bigmember"
  DATA="$WORK/bigmember/data"
  ( cd "$WORK/bigmember" && exec setsid env BIGMEMBER_DATA_DIR="$DATA" BIGMEMBER_DEMO__MEMBERS=60 \
      BIGMEMBER_SERVICES__MEMBER__PORT=0 BIGMEMBER_SERVICES__STORE__PORT=0 \
      BIGMEMBER_SERVICES__PRODUCT__PORT=0 BIGMEMBER_SERVICES__ALLIANCE__PORT=0 \
      BIGMEMBER_GATEWAY__PORT=0 "$BM" up --demo ) > "$WORK/up.out" 2> "$WORK/up.err" &
  PIDS+=($!); UP_PID=$!
  for i in $(seq 1 1500); do
    grep -q '^Ready' "$WORK/up.out" 2>/dev/null && break
    kill -0 "$UP_PID" 2>/dev/null || { log "bigmember up exited:"; tail -20 "$WORK/up.err" >&2; exit 3; }
    sleep 0.2
  done
  grep -q '^Ready' "$WORK/up.out" || { log "bigmember up not ready after 300 s (logs in $WORK)"; exit 3; }
  # Rewrite each join__graph url to the address its service printed.
  python3 - "$REPO/schema/supergraph.graphql" "$WORK/up.out" "$SUPERGRAPH" <<'PY'
import re, sys
src, out, dst = sys.argv[1:]
urls = dict(re.findall(r"^\s+(\w+)\s+(http://\S+/graphql)\s", open(out).read(), re.M))
sdl = open(src).read()
names = re.findall(r'@join__graph\(name: "([^"]+)"', sdl)
missing = [n for n in names if n not in urls]
if missing:
    sys.exit(f"run.sh: no URL printed for subgraph(s) {missing} in {out}")
sdl = re.sub(r'@join__graph\(name: "([^"]+)", url: "[^"]*"\)',
             lambda m: f'@join__graph(name: "{m.group(1)}", url: "{urls[m.group(1)]}")', sdl)
open(dst, "w").write(sdl)
for n in names:
    print(f"  {n}: {urls[n]}", file=sys.stderr)
PY
  TOKEN=$(cd "$WORK/bigmember" && BIGMEMBER_DATA_DIR="$DATA" "$BM" token --role operator)
  [[ -n "$TOKEN" ]] || { log "bigmember token printed nothing"; exit 3; }
  HDR="authorization: Bearer $TOKEN"
  EXTRA+=(--header "$HDR" --only-working-roots)
  PROPAGATE=propagate
  log "bigmember services ready (demo data, 60 members); operator token signed"
fi

OURS_PORT=$(free_port); start_ours "$SUPERGRAPH" "$OURS_PORT" "$DATA"
HIVE_PORT=$(free_port); start_hive "$SUPERGRAPH" "$HIVE_PORT" "$PROPAGATE"
wait_graphql "http://127.0.0.1:$OURS_PORT/graphql" "$OURS_PID" "our gateway" "$WORK/ours.log" "$HDR"
wait_graphql "http://127.0.0.1:$HIVE_PORT/graphql" "$HIVE_PID" "Hive Router" "$WORK/hive.log" "$HDR"
log "ours on $OURS_PORT, Hive Router on $HIVE_PORT; report in $OUT"

set +e
python3 "$HERE/differential.py" --supergraph "$SUPERGRAPH" \
  --ours "http://127.0.0.1:$OURS_PORT/graphql" --ref "http://127.0.0.1:$HIVE_PORT/graphql" \
  --out "$OUT" "${EXTRA[@]}" "${ARGS[@]}"
rc=$?
set -e
alive=""
kill -0 "$OURS_PID" 2>/dev/null || alive+=" our gateway exited during the run (log $WORK/ours.log);"
kill -0 "$HIVE_PID" 2>/dev/null || alive+=" Hive Router exited during the run (log $WORK/hive.log);"
if [[ -n "$alive" ]]; then log "WARNING:$alive"; fi
for f in ours.log hive.log subgraphs.log up.err; do
  [[ -f "$WORK/$f" ]] || continue
  n=$(grep -c 'panicked at' "$WORK/$f" || true)
  if (( n > 0 )); then log "note: $n panics in $WORK/$f ($(grep -m1 -o 'panicked at [^ ]*' "$WORK/$f"))"; fi
done
cleanup
log "report: $OUT/report.jsonl  summary: $OUT/summary.md"
exit "$rc"
