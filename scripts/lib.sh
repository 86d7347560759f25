# shellcheck shell=bash
# Shared helpers for the scripts in this folder; source it, don't run it.

# Repository root (the parent of scripts/).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

step() { printf '\n==> %s\n' "$*"; }
die() {
  printf '\nERROR: %s\n' "$*" >&2
  exit 1
}

# Prints the directories (relative to the repo root, "." first) of every Go
# module in the repository, skipping node_modules, testdata and .git.
go_modules() {
  (
    cd "$REPO_ROOT" || exit 1
    [[ -f go.mod ]] && echo "."
    find . \( -name node_modules -o -name testdata -o -name .git \) -prune -o \
      -name go.mod -type f -print |
      sed -e 's#/go.mod$##' | { grep -vx '\.' || true; } | sort
  )
}
