#!/usr/bin/env bash
# The full local/CI test run: JS test deps, gofmt, go vet, race tests for every
# Go module, then short fuzzing. Exits non-zero on the first failure.
#
# Environment:
#   FUZZTIME         fuzzing budget per Fuzz target, as for go test -fuzztime
#                    (default 200000x, about 10-20 s each; 0 skips fuzzing). A count,
#                    not a duration: with a duration, Go 1.26's fuzz coordinator can
#                    report a spurious "context deadline exceeded" failure when the
#                    time runs out on a loaded machine (go.dev/issue/75804, fixed in
#                    Go 1.27); a count has no deadline to race.
#   SIO_REQUIRE_ALL  when 1, a missing Node.js/npm is an error instead of a skip
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

FUZZTIME="${FUZZTIME:-200000x}"
# npm packages the tests use: the Node clients, the chat page's bundle, the
# chat's end-to-end scripts, the Node servers of the Redis adapter's tests.
JS_DIRS=(testdata/jsclient example example/e2e adapter/redis/testdata)

# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; if ((rc)); then printf "\n==> FAILED (exit %d)\n" "$rc" >&2; fi' EXIT

step "checking for go.mod"
[[ -f go.mod ]] || die "no go.mod at the repository root ($REPO_ROOT): the Go module is missing"
go version

step "JS test dependencies (${JS_DIRS[*]})"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  echo "node $(node --version), npm $(npm --version)"
  for dir in "${JS_DIRS[@]}"; do
    if [[ ! -f "$dir/package-lock.json" ]]; then
      die "$dir/package-lock.json is missing"
    fi
    # npm writes node_modules/.package-lock.json on every install.
    if [[ ! -f "$dir/node_modules/.package-lock.json" ||
      "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
      echo "running npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund)
    else
      echo "$dir/node_modules is up to date"
    fi
  done
elif [[ "${SIO_REQUIRE_ALL:-}" == 1 ]]; then
  die "node/npm not found and SIO_REQUIRE_ALL=1"
else
  echo "node/npm not found: skipping (tests that need them will skip)"
fi

step "gofmt -l"
if ! unformatted="$(find . \( -name node_modules -o -name .git \) -prune -o -name '*.go' -type f -print0 |
  xargs -0 -r gofmt -l)"; then
  die "gofmt failed (syntax errors above?)"
fi
if [[ -n "$unformatted" ]]; then
  echo "these files need gofmt:" >&2
  echo "$unformatted" >&2
  die "gofmt found unformatted files"
fi
echo "all Go files are formatted"

mapfile -t modules < <(go_modules)
echo
echo "Go modules: ${modules[*]}"

for mod in "${modules[@]}"; do
  step "go vet ./... (module $mod)"
  (cd "$mod" && go vet ./...)
  step "go test -race -count=1 ./... (module $mod)"
  (cd "$mod" && go test -race -count=1 ./...)
done

if [[ "$FUZZTIME" == 0 || "$FUZZTIME" == 0s || "$FUZZTIME" == 0x ]]; then
  step "fuzzing skipped (FUZZTIME=$FUZZTIME)"
else
  step "short fuzzing (FUZZTIME=$FUZZTIME per target)"
  FUZZTIME="$FUZZTIME" "$REPO_ROOT/scripts/fuzz.sh"
fi

step "all test steps passed"
