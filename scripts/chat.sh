#!/usr/bin/env bash
# Runs the example chat server (example/). Arguments are passed to it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -d example ]]; then
  echo "chat: example/ does not exist yet" >&2
  exit 1
fi

cd example
npm ci --no-audit --no-fund
go run . "$@"
