package redisadapter

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testenv"
	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: the
// adapters' subscribers, publishers and handlers must all be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// skipOrFail skips t for a missing tool, or fails it under SIO_REQUIRE_ALL=1.
var skipOrFail = testenv.SkipOrFail

// quietLogger drops what the adapters and servers log below Error, unless
// the tests run with -v.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// ---- redis-server ----

// redisServer is a redis-server of the test's own, on a free loopback
// port, without persistence. It can be killed and started again on the
// same port.
type redisServer struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server not found in PATH; install Redis (Debian: apt-get install redis-server)")
	}
	r := &redisServer{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }
func (r *redisServer) URL() string  { return "redis://" + r.Addr() }

// start runs redis-server and waits until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", r.Addr(), 200*time.Millisecond); err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			fmt.Fprint(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on port %d did not start", r.port)
}

// kill stops redis-server at once, as a crash would.
func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// newClient returns a go-redis client of r, closed when the test ends.
func (r *redisServer) newClient(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// numSub is the number of servers subscribed to a namespace's requests.
func (r *redisServer) numSub(t testing.TB, nsp string) int {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer c.Close()
	ch := "socket.io-request#" + nsp + "#"
	m, err := c.PubSubNumSub(context.Background(), ch).Result()
	if err != nil {
		return -1
	}
	return int(m[ch])
}

// waitNumSub waits until n servers are subscribed to nsp's requests.
func (r *redisServer) waitNumSub(t testing.TB, nsp string, n int, timeout time.Duration) {
	t.Helper()
	if !eventually(timeout, func() bool { return r.numSub(t, nsp) == n }) {
		t.Fatalf("NUMSUB of %s is %d, want %d", nsp, r.numSub(t, nsp), n)
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- Go nodes ----

// goNode is a sio server on the Redis adapter, served by httptest.
type goNode struct {
	name string
	srv  *sio.Server
	hs   *httptest.Server
	rdb  *redis.Client

	mu  sync.Mutex
	sse []sseCall // server-side events received
}

type sseCall struct {
	Nsp, Event string
	Args       []any
}

func newGoNode(t testing.TB, name string, r *redisServer, opts ...Option) *goNode {
	t.Helper()
	g := &goNode{name: name, rdb: r.newClient(t)}
	opts = append([]Option{WithLogger(quietLogger())}, opts...)
	g.srv = sio.New(sio.WithAdapter(New(g.rdb, opts...)), sio.WithLogger(quietLogger()))
	for _, nsp := range []string{"/", "/chat"} {
		g.setup(g.srv.Of(nsp))
	}
	g.hs = httptest.NewServer(g.srv)
	t.Cleanup(g.close)
	return g
}

func (g *goNode) close() {
	g.hs.CloseClientConnections()
	g.srv.Close()
	g.hs.Close()
}

// setup registers what the Node harness's servers have too.
func (g *goNode) setup(ns *sio.Namespace) {
	ns.OnConnect(func(ctx context.Context, s *sio.Socket) {
		var auth any
		s.Handshake().DecodeAuth(&auth)
		s.SetData(map[string]any{"server": g.name, "auth": auth})
	})
	sio.OnAck(ns, "join", func(ctx context.Context, s *sio.Socket, rooms any) (string, error) {
		switch r := rooms.(type) {
		case string:
			s.Join(r)
		case []any:
			for _, x := range r {
				if name, ok := x.(string); ok {
					s.Join(name)
				}
			}
		}
		return s.ID(), nil
	})
	sio.OnAck(ns, "leave", func(ctx context.Context, s *sio.Socket, room string) (string, error) {
		s.Leave(room)
		return s.ID(), nil
	})
	sio.OnRaw(ns, "echo", func(ctx context.Context, s *sio.Socket, args sio.Args) ([]any, error) {
		return args.Values()
	})
	ns.OnServerSideEmit("sse-ask", func(ctx context.Context, args sio.Args) ([]any, error) {
		vals, _ := args.Values()
		var arg any
		if len(vals) > 0 {
			arg = vals[0]
		}
		return []any{map[string]any{"from": g.name, "arg": arg}}, nil
	})
	ns.OnServerSideEmit("sse-fail", func(ctx context.Context, args sio.Args) ([]any, error) {
		return nil, fmt.Errorf("%s refuses", g.name)
	})
	ns.OnServerSideEmit("sse-note", func(ctx context.Context, args sio.Args) ([]any, error) {
		vals, _ := args.Values()
		g.mu.Lock()
		g.sse = append(g.sse, sseCall{ns.Name(), "sse-note", vals})
		g.mu.Unlock()
		return nil, nil
	})
}

func (g *goNode) url() string { return g.hs.URL }

func (g *goNode) sseCalls() []sseCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sse)
}

// ---- The Node.js harness ----

const harnessDir = "testdata"

// harness is testdata/harness.mjs: Node servers on @socket.io/redis-adapter,
// @socket.io/redis-emitter, and socket.io-client clients, driven over
// stdin/stdout.
type harness struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan harnessReply
	lines   []harnessLine
	changed chan struct{} // closed and replaced when lines grow
	exited  chan struct{}
	stderr  strings.Builder
}

type harnessReply struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// harnessLine is an unsolicited line: what a client or server saw.
type harnessLine struct {
	Type   string `json:"type"`
	Client string `json:"client"`
	Server string `json:"server"`
	Nsp    string `json:"nsp"`
	Event  string `json:"event"`
	Args   []any  `json:"args"`
	Reason string `json:"reason"`
	SID    string `json:"sid"`
}

// needNode returns the node binary, or skips t (fails it under
// SIO_REQUIRE_ALL=1) when Node.js or the npm packages are missing.
func needNode(t testing.TB) string {
	t.Helper()
	return testenv.NeedNode(t, harnessDir, "adapter/redis/"+harnessDir,
		"socket.io", "socket.io-client", "@socket.io/redis-adapter", "@socket.io/redis-emitter", "redis")
}

func startHarness(t testing.TB) *harness {
	t.Helper()
	node := needNode(t)
	h := &harness{t: t, waiting: map[int]chan harnessReply{}, changed: make(chan struct{}), exited: make(chan struct{})}
	h.cmd = exec.Command(node, "harness.mjs")
	h.cmd.Dir = harnessDir
	h.cmd.Stderr = &lockedWriter{mu: &h.mu, w: &h.stderr}
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go h.read(stdout, ready)
	select {
	case <-ready:
	case <-h.exited:
		t.Fatalf("harness exited: %s", h.stderrText())
	case <-time.After(20 * time.Second):
		t.Fatal("harness did not start")
	}
	t.Cleanup(h.stop)
	return h
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *harness) stderrText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stderr.String()
}

func (h *harness) read(r io.Reader, ready chan struct{}) {
	defer close(h.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var head struct {
			ID   *int   `json:"id"`
			Type string `json:"type"`
		}
		if json.Unmarshal(sc.Bytes(), &head) != nil {
			continue
		}
		if head.ID != nil {
			var rep harnessReply
			json.Unmarshal(sc.Bytes(), &rep)
			h.mu.Lock()
			c := h.waiting[*head.ID]
			delete(h.waiting, *head.ID)
			h.mu.Unlock()
			if c != nil {
				c <- rep
			}
			continue
		}
		if head.Type == "ready" {
			close(ready)
			continue
		}
		var l harnessLine
		json.Unmarshal(sc.Bytes(), &l)
		h.mu.Lock()
		h.lines = append(h.lines, l)
		close(h.changed)
		h.changed = make(chan struct{})
		h.mu.Unlock()
	}
}

func (h *harness) stop() {
	h.call(map[string]any{"cmd": "exit"})
	h.stdin.Close()
	select {
	case <-h.exited:
	case <-time.After(5 * time.Second):
		h.cmd.Process.Kill()
		<-h.exited
	}
	h.cmd.Wait()
}

// call sends a command and returns its result.
func (h *harness) call(cmd map[string]any) (json.RawMessage, error) {
	h.mu.Lock()
	h.nextID++
	id := h.nextID
	c := make(chan harnessReply, 1)
	h.waiting[id] = c
	h.mu.Unlock()
	cmd["id"] = id
	b, _ := json.Marshal(cmd)
	if _, err := h.stdin.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	select {
	case r := <-c:
		if !r.OK {
			return nil, fmt.Errorf("harness %v: %s", cmd["cmd"], r.Error)
		}
		return r.Result, nil
	case <-h.exited:
		return nil, fmt.Errorf("harness exited: %s", h.stderrText())
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("harness %v: no reply", cmd["cmd"])
	}
}

// must is call failing the test on error, decoding the result into v
// when v is not nil.
func (h *harness) must(v any, cmd map[string]any) {
	h.t.Helper()
	res, err := h.call(cmd)
	if err != nil {
		h.t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(res, v); err != nil {
			h.t.Fatalf("harness %v: result %s: %v", cmd["cmd"], res, err)
		}
	}
}

// startServer starts a Node socket.io server on the Redis adapter and
// returns its URL.
func (h *harness) startServer(name string, r *redisServer, requestsTimeout time.Duration) string {
	h.t.Helper()
	var res struct{ Port int }
	h.must(&res, map[string]any{"cmd": "startServer", "name": name, "redis": r.URL(),
		"requestsTimeout": requestsTimeout.Milliseconds(), "namespaces": []string{"/", "/chat"}})
	return "http://127.0.0.1:" + strconv.Itoa(res.Port)
}

// server runs a socket.io server operation on the Node server name.
func (h *harness) server(v any, name, op string, fields map[string]any) {
	h.t.Helper()
	cmd := map[string]any{"cmd": "server", "server": name, "op": op}
	for k, x := range fields {
		cmd[k] = x
	}
	h.must(v, cmd)
}

// connect connects a socket.io-client client and returns its socket id.
func (h *harness) connect(name, url string, fields map[string]any) string {
	h.t.Helper()
	cmd := map[string]any{"cmd": "connect", "name": name, "url": url}
	for k, x := range fields {
		cmd[k] = x
	}
	var res struct{ SID string }
	h.must(&res, cmd)
	return res.SID
}

// snapshot returns the lines received so far, and a channel closed when
// more come.
func (h *harness) snapshot() ([]harnessLine, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lines), h.changed
}

// waitLines waits until cond holds for the lines received, or fails t.
func (h *harness) waitLines(timeout time.Duration, what string, cond func([]harnessLine) bool) []harnessLine {
	h.t.Helper()
	deadline := time.After(timeout)
	for {
		lines, changed := h.snapshot()
		if cond(lines) {
			return lines
		}
		select {
		case <-changed:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; lines:\n%s", what, dumpLines(lines))
		}
	}
}

// disconnects maps each client that disconnected in lines to its reason.
func disconnects(lines []harnessLine) map[string]string {
	out := map[string]string{}
	for _, x := range lines {
		if x.Type == "disconnect" {
			out[x.Client] = x.Reason
		}
	}
	return out
}

// waitDisconnects waits until done holds for who has disconnected so far
// (client → reason), or fails the test, and returns them.
func (h *harness) waitDisconnects(done func(map[string]string) bool) map[string]string {
	h.t.Helper()
	return disconnects(h.waitLines(5*time.Second, "disconnects", func(l []harnessLine) bool { return done(disconnects(l)) }))
}

// gone reports whether every one of clients is in d.
func gone(d map[string]string, clients ...string) bool {
	for _, c := range clients {
		if _, ok := d[c]; !ok {
			return false
		}
	}
	return true
}

func dumpLines(lines []harnessLine) string {
	var b strings.Builder
	for _, l := range lines {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// events returns the events a client received with the given name.
func events(lines []harnessLine, client, event string) []harnessLine {
	var out []harnessLine
	for _, l := range lines {
		if l.Type == "event" && l.Client == client && l.Event == event {
			out = append(out, l)
		}
	}
	return out
}

// binArg decodes a {"$bin": base64} value from the harness.
func binArg(v any) ([]byte, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	s, ok := m["$bin"].(string)
	if !ok {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}
