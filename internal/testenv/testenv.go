// Package testenv is what the tests of sio's modules (the core, the chat
// example, the Redis adapter) share about their environment: a test that
// needs a tool the machine lacks skips with a message saying how to get it,
// unless SIO_REQUIRE_ALL=1 (as in CI), where it fails instead.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireAll reports whether the environment demands that no test skip for
// a missing tool.
func RequireAll() bool { return os.Getenv("SIO_REQUIRE_ALL") == "1" }

// SkipOrFail skips t for a missing tool, or fails it when every tool is
// required.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("required tool missing (SIO_REQUIRE_ALL=1): "+format, args...)
	}
	t.Skipf("skipping: "+format, args...)
}

// NeedNode returns the node binary, or skips t (fails it under
// SIO_REQUIRE_ALL=1) when Node.js is not in PATH or one of the npm packages
// pkgs is not installed in dir/node_modules. dir is named in the message as
// shown, relative to the repository's root.
func NeedNode(t testing.TB, dir, shown string, pkgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		SkipOrFail(t, "node not found in PATH; install Node.js to run the tests that drive Node clients and servers")
	}
	for _, pkg := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			SkipOrFail(t, "%s not installed; run `npm ci` in %s (make test does)", pkg, shown)
		}
	}
	return node
}
