#!/usr/bin/env bash
# bench/run.sh: the sio benchmarks, Go (bench/server, on the local library)
# against Node (bench/node, socket.io 4.8.4), interleaved in one run: for each
# round, for each scenario, Go then Node, each on a freshly started server,
# then, in the scenarios of RAW_SCENARIOS, the raw ceiling (bench/raw: the same
# application on bare WebSocket framing, no Socket.IO library).
# Builds everything, installs the Node server's dependencies (npm ci), writes
# the raw results to $OUT/latest.jsonl and the table of medians and Go/Node
# ratios into the results section of BENCHMARKS.md. Stops everything it
# started, on success, failure or Ctrl-C.
#
# Environment (defaults in brackets):
#   ROUNDS       rounds per scenario and server [3]
#   SCENARIOS    space-separated subset of: connect connect-polling idle
#                fanout echo-ack echo-ack-polling [all]
#   STEP         duration of each rate step of the stepped scenarios [3s]
#   RAW_SCENARIOS  the scenarios the raw ceiling also runs [connect fanout echo-ack]
#   MAX_MINUTES  no new run starts after this many minutes [30]
#   OUT          directory for results and logs [bench/results]
#   NO_SPLICE=1  leave BENCHMARKS.md alone (the table goes to $OUT/report.md)
#   NICE         if set (e.g. -10), run server and generator at this niceness
#   ARGS_<scenario with - as _>  extra loadgen flags for one scenario, e.g.
#                ARGS_fanout="-rates 50,100,200" ARGS_idle="-sizes 2000"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ROUNDS="${ROUNDS:-3}"
SCENARIOS="${SCENARIOS:-connect connect-polling idle fanout echo-ack echo-ack-polling}"
STEP="${STEP:-3s}"
MAX_MINUTES="${MAX_MINUTES:-30}"
RAW_SCENARIOS="${RAW_SCENARIOS-connect fanout echo-ack}"
OUT="${OUT:-bench/results}"
PORT="${PORT_BASE:-3700}"

log() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- cleanup
SERVER_PID=""
GEN_PID=""
BIN="$(mktemp -d "${TMPDIR:-/tmp}/sio-bench.XXXXXX")"
stop_pid() { # pid: TERM, then KILL after 5 s
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$GEN_PID"
  stop_pid "$SERVER_PID"
  rm -rf "$BIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ limits
# 10k connections need 10k descriptors in the server and in the generator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (("$(ulimit -n)" < 12000)); then
  echo "warning: open-files limit is $(ulimit -n); the 10k idle step will fail" >&2
fi

# ------------------------------------------------------------------- build
log "building bench/server, bench/raw and bench/loadgen"
go build -o "$BIN/server" ./bench/server
go build -o "$BIN/raw" ./bench/raw
go build -o "$BIN/loadgen" ./bench/loadgen
log "installing the Node server's dependencies (npm ci)"
(cd bench/node && npm ci --no-audit --no-fund --loglevel=error)

mkdir -p "$OUT"
RESULTS="$OUT/latest.jsonl"
: >"$RESULTS"
MACHINE="$OUT/machine.txt"
{
  echo "nproc:    $(nproc)"
  echo "CPU:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel:   $(uname -sr)"
  echo "Go:       $(go version | cut -d' ' -f3-)"
  echo "Node:     $(node --version), socket.io $(node -p 'require("./bench/node/node_modules/socket.io/package.json").version')"
  echo "memory:   $(free -m | awk '/^Mem:/ {print $2 " MB"}')"
  echo "library:  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- '*.go' 2>/dev/null || echo ' + uncommitted changes')"
  echo "loadavg:  $(cut -d' ' -f1-3 /proc/loadavg) at the start"
} >"$MACHINE"

# Pin the server and the generator to separate cores where there are two.
SRV_PIN=() GEN_PIN=()
if (("$(nproc)" >= 2)) && command -v taskset >/dev/null; then
  SRV_PIN=(taskset -c 0)
  GEN_PIN=(taskset -c 1)
  echo "pinning: server on CPU 0, generator on CPU 1" >>"$MACHINE"
else
  echo "pinning: none (one core, or no taskset)" >>"$MACHINE"
fi
NICE_CMD=()
if [[ -n "${NICE:-}" ]]; then
  NICE_CMD=(nice -n "$NICE")
  echo "niceness: $NICE" >>"$MACHINE"
fi
cat "$MACHINE" >&2

start_server() { # impl port
  local impl="$1" port="$2"
  local logf="$OUT/server-$impl-$port.log"
  case "$impl" in
  go) "${NICE_CMD[@]}" "${SRV_PIN[@]}" "$BIN/server" -addr "127.0.0.1:$port" >"$logf" 2>&1 & ;;
  node) "${NICE_CMD[@]}" "${SRV_PIN[@]}" node --expose-gc bench/node/server.js "$port" >"$logf" 2>&1 & ;;
  raw) "${NICE_CMD[@]}" "${SRV_PIN[@]}" "$BIN/raw" -addr "127.0.0.1:$port" >"$logf" 2>&1 & ;;
  esac
  SERVER_PID=$!
}

run_one() { # round scenario impl
  local round="$1" sc="$2" impl="$3"
  PORT=$((PORT + 1))
  start_server "$impl" "$PORT"
  local var="ARGS_${sc//-/_}"
  # shellcheck disable=SC2206 # word splitting of the extra flags is wanted
  local extra=(${!var:-})
  local rc=0
  "${NICE_CMD[@]}" "${GEN_PIN[@]}" "$BIN/loadgen" "$sc" -url "http://127.0.0.1:$PORT" -server "$impl" \
    -round "$round" -pid "$SERVER_PID" -out "$RESULTS" -step "$STEP" -timeout 4m "${extra[@]}" \
    2>>"$OUT/loadgen.log" &
  GEN_PID=$!
  wait "$GEN_PID" || rc=$?
  GEN_PID=""
  if ((rc != 0)); then
    echo "loadgen $sc against $impl failed (exit $rc); see $OUT/loadgen.log" >&2
  fi
  tail -n 1 "$OUT/loadgen.log" >&2 || true
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the $impl server exited during $sc; see $OUT/server-$impl-$PORT.log" >&2
  fi
  stop_pid "$SERVER_PID"
  SERVER_PID=""
}

: >"$OUT/loadgen.log"
rm -f "$OUT"/server-*.log
START=$SECONDS
for round in $(seq "$ROUNDS"); do
  for sc in $SCENARIOS; do
    impls=(go node)
    [[ " $RAW_SCENARIOS " == *" $sc "* ]] && impls+=(raw)
    for impl in "${impls[@]}"; do
      if ((SECONDS - START > MAX_MINUTES * 60)); then
        log "time budget of $MAX_MINUTES minutes spent: skipping round $round $sc $impl"
        continue
      fi
      log "round $round/$ROUNDS: $sc on $impl ($((SECONDS - START)) s elapsed)"
      run_one "$round" "$sc" "$impl"
    done
  done
done
echo "loadavg:  $(cut -d' ' -f1-3 /proc/loadavg) at the end ($((SECONDS - START)) s)" >>"$MACHINE"

log "report"
CMD="ROUNDS=$ROUNDS STEP=$STEP"
[[ -n "${NICE:-}" ]] && CMD+=" NICE=$NICE"
[[ "$SCENARIOS" != "connect connect-polling idle fanout echo-ack echo-ack-polling" ]] && CMD+=" SCENARIOS='$SCENARIOS'"
[[ "$RAW_SCENARIOS" != "connect fanout echo-ack" ]] && CMD+=" RAW_SCENARIOS='$RAW_SCENARIOS'"
while read -r v; do CMD+=" $v='${!v}'"; done < <(compgen -v ARGS_ || true)
CMD+=" bench/run.sh"
"$BIN/loadgen" report -in "$RESULTS" -machine "$MACHINE" -command "$CMD" >"$OUT/report.md"
if [[ "${NO_SPLICE:-}" != 1 ]]; then
  "$BIN/loadgen" report -in "$RESULTS" -machine "$MACHINE" -command "$CMD" -splice BENCHMARKS.md
  echo "results written into BENCHMARKS.md (and $OUT/report.md)" >&2
else
  echo "results written to $OUT/report.md" >&2
fi
cat "$OUT/report.md"
