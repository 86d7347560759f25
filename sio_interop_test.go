package sio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSocketIOInterop drives the real socket.io-client (testdata/jsclient/
// sio.mjs) against a Server in every transport mode, and checks both what
// the client reports and what the server observed.

// sioPattern is the byte pattern sio.mjs computes too: byte i is
// i*7 + seed*13, mod 256.
func sioPattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*13)
	}
	return b
}

// sioObs is one thing the server observed.
type sioObs struct {
	Kind      string
	Nsp       string
	SID       string
	ConnID    string
	Transport Transport
	Reason    Reason
	Auth      string
	CtxErr    error
	Err       error
	Value     any
	Elapsed   time.Duration
}

func (e sioObs) String() string {
	return fmt.Sprintf("%s nsp=%s sid=%s conn=%s transport=%s reason=%q auth=%s ctxErr=%v err=%v value=%v elapsed=%v",
		e.Kind, e.Nsp, e.SID, e.ConnID, e.Transport, e.Reason, e.Auth, e.CtxErr, e.Err, e.Value, e.Elapsed)
}

// sioInteropServer is a Server with every handler the sio.mjs scenarios use,
// mounted at /socket.io/ on an httptest server, recording what it sees.
type sioInteropServer struct {
	srv  *Server
	hs   *httptest.Server
	URL  string
	logs lockedBuffer // warnings and errors the server logged

	mu  sync.Mutex
	obs []sioObs
	seq map[string][]int // "seq" numbers by socket id
}

func (is *sioInteropServer) add(e sioObs) {
	is.mu.Lock()
	is.obs = append(is.obs, e)
	is.mu.Unlock()
}

// sioSockEntry is an sioObs filled in from a socket.
func sioSockEntry(kind string, s *Socket) sioObs {
	return sioObs{Kind: kind, Nsp: s.Namespace().Name(), SID: s.ID(), ConnID: s.Conn().ID(), Transport: s.Conn().Transport()}
}

// all returns the observations of the given kind.
func (is *sioInteropServer) all(kind string) []sioObs {
	is.mu.Lock()
	defer is.mu.Unlock()
	var out []sioObs
	for _, e := range is.obs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (is *sioInteropServer) dump() string {
	is.mu.Lock()
	defer is.mu.Unlock()
	var b strings.Builder
	for _, e := range is.obs {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// waitKind waits until there are at least n observations of kind, and
// returns them.
func (is *sioInteropServer) waitKind(t *testing.T, kind string, n int) []sioObs {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := is.all(kind)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("server: %d %q observations after 10s, want %d; all:\n%s", len(got), kind, n, is.dump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sioCountBinary counts the []byte values in v, and their bytes.
func sioCountBinary(v any) (n, size int) {
	switch v := v.(type) {
	case []byte:
		return 1, len(v)
	case []any:
		for _, x := range v {
			a, b := sioCountBinary(x)
			n, size = n+a, size+b
		}
	case map[string]any:
		for _, x := range v {
			a, b := sioCountBinary(x)
			n, size = n+a, size+b
		}
	}
	return n, size
}

type sioTyped struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type sioBinTypedIn struct {
	Name  string `json:"name"`
	Data  []byte `json:"data"`
	Inner struct {
		Blob  []byte   `json:"blob"`
		Parts [][]byte `json:"parts"`
	} `json:"inner"`
}

type sioBinTypedOut struct {
	Name     string         `json:"name"`
	Len      int            `json:"len"`
	Parts    int            `json:"parts"`
	Reversed []byte         `json:"reversed"`
	Extra    map[string]any `json:"extra"`
	Blobs    [][]byte       `json:"blobs"`
	NilBytes []byte         `json:"nilBytes"`
	Omitted  []byte         `json:"omitted,omitempty"`
}

type sioBinPushSub struct {
	Raw []byte `json:"raw"`
	N   int    `json:"n"`
}

type sioBinPush struct {
	Kind    string         `json:"kind"`
	Raw     []byte         `json:"raw"`
	Sub     sioBinPushSub  `json:"sub"`
	List    [][]byte       `json:"list"`
	M       map[string]any `json:"m"`
	Omitted []byte         `json:"omitted,omitempty"`
}

type sioBinReflectReply struct {
	Reversed struct {
		Blob []byte `json:"blob"`
	} `json:"reversed"`
	Parts [][][]byte `json:"parts"`
	N     int        `json:"n"`
}

func sioReversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

// newSIOInteropServer starts the server every scenario runs against.
func newSIOInteropServer(t *testing.T, opts ...Option) *sioInteropServer {
	t.Helper()
	is := &sioInteropServer{seq: map[string][]int{}}
	logger := slog.New(slog.NewTextHandler(&is.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := New(append([]Option{WithLogger(logger)}, opts...)...)
	is.srv = srv

	authToken := func(s *Socket) string {
		var a struct {
			Token string `json:"token"`
		}
		json.Unmarshal(s.Handshake().Auth, &a)
		return a.Token
	}
	srv.Use(func(ctx context.Context, s *Socket) error {
		if authToken(s) == "deny" {
			e := sioSockEntry("refused", s)
			e.Auth = string(s.Handshake().Auth)
			is.add(e)
			return &ClientError{Message: "not authorized", Data: map[string]any{"code": 42}}
		}
		return nil
	})
	custom := srv.Of("/custom")
	custom.Use(func(ctx context.Context, s *Socket) error {
		if authToken(s) == "deny" {
			e := sioSockEntry("refused", s)
			e.Auth = string(s.Handshake().Auth)
			is.add(e)
			return errors.New("custom refused")
		}
		return nil
	})
	dyn := srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))

	for _, ns := range []*Namespace{srv.Of("/"), custom, dyn} {
		is.register(ns)
	}

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	is.hs = httptest.NewServer(mux)
	is.URL = is.hs.URL
	t.Cleanup(is.hs.Close)
	t.Cleanup(func() { srv.Close() }) // runs first
	return is
}

// register adds the handlers of every namespace (see the list in sio.mjs).
func (is *sioInteropServer) register(ns *Namespace) {
	srv := is.srv
	whoami := func(s *Socket) map[string]any {
		return map[string]any{"nsp": s.Namespace().Name(), "id": s.ID(), "auth": json.RawMessage(s.Handshake().Auth)}
	}

	ns.OnConnect(func(ctx context.Context, s *Socket) {
		e := sioSockEntry("connect", s)
		e.Auth = string(s.Handshake().Auth)
		is.add(e)
		if err := s.Emit("welcome", whoami(s)); err != nil {
			e := sioSockEntry("error", s)
			e.Err = fmt.Errorf("welcome: %w", err)
			is.add(e)
		}
		go func() {
			<-s.Context().Done()
			e := sioSockEntry("ctx-done", s)
			e.CtxErr = s.Context().Err()
			is.add(e)
		}()
	})
	ns.OnDisconnect(func(s *Socket, reason Reason) {
		e := sioSockEntry("disconnect", s)
		e.Reason = reason
		e.CtxErr = s.Context().Err()
		e.Value = s.Connected()
		is.add(e)
	})

	OnRaw(ns, "whoami", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		return []any{whoami(s)}, nil
	})
	OnRaw(ns, "echo", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		vals, err := args.Values()
		if err != nil {
			return nil, err
		}
		e := sioSockEntry("echo", s)
		n, size := sioCountBinary(vals)
		e.Value = [3]int{len(vals), n, size}
		is.add(e)
		if err := s.Emit("echo-back", vals...); err != nil {
			e := sioSockEntry("error", s)
			e.Err = fmt.Errorf("echo-back: %w", err)
			is.add(e)
		}
		return nil, nil
	})
	OnRaw(ns, "echo-ack", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		vals, err := args.Values()
		if err != nil {
			return nil, err
		}
		e := sioSockEntry("echo-ack", s)
		n, size := sioCountBinary(vals)
		e.Value = [3]int{len(vals), n, size}
		is.add(e)
		if vals == nil {
			vals = []any{}
		}
		return vals, nil
	})
	On(ns, "typed", func(ctx context.Context, s *Socket, v sioTyped) {
		e := sioSockEntry("typed", s)
		e.Value = v
		is.add(e)
		s.Emit("typed-back", sioTyped{v.Name, v.Count * 2})
	})
	type ab struct {
		A int `json:"a"`
		B int `json:"b"`
	}
	OnAck(ns, "sum", func(ctx context.Context, s *Socket, v ab) (map[string]int, error) {
		return map[string]int{"sum": v.A + v.B}, nil
	})
	OnAck(ns, "fail", func(ctx context.Context, s *Socket, v struct{}) (struct{}, error) {
		return struct{}{}, &ClientError{Message: "nope", Data: map[string]any{"why": "because"}}
	})
	type n struct{ N int }
	OnAck(ns, "typed-ack", func(ctx context.Context, s *Socket, v n) (n, error) {
		e := sioSockEntry("typed-ack", s)
		e.Value = v.N
		is.add(e)
		return n{v.N + 1}, nil
	})
	OnRaw(ns, "no-ack", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		is.add(sioSockEntry("no-ack", s))
		return nil, nil
	})
	On(ns, "typed-no-ack", func(ctx context.Context, s *Socket, v n) {
		e := sioSockEntry("typed-no-ack", s)
		e.Value = v.N
		is.add(e)
	})

	// Server -> client acknowledgements.
	OnRaw(ns, "call-me", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		var in ab
		if err := args.Decode(0, &in); err != nil {
			return nil, err
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		prod, err := Call[struct {
			Product int `json:"product"`
		}](c, s, "multiply", in)
		e := sioSockEntry("call", s)
		e.Value, e.Err = prod.Product, err
		is.add(e)
		if err != nil {
			return nil, err
		}
		multi, err := s.EmitWithAck(c, "multi-reply", "x")
		if err != nil {
			return nil, err
		}
		vals, err := multi.Values()
		if err != nil {
			return nil, err
		}
		e = sioSockEntry("multi-reply", s)
		e.Value = multi.Len()
		is.add(e)
		return []any{map[string]any{"product": prod.Product, "multi": vals, "nsp": s.Namespace().Name()}}, nil
	})

	// Binary.
	OnAck(ns, "bin-typed", func(ctx context.Context, s *Socket, v sioBinTypedIn) (sioBinTypedOut, error) {
		e := sioSockEntry("bin-typed", s)
		e.Value = v
		is.add(e)
		if len(v.Inner.Parts) != 3 {
			return sioBinTypedOut{}, fmt.Errorf("got %d parts, want 3", len(v.Inner.Parts))
		}
		return sioBinTypedOut{
			Name:     v.Name,
			Len:      len(v.Data),
			Parts:    len(v.Inner.Parts),
			Reversed: sioReversed(v.Data),
			Extra: map[string]any{
				"blob":   v.Inner.Blob,
				"nested": map[string]any{"deep": sioPattern(40, 25)},
				"list":   []any{v.Inner.Parts[1], "x", v.Inner.Parts[2]},
			},
			Blobs: [][]byte{v.Inner.Parts[0], v.Inner.Blob},
		}, nil
	})
	OnRaw(ns, "bin-push", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		push := sioBinPush{
			Kind: "struct",
			Raw:  sioPattern(100, 30),
			Sub:  sioBinPushSub{Raw: sioPattern(200, 31), N: 7},
			List: [][]byte{sioPattern(3, 32), sioPattern(4, 33)},
			M: map[string]any{
				"a": sioPattern(5, 34),
				"b": map[string]any{"c": sioPattern(6, 35), "d": "text"},
			},
		}
		if err := s.Emit("bin-from-server", push, sioPattern(70000, 36)); err != nil {
			return nil, err
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		parts := [][]byte{sioPattern(1, 38), sioPattern(2, 39)}
		blob := sioPattern(50, 37)
		r, err := Call[sioBinReflectReply](c, s, "bin-reflect", map[string]any{"blob": blob, "parts": parts})
		e := sioSockEntry("bin-reflect", s)
		e.Value, e.Err = r, err
		is.add(e)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(r.Reversed.Blob, sioReversed(blob)) || r.N != 2 || len(r.Parts) != 2 ||
			len(r.Parts[0]) != 1 || !bytes.Equal(r.Parts[0][0], sioReversed(parts[0])) ||
			len(r.Parts[1]) != 1 || !bytes.Equal(r.Parts[1][0], sioReversed(parts[1])) {
			return nil, fmt.Errorf("bin-reflect reply does not match: %+v", r)
		}
		return []any{map[string]any{"ok": true, "reflected": len(r.Parts)}}, nil
	})

	// Acknowledgement timeouts on the server's side.
	OnRaw(ns, "start-server-timeouts", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		res := map[string]any{}
		for _, ev := range []string{"never-ack", "late-ack"} {
			c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			start := time.Now()
			a, err := s.EmitWithAck(c, ev, ev)
			cancel()
			e := sioSockEntry("server-timeout", s)
			e.Value, e.Err, e.Elapsed = ev, err, time.Since(start)
			if err == nil {
				e.Value = fmt.Sprintf("%s: unexpected reply of %d arguments", ev, a.Len())
			}
			is.add(e)
			res[strings.TrimSuffix(ev, "-ack")] = map[string]any{"deadline": errors.Is(err, context.DeadlineExceeded)}
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, err := Call[map[string]any](c, s, "slow-ack", "slow-ack")
		e := sioSockEntry("server-slow-ack", s)
		e.Value, e.Err = v, err
		s.mu.Lock()
		e.Reason = Reason(strconv.Itoa(len(s.acks))) // acknowledgements still pending
		s.mu.Unlock()
		is.add(e)
		if err != nil {
			return nil, err
		}
		res["slow"] = v
		return []any{res}, nil
	})

	// Disconnections.
	OnRaw(ns, "status", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		ids := []string{}
		for _, x := range srv.Of("/custom").Sockets() {
			ids = append(ids, x.ID())
		}
		sort.Strings(ids)
		return []any{map[string]any{"nsp": s.Namespace().Name(), "id": s.ID(), "connected": s.Connected(), "custom": ids}}, nil
	})
	OnRaw(ns, "disconnect-me", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		is.add(sioSockEntry("disconnect-me", s))
		s.Disconnect()
		return nil, nil
	})
	OnRaw(ns, "shutdown-me", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		is.add(sioSockEntry("shutdown-me", s))
		for _, nsp := range []string{"/", "/custom"} {
			for _, x := range srv.Of(nsp).Sockets() {
				x.Emit("last", x.ID())
			}
		}
		// Shutdown waits for handlers, this one included: not from here.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e := sioSockEntry("shutdown-done", s)
			e.Err = srv.Shutdown(ctx)
			is.add(e)
		}()
		return nil, nil
	})
	OnRaw(ns, "drop-me", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
		is.add(sioSockEntry("drop-me", s))
		s.Conn().Close()
		return nil, nil
	})

	// Ordering and concurrency.
	On(ns, "seq", func(ctx context.Context, s *Socket, v struct {
		I int `json:"i"`
	}) {
		is.mu.Lock()
		is.seq[s.ID()] = append(is.seq[s.ID()], v.I)
		is.mu.Unlock()
	})
	OnAck(ns, "seq-done", func(ctx context.Context, s *Socket, _ struct{}) (map[string]any, error) {
		is.mu.Lock()
		got := slices.Clone(is.seq[s.ID()])
		is.mu.Unlock()
		inOrder := true
		for i, x := range got {
			if x != i {
				inOrder = false
			}
		}
		return map[string]any{"count": len(got), "inOrder": inOrder}, nil
	})
	type flood struct {
		Workers int `json:"workers"`
		Per     int `json:"per"`
	}
	OnAck(ns, "flood", func(ctx context.Context, s *Socket, f flood) (map[string]int, error) {
		var wg sync.WaitGroup
		var sent, failed atomic.Int64
		for w := range f.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range f.Per {
					var err error
					if i%3 == 0 {
						err = s.Emit("flood-item", map[string]any{"w": w, "i": i, "nested": map[string]any{"b": sioPattern(8, i)}},
							sioPattern(16+i, w))
					} else {
						err = s.Emit("flood-item", map[string]any{"w": w, "i": i})
					}
					if err != nil {
						failed.Add(1)
					} else {
						sent.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		e := sioSockEntry("flood", s)
		e.Value = [2]int{int(sent.Load()), int(failed.Load())}
		is.add(e)
		return map[string]int{"sent": int(sent.Load()), "errors": int(failed.Load())}, nil
	})
	OnAck(ns, "flood-received", func(ctx context.Context, s *Socket, n int) (map[string]bool, error) {
		e := sioSockEntry("flood-received", s)
		e.Value = n
		is.add(e)
		return map[string]bool{"ok": true}, nil
	})
}

// sioInteropCase is one scenario of sio.mjs and what the server must have
// seen.
type sioInteropCase struct {
	name     string
	args     []string
	modeArgs func(mode string) []string // more arguments, by mode
	opts     []Option
	check    func(t *testing.T, mode string, is *sioInteropServer, r nodeResult)
}

// sioClientIDs returns the socket ids sio.mjs reported on connecting, by
// namespace, in order.
func sioClientIDs(r nodeResult) map[string][]string {
	out := map[string][]string{}
	for _, l := range r.Events("connect") {
		nsp, _ := l["nsp"].(string)
		id, _ := l["id"].(string)
		out[nsp] = append(out[nsp], id)
	}
	return out
}

// sioFinalTransport is the transport a session ends on in mode.
func sioFinalTransport(mode string) Transport {
	if mode == "polling" {
		return TransportPolling
	}
	return TransportWebSocket
}

// sioCheckConnects checks the server saw one connect per id the client
// reported, in the right namespaces, and returns them by socket id.
func sioCheckConnects(t *testing.T, mode string, is *sioInteropServer, r nodeResult) map[string]sioObs {
	t.Helper()
	ids := sioClientIDs(r)
	want := 0
	for _, l := range ids {
		want += len(l)
	}
	if want == 0 {
		t.Fatalf("client reported no connect:\n%s", r)
	}
	got := is.waitKind(t, "connect", want)
	if len(got) != want {
		t.Fatalf("server saw %d connects, client %d:\n%s", len(got), want, is.dump())
	}
	bySID := map[string]sioObs{}
	for _, e := range got {
		bySID[e.SID] = e
	}
	for nsp, l := range ids {
		for _, id := range l {
			e, ok := bySID[id]
			if !ok {
				t.Errorf("client socket %s on %s unknown to the server:\n%s", id, nsp, is.dump())
				continue
			}
			if e.Nsp != nsp {
				t.Errorf("socket %s: server namespace %q, client %q", id, e.Nsp, nsp)
			}
			if mode != "upgrade" && e.Transport != sioFinalTransport(mode) {
				t.Errorf("socket %s connected over %s in %s mode", id, e.Transport, mode)
			}
		}
	}
	return bySID
}

// sioCheckShutdown checks the server side of the shutdown scenarios: one
// connection, both sockets ended with ReasonServerShutdown, Shutdown
// returned nil.
func sioCheckShutdown(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
	conns := sioCheckConnects(t, mode, is, r)
	if len(conns) != 2 {
		t.Errorf("%d connects, want 2 (no reconnection)", len(conns))
	}
	sids := slices.Collect(maps.Keys(conns))
	sioCheckDisconnects(t, mode, is, ReasonServerShutdown, sids...)
	done := is.waitKind(t, "shutdown-done", 1)
	if done[0].Err != nil {
		t.Errorf("Shutdown = %v; want nil", done[0].Err)
	}
}

// sioCheckDisconnects waits for a disconnect of each socket id with the given
// reason, and checks its context was cancelled by then.
func sioCheckDisconnects(t *testing.T, mode string, is *sioInteropServer, reason Reason, sids ...string) {
	t.Helper()
	disc := is.waitKind(t, "disconnect", len(sids))
	done := is.waitKind(t, "ctx-done", len(sids))
	for _, sid := range sids {
		var d *sioObs
		for i := range disc {
			if disc[i].SID == sid {
				if d != nil {
					t.Errorf("socket %s disconnected twice", sid)
				}
				d = &disc[i]
			}
		}
		if d == nil {
			t.Errorf("no disconnect for socket %s:\n%s", sid, is.dump())
			continue
		}
		if d.Reason != reason {
			t.Errorf("socket %s on %s: disconnect reason %q, want %q", sid, d.Nsp, d.Reason, reason)
		}
		if !errors.Is(d.CtxErr, context.Canceled) {
			t.Errorf("socket %s: context error %v in OnDisconnect, want context.Canceled", sid, d.CtxErr)
		}
		if d.Value != false {
			t.Errorf("socket %s: Connected() = %v in OnDisconnect", sid, d.Value)
		}
		if reason == ReasonClientNamespaceDisconnect || reason == ReasonServerNamespaceDisconnect {
			if d.Transport != sioFinalTransport(mode) {
				t.Errorf("socket %s: disconnected over %s in %s mode", sid, d.Transport, mode)
			}
		}
		if !slices.ContainsFunc(done, func(e sioObs) bool { return e.SID == sid && errors.Is(e.CtxErr, context.Canceled) }) {
			t.Errorf("socket %s: context not cancelled", sid)
		}
	}
}

// sioJSONEqual reports whether a and b hold the same JSON value.
func sioJSONEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Errorf("bad JSON %q: %v", a, err)
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Errorf("bad JSON %q: %v", b, err)
		return false
	}
	return reflect.DeepEqual(x, y)
}

func sioNoKind(t *testing.T, is *sioInteropServer, kind string) {
	t.Helper()
	if got := is.all(kind); len(got) > 0 {
		t.Errorf("unexpected %q observations: %v", kind, got)
	}
}

var sioInteropCases = []sioInteropCase{
	{
		name: "connect",
		args: []string{"--dyn", "/dyn-4711"},
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			ids := sioClientIDs(r)
			wantAuth := map[string]string{
				"/":         `{"token":"main-token","n":1}`,
				"/custom":   `{"token":"custom-token","list":[1,2,3],"nested":{"ok":true,"s":"héllo 🎉"}}`,
				"/dyn-4711": `{"token":"dyn-token"}`,
			}
			var connIDs []string
			var sids []string
			for nsp, auth := range wantAuth {
				if len(ids[nsp]) != 1 {
					t.Fatalf("client connected %d times to %s", len(ids[nsp]), nsp)
				}
				e := conns[ids[nsp][0]]
				if !sioJSONEqual(t, e.Auth, auth) {
					t.Errorf("%s: server saw auth %s, want %s", nsp, e.Auth, auth)
				}
				connIDs = append(connIDs, e.ConnID)
				sids = append(sids, e.SID)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(connIDs)))) != 1 {
				t.Errorf("namespaces on different connections: %v", connIDs)
			}
			if len(r.Events("checked")) != 3 {
				t.Errorf("client checked %d namespaces, want 3", len(r.Events("checked")))
			}
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
			sioNoKind(t, is, "refused")
		},
	},
	{
		name: "connect-errors",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			if len(conns) != 1 {
				t.Fatalf("server saw %d connects, want 1 (/custom):\n%s", len(conns), is.dump())
			}
			var ok sioObs
			for _, e := range conns {
				ok = e
			}
			if ok.Nsp != "/custom" {
				t.Errorf("connect on %s, want /custom", ok.Nsp)
			}
			refused := is.waitKind(t, "refused", 2)
			if len(refused) != 2 {
				t.Fatalf("%d refusals, want 2:\n%s", len(refused), is.dump())
			}
			nsps := map[string]sioObs{}
			for _, e := range refused {
				nsps[e.Nsp] = e
			}
			if e, found := nsps["/"]; !found || !sioJSONEqual(t, e.Auth, `{"token":"deny","why":"test"}`) {
				t.Errorf("refusal on /: %v", e)
			} else if e.ConnID != ok.ConnID {
				t.Errorf("refusal on / over connection %s, /custom over %s", e.ConnID, ok.ConnID)
			}
			if e, found := nsps["/custom"]; !found || !sioJSONEqual(t, e.Auth, `{"token":"deny"}`) {
				t.Errorf("refusal on /custom: %v", e)
			} else if e.ConnID == ok.ConnID {
				t.Errorf("refusal on /custom over the first connection, want the second")
			}
			// Refused sockets never connect, so they never disconnect.
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, ok.SID)
			if d := is.all("disconnect"); len(d) != 1 {
				t.Errorf("%d disconnects, want 1: %v", len(d), d)
			}
		},
	},
	{
		name: "events",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			echoes := is.all("echo")
			if len(echoes) != 10 {
				t.Errorf("server saw %d echo events, want 10", len(echoes))
			}
			wantLens := []int{7, 1, 0, 1, 4}
			for _, nsp := range []string{"/", "/custom"} {
				var lens []int
				for _, e := range echoes {
					if e.Nsp == nsp {
						lens = append(lens, e.Value.([3]int)[0])
					}
				}
				if !slices.Equal(lens, wantLens) {
					t.Errorf("%s: echo argument counts %v, want %v", nsp, lens, wantLens)
				}
			}
			typed := is.all("typed")
			if len(typed) != 2 {
				t.Fatalf("%d typed events, want 2", len(typed))
			}
			for _, e := range typed {
				v := e.Value.(sioTyped)
				if v.Name != "from "+e.Nsp || v.Count != 21 {
					t.Errorf("typed on %s: %+v", e.Nsp, v)
				}
			}
			var sids []string
			for sid := range conns {
				sids = append(sids, sid)
			}
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
		},
	},
	{
		name: "acks",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			calls := is.all("call")
			if len(calls) != 2 {
				t.Fatalf("%d server Calls, want 2:\n%s", len(calls), is.dump())
			}
			for _, e := range calls {
				if e.Err != nil || e.Value != 42 {
					t.Errorf("Call on %s: %v, %v; want 42", e.Nsp, e.Value, e.Err)
				}
			}
			for _, e := range is.all("multi-reply") {
				if e.Value != 4 {
					t.Errorf("EmitWithAck on %s: %v reply arguments, want 4", e.Nsp, e.Value)
				}
			}
			if n := len(is.all("multi-reply")); n != 2 {
				t.Errorf("%d multi-reply acknowledgements, want 2", n)
			}
			var sids []string
			for sid := range conns {
				sids = append(sids, sid)
			}
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
		},
	},
	{
		name: "binary",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			// binPayload holds 8 buffers (256+1000+1+3+3000+10+20+0 bytes),
			// plus 5 and 7 bytes in the echo's other arguments, plus 64 in
			// echo-ack's.
			for _, kind := range []string{"echo", "echo-ack"} {
				want := [3]int{4, 10, 4290 + 12}
				if kind == "echo-ack" {
					want = [3]int{2, 9, 4290 + 64}
				}
				got := is.all(kind)
				if len(got) != 2 {
					t.Errorf("%d %s events, want 2", len(got), kind)
				}
				for _, e := range got {
					if e.Value != want {
						t.Errorf("%s on %s: [args, buffers, bytes] = %v, want %v", kind, e.Nsp, e.Value, want)
					}
				}
			}
			typed := is.all("bin-typed")
			if len(typed) != 2 {
				t.Errorf("%d bin-typed events, want 2", len(typed))
			}
			for _, e := range typed {
				v := e.Value.(sioBinTypedIn)
				if v.Name != "typed" || !bytes.Equal(v.Data, sioPattern(500, 20)) ||
					!bytes.Equal(v.Inner.Blob, sioPattern(33, 21)) || len(v.Inner.Parts) != 3 ||
					!bytes.Equal(v.Inner.Parts[0], sioPattern(1, 22)) ||
					!bytes.Equal(v.Inner.Parts[1], sioPattern(2, 23)) ||
					!bytes.Equal(v.Inner.Parts[2], sioPattern(300, 24)) {
					t.Errorf("bin-typed on %s decoded wrong: %+v", e.Nsp, v)
				}
			}
			refl := is.all("bin-reflect")
			if len(refl) != 2 {
				t.Errorf("%d bin-reflect Calls, want 2", len(refl))
			}
			for _, e := range refl {
				if e.Err != nil {
					t.Errorf("bin-reflect on %s: %v", e.Nsp, e.Err)
				}
			}
			var sids []string
			for sid := range conns {
				sids = append(sids, sid)
			}
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
		},
	},
	{
		name: "server-ack-timeout",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			tos := is.all("server-timeout")
			if len(tos) != 2 {
				t.Fatalf("%d server timeouts, want 2:\n%s", len(tos), is.dump())
			}
			for _, e := range tos {
				if !errors.Is(e.Err, context.DeadlineExceeded) {
					t.Errorf("EmitWithAck %v: error %v, want one wrapping context.DeadlineExceeded", e.Value, e.Err)
				}
				if e.Elapsed < 250*time.Millisecond || e.Elapsed > 5*time.Second {
					t.Errorf("EmitWithAck %v gave up after %v, want about 300ms", e.Value, e.Elapsed)
				}
			}
			slow := is.all("server-slow-ack")
			if len(slow) != 1 {
				t.Fatalf("%d slow-ack Calls, want 1", len(slow))
			}
			if e := slow[0]; e.Err != nil || !reflect.DeepEqual(e.Value, map[string]any{"which": "slow"}) {
				t.Errorf("slow-ack: %v, %v; want {which: slow} (a late reply must not answer a later call)", e.Value, e.Err)
			} else if e.Reason != "0" {
				t.Errorf("%s acknowledgements still pending after the calls returned", e.Reason)
			}
			if len(r.Events("late-ack-sent")) != 1 {
				t.Errorf("the client did not send its late acknowledgement")
			}
			var sids []string
			for sid := range conns {
				sids = append(sids, sid)
			}
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
		},
	},
	{
		name: "client-ack-timeout",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			if n := len(is.all("no-ack")); n != 1 {
				t.Errorf("no-ack handled %d times, want 1", n)
			}
			if e := is.all("typed-no-ack"); len(e) != 1 || e[0].Value != 2 {
				t.Errorf("typed-no-ack: %v, want one with N=2", e)
			}
			if n := len(r.Events("timeout")); n != 2 {
				t.Errorf("client reported %d timeouts, want 2", n)
			}
			var sids []string
			for sid := range conns {
				sids = append(sids, sid)
			}
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
		},
	},
	{
		name: "client-disconnect",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			ids := sioClientIDs(r)
			if len(ids["/"]) != 1 || len(ids["/custom"]) != 2 {
				t.Fatalf("client joined / %d times and /custom %d times, want 1 and 2", len(ids["/"]), len(ids["/custom"]))
			}
			var sids []string
			for sid, e := range conns {
				sids = append(sids, sid)
				if e.ConnID != conns[ids["/"][0]].ConnID {
					t.Errorf("socket %s on connection %s, / on %s", sid, e.ConnID, conns[ids["/"][0]].ConnID)
				}
			}
			// (Whether the server stopped listing each socket before the
			// next step is checked by the client, with "status".)
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
		},
	},
	{
		name: "server-disconnect",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			if len(conns) != 2 {
				t.Errorf("%d connects, want 2 (no reconnection)", len(conns))
			}
			var sids []string
			for sid := range conns {
				sids = append(sids, sid)
			}
			sioCheckDisconnects(t, mode, is, ReasonServerNamespaceDisconnect, sids...)
			if n := len(is.all("disconnect-me")); n != 2 {
				t.Errorf("disconnect-me handled %d times, want 2", n)
			}
		},
	},
	{
		name: "reconnect",
		opts: []Option{WithPingInterval(300 * time.Millisecond), WithPingTimeout(time.Second)},
		modeArgs: func(mode string) []string {
			// On long-polling, Conn.Close finishes the session at once. A
			// GET waiting at that moment is answered with a close packet
			// ("transport close"), but when the client is between two GETs
			// its next one gets HTTP 400 ("transport error"). Node instead
			// holds the close packet for the next GET. Either way the client
			// reconnects, which is what this case is about.
			if mode == "polling" {
				return []string{"--drop-reasons", "transport close,transport error"}
			}
			return nil
		},
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			for _, l := range r.Events("disconnect") {
				if l["reason"] == "transport error" {
					t.Logf("client saw %s disconnect with reason %v (server closed between two polls)", l["nsp"], l["reason"])
				}
			}
			conns := sioCheckConnects(t, mode, is, r)
			ids := sioClientIDs(r)
			for _, nsp := range []string{"/", "/custom"} {
				if len(ids[nsp]) != 2 {
					t.Fatalf("%s: client connected %d times, want 2", nsp, len(ids[nsp]))
				}
			}
			first, second := conns[ids["/"][0]], conns[ids["/"][1]]
			if first.ConnID == second.ConnID {
				t.Errorf("reconnected over the same connection %s", first.ConnID)
			}
			if c := conns[ids["/custom"][0]]; c.ConnID != first.ConnID {
				t.Errorf("first /custom on connection %s, / on %s", c.ConnID, first.ConnID)
			}
			if c := conns[ids["/custom"][1]]; c.ConnID != second.ConnID {
				t.Errorf("second /custom on connection %s, / on %s", c.ConnID, second.ConnID)
			}
			sioCheckDisconnects(t, mode, is, ReasonForcedClose, ids["/"][0], ids["/custom"][0])
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, ids["/"][1], ids["/custom"][1])
			if n := len(is.all("drop-me")); n != 1 {
				t.Errorf("drop-me handled %d times, want 1", n)
			}
			if len(r.Events("reconnect")) != 1 {
				t.Errorf("client reported %d reconnect events, want 1", len(r.Events("reconnect")))
			}
		},
	},
	{
		name:  "shutdown",
		check: sioCheckShutdown,
	},
	{
		name:  "shutdown-reconnect",
		opts:  []Option{WithDisconnectOnShutdown(false)},
		check: sioCheckShutdown,
	},
	{
		name: "bad-payload",
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			if e := is.all("typed-ack"); len(e) != 1 || e[0].Value != 41 {
				t.Errorf("typed-ack handler calls: %v, want only N=41", e)
			}
			if e := is.all("typed"); len(e) != 1 || e[0].Value.(sioTyped).Name != "fine" {
				t.Errorf("typed handler calls: %v, want only the valid one", e)
			}
			sioNoKind(t, is, "typed-no-ack")
			var sids []string
			for sid := range conns {
				sids = append(sids, sid)
			}
			sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sids...)
		},
	},
	{
		name: "order",
		args: []string{"--count", "200"},
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			for sid := range conns {
				is.mu.Lock()
				got := slices.Clone(is.seq[sid])
				is.mu.Unlock()
				want := make([]int, 200)
				for i := range want {
					want[i] = i
				}
				if !slices.Equal(got, want) {
					t.Errorf("server handled seq events in order %v, want 0..199", got)
				}
				sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sid)
			}
		},
	},
	{
		name: "concurrent-emit",
		args: []string{"--workers", "8", "--per", "50"},
		check: func(t *testing.T, mode string, is *sioInteropServer, r nodeResult) {
			conns := sioCheckConnects(t, mode, is, r)
			if e := is.all("flood"); len(e) != 1 || e[0].Value != [2]int{400, 0} {
				t.Errorf("flood: %v, want 400 sent, 0 errors", e)
			}
			if e := is.all("flood-received"); len(e) != 1 || e[0].Value != 400 {
				t.Errorf("client received: %v, want 400", e)
			}
			for sid := range conns {
				sioCheckDisconnects(t, mode, is, ReasonClientNamespaceDisconnect, sid)
			}
		},
	},
}

func TestSocketIOInterop(t *testing.T) {
	needNode(t)
	for _, mode := range transportModes {
		for _, c := range sioInteropCases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				is := newSIOInteropServer(t, c.opts...)
				args := append([]string{"sio.mjs", "--url", is.URL, "--mode", mode, "--scenario", c.name, "--timeout", "45"}, c.args...)
				if c.modeArgs != nil {
					args = append(args, c.modeArgs(mode)...)
				}
				r := runNode(t, 60*time.Second, args[0], args[1:]...)
				if !r.Passed() {
					t.Fatalf("sio.mjs %s failed:\n%s\nserver saw:\n%s", strings.Join(args[1:], " "), r, is.dump())
				}
				if mode == "upgrade" {
					if len(r.Events("upgrade")) == 0 {
						t.Errorf("no upgrade reported:\n%s", r)
					}
				} else if len(r.Events("upgrade")) != 0 {
					t.Errorf("upgrade in %s mode:\n%s", mode, r)
				}
				for _, l := range r.Events("transport") {
					if l["transport"] != string(sioFinalTransport(mode)) {
						t.Errorf("client on %v in %s mode", l["transport"], mode)
					}
				}
				c.check(t, mode, is, r)
				sioNoKind(t, is, "error")
				if logs := is.logs.String(); logs != "" {
					t.Errorf("server logged warnings:\n%s", logs)
				}
				if t.Failed() || testing.Verbose() {
					t.Logf("client output:\n%s\nserver saw:\n%s", r, is.dump())
				}
			})
		}
	}
}
