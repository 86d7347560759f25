package sio

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every
// connection's reader, writer, handler and timer must be gone by then.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// requireAll reports whether the environment demands that no test skip for
// a missing tool (CI sets SIO_REQUIRE_ALL=1).
func requireAll() bool { return os.Getenv("SIO_REQUIRE_ALL") == "1" }

// skipOrFail skips t for a missing tool, or fails it when every tool is
// required.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if requireAll() {
		t.Fatalf("required tool missing (SIO_REQUIRE_ALL=1): "+format, args...)
	}
	t.Skipf("skipping: "+format, args...)
}
