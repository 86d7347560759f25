package sio

import (
	"testing"

	"github.com/sio-go/sio/internal/testenv"
	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every
// connection's reader, writer, handler and timer must be gone by then.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// skipOrFail skips t for a missing tool, or fails it under SIO_REQUIRE_ALL=1.
var skipOrFail = testenv.SkipOrFail
