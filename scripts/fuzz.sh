#!/usr/bin/env bash
# Runs every Go fuzz target (func FuzzXxx) in every Go module of the repo for
# FUZZTIME each, one target at a time.
#
# Usage: scripts/fuzz.sh [REGEXP]
#   REGEXP    only fuzz targets whose name matches (default: all)
# Environment:
#   FUZZTIME  budget per target, as for go test -fuzztime: a duration (default
#             1m) or a count such as 200000x. On Go 1.26 a duration can end in a
#             spurious "context deadline exceeded" failure with no failing input
#             written (go.dev/issue/75804, a race in the fuzz coordinator, fixed
#             in Go 1.27); that is why make test uses a count.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

FUZZTIME="${FUZZTIME:-1m}"
FILTER="${1:-}"

[[ -f go.mod ]] || die "no go.mod at the repository root ($REPO_ROOT): the Go module is missing"

# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; if ((rc)); then printf "\n==> fuzzing FAILED (exit %d)\n" "$rc" >&2; fi' EXIT

mapfile -t modules < <(go_modules)
ran=0
for mod in "${modules[@]}"; do
  # Packages of this module that have test files.
  mapfile -t pkgs < <(cd "$mod" &&
    go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | sed '/^$/d')
  for pkg in "${pkgs[@]}"; do
    listing="$(cd "$mod" && go test -list '^Fuzz' "$pkg")" ||
      die "go test -list failed for $pkg:"$'\n'"$listing"
    mapfile -t targets < <(printf '%s\n' "$listing" | grep -E '^Fuzz[A-Za-z0-9_]*$' || true)
    for name in "${targets[@]}"; do
      if [[ -n "$FILTER" ]] && ! [[ "$name" =~ $FILTER ]]; then
        continue
      fi
      step "fuzz $pkg $name for $FUZZTIME"
      (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg")
      ran=$((ran + 1))
    done
  done
done

if ((ran == 0)); then
  step "no fuzz targets found${FILTER:+ matching $FILTER}: nothing to fuzz"
else
  step "fuzzing passed: $ran target(s), $FUZZTIME each"
fi
