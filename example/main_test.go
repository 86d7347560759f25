package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testenv"
)

// The tests here start the chat in-process, on a real loopback listener,
// and drive it from Node.js: e2e/clients.mjs runs socket.io-client sockets
// (chat_test.go), e2e/browser.mjs runs the page in headless Chromium
// through playwright-core (browser_test.go). Both scripts take commands on
// stdin and answer on stdout, one JSON object per line. Their packages are
// pinned in e2e/package-lock.json, the page's bundle in package-lock.json:
//
//	npm ci && (cd e2e && npm ci) && go test -race ./...

const e2eDir = "e2e"

// skipOrFail skips t for a missing tool, or fails it under SIO_REQUIRE_ALL=1.
var skipOrFail = testenv.SkipOrFail

// needNode returns the node binary, or skips t when Node.js or the e2e
// packages are missing.
func needNode(t testing.TB) string {
	t.Helper()
	return testenv.NeedNode(t, e2eDir, "example/"+e2eDir, "socket.io-client", "playwright-core")
}

// needBundle skips t when the page's socket.io-client bundle, which the
// server serves from node_modules, is missing.
func needBundle(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(clientBundle); err != nil {
		skipOrFail(t, "%s is missing; run `npm ci` in example/ (scripts/test.sh does)", clientBundle)
	}
}

// --- The server under test --------------------------------------------------

// testServer is the chat behind an http.Server on a fixed loopback address,
// which can be stopped and started again on the same port, as a restarted
// process would be.
type testServer struct {
	t      testing.TB
	router string
	addr   string       // host:port, kept across restarts
	opts   []sio.Option // for newChat

	mu     sync.Mutex
	chat   *sio.Server
	http   *http.Server
	served chan error // what Serve returned; nil while stopped
}

// startServer starts the chat with the given router ("std" or "chi") on a
// new loopback port. It is stopped when the test ends.
func startServer(t testing.TB, router string, opts ...sio.Option) *testServer {
	t.Helper()
	s := &testServer{t: t, router: router, addr: "127.0.0.1:0", opts: opts}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// URL is the page's address.
func (s *testServer) URL() string { return "http://" + s.addr }

// start serves a new chat on s.addr. Chat state does not survive a
// restart: the clients join their rooms again when they reconnect.
func (s *testServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served != nil {
		s.t.Fatal("start: the server is running")
	}
	ln, err := listenRetry(s.addr)
	if err != nil {
		s.t.Fatalf("listen on %s: %v", s.addr, err)
	}
	s.addr = ln.Addr().String()
	s.chat = newChat(s.opts...)
	handler, err := routes(s.router, s.chat)
	if err != nil {
		ln.Close()
		s.t.Fatal(err)
	}
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	s.served = served
	go func() { served <- s.http.Serve(ln) }()
}

// listenRetry listens on addr, retrying for a few seconds while the port
// is still taken (it should not be: Go sets SO_REUSEADDR).
func listenRetry(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop shuts the server down as main does on Ctrl-C: every client is told
// the connection is closing, and reconnects (to the next start, if any).
// It may be called any number of times.
func (s *testServer) stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served == nil {
		return
	}
	// A client that left without a word is waited for up to a ping
	// timeout (20 s by default).
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := shutdown(ctx, s.http, s.chat); err != nil {
		s.t.Errorf("shutdown: %v", err)
	}
	if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
		s.t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	s.chat.Close()
	s.served = nil
}

// --- Node scripts driven over stdin/stdout -----------------------------------

// driver runs a script of e2e/ that reads commands on stdin and prints
// JSON lines: {"id":N,...} answers command N; any other line is an event
// (what a socket received, a page's error...), kept in order.
type driver struct {
	t       testing.TB
	script  string
	stdin   io.WriteCloser
	replies chan map[string]any
	nextID  int
	exited  chan struct{} // closed when the process is gone
	waitErr error         // set before exited is closed

	mu      sync.Mutex
	events  []map[string]any
	taken   []bool
	changed chan struct{} // closed (and replaced) when an event arrives
	stderr  bytes.Buffer
}

// startDriver starts `node script args...` in e2e/. The script is told to
// finish when the test ends, and killed if it does not within 30 seconds.
func startDriver(t testing.TB, script string, args ...string) *driver {
	t.Helper()
	node := needNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = e2eDir
	// An interrupt lets Playwright close its browser; Wait kills the
	// process if it is still there WaitDelay later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	d := &driver{
		t:       t,
		script:  script,
		replies: make(chan map[string]any, 1),
		exited:  make(chan struct{}),
		changed: make(chan struct{}),
	}
	cmd.Stderr = &lockedWriter{mu: &d.mu, w: &d.stderr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if d.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", script, err)
	}
	go d.read(stdout, cmd)
	t.Cleanup(func() {
		d.stdin.Close() // the scripts finish cleanly at the end of their input
		select {
		case <-d.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not exit within 30s of its input's end: interrupting it", script)
			cancel()
			<-d.exited
		}
		cancel()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", script, d.stderrText())
		}
	})
	return d
}

func (d *driver) read(stdout io.Reader, cmd *exec.Cmd) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			d.mu.Lock()
			fmt.Fprintf(&d.stderr, "stdout (not JSON): %s\n", sc.Bytes())
			d.mu.Unlock()
			continue
		}
		if _, ok := m["id"]; ok {
			select {
			case d.replies <- m:
			default: // a late answer, to a command that timed out: call says so
			}
			continue
		}
		d.mu.Lock()
		d.events = append(d.events, m)
		d.taken = append(d.taken, false)
		close(d.changed)
		d.changed = make(chan struct{})
		d.mu.Unlock()
	}
	d.waitErr = cmd.Wait()
	close(d.exited)
}

func (d *driver) stderrText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// call sends a command and returns its answer, failing the test if the
// script reports an error or does not answer within timeout.
func (d *driver) call(timeout time.Duration, cmd string, fields map[string]any) map[string]any {
	d.t.Helper()
	reply, err := d.try(timeout, cmd, fields)
	if err != nil {
		d.t.Fatal(err)
	}
	return reply
}

// try is call, returning the error.
func (d *driver) try(timeout time.Duration, cmd string, fields map[string]any) (map[string]any, error) {
	d.nextID++
	msg := map[string]any{"id": d.nextID, "cmd": cmd}
	for k, v := range fields {
		msg[k] = v
	}
	line, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := d.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("%s %s: cannot write to the script: %v\nstderr:\n%s", d.script, line, err, d.stderrText())
	}
	select {
	case reply := <-d.replies:
		if id, _ := reply["id"].(float64); int(id) != d.nextID {
			return nil, fmt.Errorf("%s %s: answer to another command: %v", d.script, line, reply)
		}
		if e, ok := reply["error"]; ok {
			return nil, fmt.Errorf("%s %s: %v", d.script, line, e)
		}
		return reply, nil
	case <-d.exited:
		return nil, fmt.Errorf("%s %s: the script exited (%v)\nstderr:\n%s", d.script, line, d.waitErr, d.stderrText())
	case <-time.After(timeout):
		return nil, fmt.Errorf("%s %s: no answer within %v\nstderr:\n%s", d.script, line, timeout, d.stderrText())
	}
}

// take waits up to timeout for an event that match accepts and was not
// taken before, marks it taken and returns it. It returns nil on timeout.
func (d *driver) take(timeout time.Duration, match func(map[string]any) bool) map[string]any {
	deadline := time.After(timeout)
	for {
		d.mu.Lock()
		for i, e := range d.events {
			if !d.taken[i] && match(e) {
				d.taken[i] = true
				d.mu.Unlock()
				return e
			}
		}
		changed := d.changed
		d.mu.Unlock()
		select {
		case <-changed:
		case <-d.exited:
			return nil
		case <-deadline:
			return nil
		}
	}
}

// untaken returns the events that match accepts and were not taken.
func (d *driver) untaken(match func(map[string]any) bool) []map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []map[string]any
	for i, e := range d.events {
		if !d.taken[i] && match(e) {
			out = append(out, e)
		}
	}
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// --- Routes ---------------------------------------------------------------------

// TestRoutes checks that both routers serve the page, the client bundle
// and Socket.IO, and that an unknown router is refused.
func TestRoutes(t *testing.T) {
	needBundle(t)
	for _, router := range []string{"std", "chi"} {
		t.Run(router, func(t *testing.T) {
			srv := startServer(t, router)
			for _, c := range []struct{ path, want string }{
				{"/", `<script src="app.js">`},
				{"/app.js", `io({ auth: { username: name }`},
				{"/style.css", `#banner`},
				{"/vendor/socket.io.min.js", `Socket.IO`},
			} {
				resp, err := http.Get(srv.URL() + c.path)
				if err != nil {
					t.Fatalf("GET %s: %v", c.path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), c.want) {
					t.Errorf("GET %s: status %d, body %.80q...; want 200 with %q", c.path, resp.StatusCode, body, c.want)
				}
			}
			// Socket.IO answers its handshake. The session is then closed
			// from this side, or the server's shutdown would wait for it
			// (a ping timeout) to come and fetch the close packet.
			resp, err := http.Get(srv.URL() + "/socket.io/?EIO=4&transport=polling")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var open struct{ SID string }
			if !bytes.HasPrefix(body, []byte("0{")) || json.Unmarshal(body[1:], &open) != nil || open.SID == "" {
				t.Fatalf("Socket.IO handshake: status %d, body %q; want an open packet", resp.StatusCode, body)
			}
			session := srv.URL() + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
			resp, err = http.Post(session, "text/plain", strings.NewReader("1"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			resp, err = http.Get(session) // as the JS client's poll in flight would
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			resp, err = http.Get(srv.URL() + "/nothing-here")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /nothing-here: status %d, want 404", resp.StatusCode)
			}
		})
	}
	if _, err := routes("gorilla", newChat()); err == nil {
		t.Error(`routes("gorilla") succeeded, want an error`)
	}
}
