package sio

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Python interop test drives a second official client, python-socketio
// (Debian's python3-socketio 5.7.x on python3-engineio 4.3.x), with
// testdata/pyclient/client.py. It runs under /usr/bin/python3, where apt
// installs the packages, or the interpreter named by SIO_PYTHON.
const pyClientScript = "testdata/pyclient/client.py"

// needPython returns the Python interpreter, or skips t (fails it under
// SIO_REQUIRE_ALL=1) when it or the client's packages are missing.
func needPython(t testing.TB) string {
	t.Helper()
	py := os.Getenv("SIO_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	path, err := exec.LookPath(py)
	if err != nil {
		skipOrFail(t, "python interpreter %q not found (set SIO_PYTHON, or apt-get install python3 python3-socketio python3-requests python3-websocket)", py)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-c", "import socketio, requests, websocket").CombinedOutput()
	if err != nil {
		// The last line of the traceback names the missing module.
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		skipOrFail(t, "%s cannot import socketio, requests, websocket (%v: %s); apt-get install python3-socketio python3-requests python3-websocket, or set SIO_PYTHON to an interpreter that has python-socketio 5 with requests and websocket-client",
			path, err, lines[len(lines)-1])
	}
	return path
}

// runPython runs client.py with args within timeout and collects its JSON
// lines, as runNode does for the Node scripts.
func runPython(t testing.TB, py string, timeout time.Duration, args ...string) nodeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{pyClientScript}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	return runJSONLines(cmd)
}

// pySocket is what the server saw of one socket.
type pySocket struct {
	nsp         string
	auth        json.RawMessage
	hsTransport string    // transport of the handshake request
	transport   Transport // transport when the socket connected
	userAgent   string
	conn        *Conn
	events      map[string][][]any // event -> the arguments of each receipt
	acks        map[string][]any   // "ask" kind -> the client's ack arguments
	structs     []pyBinStruct
	reason      Reason
	gone        chan struct{} // closed by the disconnection handler
}

// pyRefusal is one CONNECT the /guarded middleware saw.
type pyRefusal struct {
	auth    json.RawMessage
	refused bool
}

type pyBinStruct struct {
	Name  string   `json:"name"`
	Data  []byte   `json:"data"`
	Parts [][]byte `json:"parts"`
}

// pyObs records the server's side of every run, by socket id.
type pyObs struct {
	mu      sync.Mutex
	sockets map[string]*pySocket
	guarded []pyRefusal
}

func (o *pyObs) connected(s *Socket) {
	hs := s.Handshake()
	ps := &pySocket{
		nsp:         s.Namespace().Name(),
		auth:        slices.Clone(hs.Auth),
		hsTransport: hs.Query().Get("transport"),
		transport:   s.Conn().Transport(),
		userAgent:   hs.Header.Get("User-Agent"),
		conn:        s.Conn(),
		events:      map[string][][]any{},
		acks:        map[string][]any{},
		gone:        make(chan struct{}),
	}
	o.mu.Lock()
	o.sockets[s.ID()] = ps
	o.mu.Unlock()
}

// with runs f on the record of s under the lock.
func (o *pyObs) with(s *Socket, f func(ps *pySocket)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ps := o.sockets[s.ID()]; ps != nil {
		f(ps)
	}
}

func (o *pyObs) disconnected(s *Socket, reason Reason) {
	o.with(s, func(ps *pySocket) {
		ps.reason = reason
		close(ps.gone)
	})
}

func (o *pyObs) event(s *Socket, name string, args Args) {
	vals, err := args.Values()
	if err != nil {
		vals = []any{"Values failed: " + err.Error()}
	}
	o.with(s, func(ps *pySocket) { ps.events[name] = append(ps.events[name], vals) })
}

// socket returns the record of socket id, if any.
func (o *pyObs) socket(id string) *pySocket {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sockets[id]
}

// snapshot copies the fields the checks read, under the lock.
func (o *pyObs) snapshot(id string) (pySocket, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ps := o.sockets[id]
	if ps == nil {
		return pySocket{}, false
	}
	c := *ps
	c.events = map[string][][]any{}
	for k, v := range ps.events {
		c.events[k] = slices.Clone(v)
	}
	c.acks = map[string][]any{}
	for k, v := range ps.acks {
		c.acks[k] = v
	}
	c.structs = slices.Clone(ps.structs)
	return c, true
}

// pyServerHello is the fixed payload of the "server-hello" event; client.py
// has the same as SERVER_HELLO.
var pyServerHello = map[string]any{
	"hello": "python", "n": 42, "f": 1.5, "ok": true, "none": nil,
	"list":    []any{1, "two", nil, false},
	"nested":  map[string]any{"a": map[string]any{"b": "c"}},
	"unicode": "\u00e9\u4e2d\U0001F600",
}

// newPythonServer starts a server with the handlers of every scenario of
// client.py, mounted at /socket.io/, and returns its URL.
func newPythonServer(t *testing.T) (*pyObs, string) {
	obs := &pyObs{sockets: map[string]*pySocket{}}
	logs := &lockedBuffer{}
	srv := New(
		// Short pings, so that every run exchanges several of them with
		// the client; a generous timeout for two shared cores under -race.
		WithPingInterval(time.Second),
		WithPingTimeout(5*time.Second),
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	// Handlers every namespace has.
	common := func(ns *Namespace) {
		ns.OnDisconnect(obs.disconnected)
		OnAck(ns, "whoami", func(ctx context.Context, s *Socket, _ struct{}) (map[string]any, error) {
			hs := s.Handshake()
			return map[string]any{
				"id":                 s.ID(),
				"nsp":                s.Namespace().Name(),
				"auth":               json.RawMessage(hs.Auth),
				"transport":          string(s.Conn().Transport()),
				"handshakeTransport": hs.Query().Get("transport"),
			}, nil
		})
	}

	// "/": connect, events, acks, binary, disconnect.
	root := srv.Of("/")
	common(root)
	srv.OnConnect(func(ctx context.Context, s *Socket) {
		obs.connected(s)
		s.Emit("welcome", map[string]any{"id": s.ID(), "nsp": "/"})
	})
	OnRaw(srv, "c2s", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		obs.event(s, "c2s", args)
		vals, err := args.Values()
		if err != nil {
			return nil, err
		}
		s.Emit("echo", vals...)
		s.Emit("server-hello", pyServerHello)
		s.Emit("no-args")
		return nil, nil
	})
	type sumArgs struct {
		A int `json:"a"`
		B int `json:"b"`
	}
	OnAck(srv, "sum", func(ctx context.Context, s *Socket, v sumArgs) (int, error) {
		return v.A + v.B, nil
	})
	OnAck(srv, "fail", func(ctx context.Context, s *Socket, _ struct{}) (int, error) {
		return 0, &ClientError{Message: "nope", Data: map[string]any{"code": 42}}
	})
	OnRaw(srv, "multi", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		return []any{"a", 1, map[string]any{"k": "v"}}, nil
	})
	// "ask" has the server call EmitWithAck from a handler, and reply with
	// what the client's acknowledgement carried.
	OnRaw(srv, "ask", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		var kind string
		if err := args.Decode(0, &kind); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		a, err := s.EmitWithAck(ctx, "question", kind)
		if err != nil {
			return nil, err
		}
		vals, err := a.Values()
		if err != nil {
			return nil, err
		}
		obs.with(s, func(ps *pySocket) { ps.acks[kind] = vals })
		return []any{map[string]any{"len": a.Len(), "values": vals}}, nil
	})
	OnRaw(srv, "bin", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		obs.event(s, "bin", args)
		vals, err := args.Values()
		if err != nil {
			return nil, err
		}
		s.Emit("bin-echo", vals...)
		return vals, nil
	})
	OnRaw(srv, "send-bin", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		err := s.Emit("bin-fixed",
			[]byte{0, 1, 2, 255},
			map[string]any{
				"nested": []byte("hello"),
				"list":   []any{[]byte{9, 8}, "text", map[string]any{"deep": []byte{}}},
			},
			struct {
				Blob []byte `json:"blob"`
			}{[]byte("struct field")},
		)
		return nil, err
	})
	OnAck(srv, "bin-struct", func(ctx context.Context, s *Socket, v pyBinStruct) (map[string]any, error) {
		obs.with(s, func(ps *pySocket) { ps.structs = append(ps.structs, v) })
		sizes := []int{len(v.Data)}
		for _, p := range v.Parts {
			sizes = append(sizes, len(p))
		}
		return map[string]any{"name": v.Name, "data": v.Data, "parts": v.Parts, "sizes": sizes}, nil
	})
	OnRaw(srv, "kick-me", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		s.Disconnect()
		return nil, nil
	})

	// "/custom".
	custom := srv.Of("/custom")
	common(custom)
	custom.OnConnect(func(ctx context.Context, s *Socket) {
		obs.connected(s)
		s.Emit("custom-hello", map[string]any{"nsp": s.Namespace().Name(), "id": s.ID()})
	})
	On(custom, "nsp-echo", func(ctx context.Context, s *Socket, m map[string]any) {
		obs.with(s, func(ps *pySocket) { ps.events["nsp-echo"] = append(ps.events["nsp-echo"], []any{maps.Clone(m)}) })
		m["nsp"] = s.Namespace().Name()
		s.Emit("echo", m)
	})

	// "/guarded": a middleware that wants the token "letmein".
	guarded := srv.Of("/guarded")
	common(guarded)
	guarded.Use(func(ctx context.Context, s *Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		refused := auth.Token != "letmein"
		obs.mu.Lock()
		obs.guarded = append(obs.guarded, pyRefusal{auth: slices.Clone(s.Handshake().Auth), refused: refused})
		obs.mu.Unlock()
		if refused {
			return &ClientError{Message: "unauthorized", Data: map[string]any{"need": "token"}}
		}
		return nil
	})
	guarded.OnConnect(func(ctx context.Context, s *Socket) { obs.connected(s) })

	return obs, ts.URL
}

// pyCanon renders a value the way client.py prints it: []byte as
// {"$bytes": hex}, so that binary and JSON compare as one JSON text.
func pyCanon(v any) any {
	switch v := v.(type) {
	case []byte:
		return map[string]any{"$bytes": hex.EncodeToString(v)}
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = pyCanon(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = pyCanon(x)
		}
		return out
	}
	return v
}

// pyJSONEq compares got (Go values, possibly with []byte) with want, a JSON
// text in client.py's notation, as canonical JSON.
func pyJSONEq(t *testing.T, what string, got any, want string) {
	t.Helper()
	g, err := json.Marshal(pyCanon(got))
	if err != nil {
		t.Errorf("%s: marshal: %v", what, err)
		return
	}
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %s: %v", what, want, err)
	}
	var gv any
	if err := json.Unmarshal(g, &gv); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !reflect.DeepEqual(gv, w) {
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(gv)
		t.Errorf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

// pyRun is one run of client.py: its output and the socket ids it printed.
type pyRun struct {
	r    nodeResult
	mode string
	sids map[string][]string // namespace -> socket ids, in connection order
}

func (p pyRun) sid(t *testing.T, nsp string) string {
	t.Helper()
	ids := p.sids[nsp]
	if len(ids) != 1 {
		t.Fatalf("want one socket id for %s, got %v\n%s", nsp, ids, p.r)
	}
	return ids[0]
}

// TestPythonInterop runs every scenario of client.py, over each transport
// mode, against one server, and checks both the script's verdict and what
// the server saw.
func TestPythonInterop(t *testing.T) {
	py := needPython(t)
	obs, url := newPythonServer(t)
	// SIO_PYTHON_DEBUG=1 has client.py log every packet, and shows it.
	debug := os.Getenv("SIO_PYTHON_DEBUG") == "1"

	// waitGone waits for socket id to end and checks its reason (unless
	// want is ""), then for its connection to end (the client closes it
	// after its last socket) and checks that reason is one of conn, by
	// default "transport close".
	waitGone := func(t *testing.T, id string, want Reason, conn ...Reason) {
		t.Helper()
		ps := obs.socket(id)
		if ps == nil {
			t.Errorf("server never saw socket %s", id)
			return
		}
		select {
		case <-ps.gone:
		case <-time.After(15 * time.Second):
			t.Errorf("socket %s (%s) not disconnected 15s after the client finished", id, ps.nsp)
			return
		}
		snap, _ := obs.snapshot(id)
		if want != "" && snap.reason != want {
			t.Errorf("socket %s (%s): disconnect reason %q, want %q", id, snap.nsp, snap.reason, want)
		}
		if len(conn) == 0 {
			conn = []Reason{ReasonTransportClose}
		}
		start := time.Now()
		select {
		case <-ps.conn.Context().Done():
		case <-time.After(15 * time.Second):
			t.Errorf("connection of socket %s still open 15s after its socket ended", id)
			return
		}
		ps.conn.mu.Lock()
		reason := ps.conn.reason
		ps.conn.mu.Unlock()
		if !slices.Contains(conn, reason) {
			t.Errorf("connection of socket %s ended with %q, want one of %q", id, reason, conn)
		}
		if d := time.Since(start); d > time.Second {
			// Over long-polling, when the client's CLOSE arrives with no
			// GET waiting, the session lingers for the ping timeout.
			t.Logf("connection of %s (%s) ended %v after its socket, reason %q", id, snap.nsp, d.Round(time.Millisecond), reason)
		}
	}

	// checkSocket checks what every connected socket shares: auth,
	// transports.
	checkSocket := func(t *testing.T, run pyRun, id, nsp, wantAuth string) pySocket {
		t.Helper()
		ps, ok := obs.snapshot(id)
		if !ok {
			t.Fatalf("server has no socket %s", id)
		}
		if ps.nsp != nsp {
			t.Errorf("socket %s: namespace %q, want %q", id, ps.nsp, nsp)
		}
		pyJSONEq(t, "auth of "+nsp, json.RawMessage(ps.auth), wantAuth)
		wantHS, wantT := run.mode, Transport(run.mode)
		if run.mode == "both" {
			// python-engineio 4.3 upgrades at once, before its first
			// message: the handshake is a polling GET, and the CONNECT
			// already travels over the WebSocket.
			wantHS, wantT = "polling", TransportWebSocket
		}
		if ps.hsTransport != wantHS {
			t.Errorf("socket %s: handshake transport %q, want %q", id, ps.hsTransport, wantHS)
		}
		if ps.transport != wantT {
			t.Errorf("socket %s: transport at connect %q, want %q", id, ps.transport, wantT)
		}
		return ps
	}

	type scenario struct {
		name  string
		check func(t *testing.T, run pyRun)
	}
	// Scenarios whose modes may run at once: those that mostly wait.
	parallel := map[string]bool{"heartbeat": true}
	scenarios := []scenario{
		{"connect", func(t *testing.T, run pyRun) {
			id := run.sid(t, "/")
			ps := checkSocket(t, run, id, "/", `{"token":"abc"}`)
			t.Logf("server saw User-Agent %q", ps.userAgent)
			waitGone(t, id, ReasonClientNamespaceDisconnect)
		}},
		{"events", func(t *testing.T, run pyRun) {
			id := run.sid(t, "/")
			checkSocket(t, run, id, "/", `{"token":"abc"}`)
			waitGone(t, id, ReasonClientNamespaceDisconnect)
			ps, _ := obs.snapshot(id)
			pyJSONEq(t, "c2s events", ps.events["c2s"], `[
				["text \u00e9\u4e2d\ud83d\ude00", 42, 3.5, true, null, {"k":"v","n":[1,2,{"deep":false}]}, ["a",1,null]],
				[["one-list", 1]],
				[]
			]`)
		}},
		{"acks", func(t *testing.T, run pyRun) {
			id := run.sid(t, "/")
			checkSocket(t, run, id, "/", `{"token":"abc"}`)
			waitGone(t, id, ReasonClientNamespaceDisconnect)
			ps, _ := obs.snapshot(id)
			pyJSONEq(t, "client acks", ps.acks, `{
				"single": [{"answer": 4}],
				"tuple": ["x", 2, [3]],
				"none": [],
				"list": [["x", 2]]
			}`)
		}},
		{"binary", func(t *testing.T, run pyRun) {
			id := run.sid(t, "/")
			checkSocket(t, run, id, "/", `{"token":"abc"}`)
			waitGone(t, id, ReasonClientNamespaceDisconnect)
			ps, _ := obs.snapshot(id)
			bins := ps.events["bin"]
			if len(bins) != 2 {
				t.Fatalf("server got %d bin events, want 2", len(bins))
			}
			// The bytes arrive as []byte, in place, at every depth.
			first := bins[0]
			if len(first) != 4 {
				t.Fatalf("bin event has %d arguments, want 4: %v", len(first), first)
			}
			if b, ok := first[0].([]byte); !ok || !bytes.Equal(b, []byte{0, 1, 2, 253, 254, 255}) {
				t.Errorf("top-level bytes: %#v", first[0])
			}
			if b, ok := first[3].([]byte); !ok || len(b) != 0 {
				t.Errorf("empty bytes: %#v", first[3])
			}
			pyJSONEq(t, "bin event", first, `[
				{"$bytes":"000102fdfeff"},
				{"list":[{"$bytes":"00"},"text",{"deep":{"$bytes":"ffffff"}}],"n":7,"nested":{"$bytes":"68656c6c6f"}},
				[{"$bytes":"61"},{"$bytes":"62"}],
				{"$bytes":""}
			]`)
			pyJSONEq(t, "bin event with ack", bins[1], `[{"$bytes":"07"},[{"$bytes":"08"}]]`)
			if len(ps.structs) != 1 {
				t.Fatalf("server decoded %d bin-struct events, want 1", len(ps.structs))
			}
			want := pyBinStruct{Name: "n", Data: []byte{1, 2}, Parts: [][]byte{[]byte("p1"), {}, []byte("p3")}}
			got := ps.structs[0]
			if got.Name != want.Name || !bytes.Equal(got.Data, want.Data) || len(got.Parts) != 3 ||
				!bytes.Equal(got.Parts[0], want.Parts[0]) || len(got.Parts[1]) != 0 || !bytes.Equal(got.Parts[2], want.Parts[2]) {
				t.Errorf("bin-struct decoded as %+v, want %+v", got, want)
			}
			pyJSONEq(t, "client binary ack", ps.acks["binary"], `[{"$bytes":"dead"},{"k":[{"$bytes":"beef"}]}]`)
		}},
		{"namespace", func(t *testing.T, run pyRun) {
			root, custom := run.sid(t, "/"), run.sid(t, "/custom")
			checkSocket(t, run, root, "/", `{"token":"abc"}`)
			ps := checkSocket(t, run, custom, "/custom", `{"token":"abc"}`)
			rs, _ := obs.snapshot(root)
			if rs.conn != ps.conn {
				t.Errorf("/ and /custom are on different connections")
			}
			waitGone(t, root, ReasonClientNamespaceDisconnect)
			waitGone(t, custom, ReasonClientNamespaceDisconnect)
			ps, _ = obs.snapshot(custom)
			pyJSONEq(t, "/custom nsp-echo", ps.events["nsp-echo"], `[[{"x":1}]]`)
			if n := len(rs.events); n != 0 {
				t.Errorf("/ got events meant for /custom: %v", rs.events)
			}
		}},
		{"connect-error", func(t *testing.T, run pyRun) {
			id := run.sid(t, "/guarded")
			checkSocket(t, run, id, "/guarded", `{"token":"letmein"}`)
			waitGone(t, id, ReasonClientNamespaceDisconnect)
			obs.mu.Lock()
			g := slices.Clone(obs.guarded)
			obs.mu.Unlock()
			if len(g) != 2 || !g[0].refused || g[1].refused {
				t.Fatalf("/guarded middleware saw %+v, want a refusal then an admission", g)
			}
			pyJSONEq(t, "refused auth", g[0].auth, `{"token":"wrong"}`)
			pyJSONEq(t, "admitted auth", g[1].auth, `{"token":"letmein"}`)
		}},
		{"disconnect", func(t *testing.T, run pyRun) {
			root, custom := run.sid(t, "/"), run.sid(t, "/custom")
			checkSocket(t, run, root, "/", `{"token":"abc"}`)
			checkSocket(t, run, custom, "/custom", `{"token":"abc"}`)
			waitGone(t, root, ReasonClientNamespaceDisconnect)
			waitGone(t, custom, ReasonClientNamespaceDisconnect)
		}},
		{"disconnect-raw", func(t *testing.T, run pyRun) {
			// python-socketio's own disconnect() closes a WebSocket before
			// its writer has sent the DISCONNECT (see client.py), so the
			// server sees the connection drop first, usually. Over
			// long-polling the DISCONNECT always arrives.
			id := run.sid(t, "/")
			checkSocket(t, run, id, "/", `{"token":"abc"}`)
			if run.mode == "polling" {
				// The DISCONNECT and CLOSE go in one POST, or the
				// DISCONNECT alone if the writer thread wakes up before
				// CLOSE is queued; it then exits, and the server's next
				// ping goes unanswered. If the writer is in the middle of
				// a POST when disconnect() is called, it finds the state
				// no longer "connected" when that POST returns and exits
				// without sending either (engineio/client.py, _write_loop):
				// then the socket too ends by ping timeout.
				waitGone(t, id, "", ReasonTransportClose, ReasonPingTimeout)
				switch ps, _ := obs.snapshot(id); ps.reason {
				case ReasonClientNamespaceDisconnect, ReasonPingTimeout:
				default:
					t.Errorf("socket %s: disconnect reason %q, want %q or %q", id, ps.reason, ReasonClientNamespaceDisconnect, ReasonPingTimeout)
				}
				return
			}
			waitGone(t, id, "")
			ps, _ := obs.snapshot(id)
			switch ps.reason {
			case ReasonTransportClose, ReasonClientNamespaceDisconnect:
				t.Logf("plain disconnect() over %s: the server saw %q", run.mode, ps.reason)
			default:
				t.Errorf("socket %s: disconnect reason %q, want %q or %q", id, ps.reason, ReasonTransportClose, ReasonClientNamespaceDisconnect)
			}
		}},
		{"server-disconnect", func(t *testing.T, run pyRun) {
			id := run.sid(t, "/")
			checkSocket(t, run, id, "/", `{"token":"abc"}`)
			// python-socketio answers the DISCONNECT by closing the
			// connection. Over long-polling, its writer thread drops the
			// CLOSE when it is busy with a POST at that moment (it checks
			// the state before it takes the next packet); the server then
			// notices with its next ping.
			conn := []Reason{ReasonTransportClose}
			if run.mode == "polling" {
				conn = append(conn, ReasonPingTimeout)
			}
			waitGone(t, id, ReasonServerNamespaceDisconnect, conn...)
		}},
		{"heartbeat", func(t *testing.T, run pyRun) {
			// Idle for over a ping interval plus the ping timeout: had
			// the pongs been missed, the connection would have ended
			// with "ping timeout" and the client's last call failed.
			id := run.sid(t, "/")
			checkSocket(t, run, id, "/", `{"token":"abc"}`)
			waitGone(t, id, ReasonClientNamespaceDisconnect)
		}},
	}

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, mode := range []string{"polling", "websocket", "both"} {
				t.Run(mode, func(t *testing.T) {
					if parallel[sc.name] {
						t.Parallel()
					} else {
						obs.mu.Lock()
						obs.guarded = nil
						obs.mu.Unlock()
					}
					args := []string{"--url", url, "--transports", mode, "--scenario", sc.name, "--timeout", "40"}
					if debug {
						args = append(args, "--debug")
					}
					r := runPython(t, py, 60*time.Second, args...)
					if debug {
						t.Logf("client.py output:\n%s", r)
					}
					if !r.Passed() {
						t.Fatalf("client.py %s over %s failed:\n%s", sc.name, mode, r)
					}
					run := pyRun{r: r, mode: mode, sids: map[string][]string{}}
					for _, l := range r.Events("connected") {
						nsps, _ := l["namespaces"].(map[string]any)
						for nsp, id := range nsps {
							if s, ok := id.(string); ok {
								run.sids[nsp] = append(run.sids[nsp], s)
							}
						}
					}
					sc.check(t, run)
				})
			}
		})
	}
}
