#!/usr/bin/env bash
# Runs the example chat (example/): installs the browser client from npm,
# then starts the server. Arguments go to the server, e.g. -addr :8080 or
# -router chi. Open the URL it prints in two browser windows.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../example"

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "==> installing socket.io-client for the page (npm ci)"
  npm ci --no-audit --no-fund
fi
echo "==> starting the chat server; open http://localhost:3001 (or the -addr you gave) in two windows"
exec go run . "$@"
