package sio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/internal/testenv"
)

// The interop tests drive the real npm clients (engine.io-client,
// socket.io-client) under Node.js, from testdata/jsclient, whose
// dependencies `make test` installs from the lockfile.
const jsClientDir = "testdata/jsclient"

// needNode returns the node binary, or skips t (fails it under
// SIO_REQUIRE_ALL=1) when Node.js or the installed npm packages are
// missing.
func needNode(t testing.TB) string {
	t.Helper()
	return testenv.NeedNode(t, jsClientDir, jsClientDir, "engine.io-client", "socket.io-client")
}

// nodeResult is what a client script printed: one JSON object per line,
// the last one {"result":"pass"} or {"result":"fail","reason":...}.
type nodeResult struct {
	Lines  []map[string]any
	Stderr string
	Err    error // the process's exit error, if any
}

// Passed reports whether the script's last line says it passed and it
// exited 0.
func (r nodeResult) Passed() bool {
	if r.Err != nil || len(r.Lines) == 0 {
		return false
	}
	return r.Lines[len(r.Lines)-1]["result"] == "pass"
}

// Events returns the lines whose "event" field is name.
func (r nodeResult) Events(name string) []map[string]any {
	var out []map[string]any
	for _, l := range r.Lines {
		if l["event"] == name {
			out = append(out, l)
		}
	}
	return out
}

// String renders the output for a failure message.
func (r nodeResult) String() string {
	var b bytes.Buffer
	for _, l := range r.Lines {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	if r.Stderr != "" {
		b.WriteString("stderr:\n")
		b.WriteString(r.Stderr)
	}
	if r.Err != nil {
		b.WriteString("exit: " + r.Err.Error() + "\n")
	}
	return b.String()
}

// runNode runs a script of testdata/jsclient with args, within timeout, and
// collects its JSON lines. Non-JSON lines go with stderr.
func runNode(t testing.TB, timeout time.Duration, script string, args ...string) nodeResult {
	t.Helper()
	node := needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = jsClientDir
	return runJSONLines(cmd)
}

// runJSONLines runs cmd and collects the JSON objects it prints, one per
// line; other output goes with stderr.
func runJSONLines(cmd *exec.Cmd) nodeResult {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	r := nodeResult{Err: err}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			r.Lines = append(r.Lines, m)
		} else {
			stderr.Write(sc.Bytes())
			stderr.WriteByte('\n')
		}
	}
	r.Stderr = stderr.String()
	return r
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes, for a test
// server's logger.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// transportModes are the three ways every end-to-end case runs.
var transportModes = []string{"polling", "websocket", "upgrade"}
