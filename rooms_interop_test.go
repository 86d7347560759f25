package sio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// End-to-end tests of rooms and broadcasts with the real socket.io-client
// (testdata/jsclient/rooms.mjs): the script opens named clients, each
// reports "ready" once connected, the test drives the server side, and the
// script prints everything each client received. Phases end with a "mark"
// event sent to every client: a connection delivers in order, so each
// client's transcript is exactly determined, and the test compares it whole.

// roomsData is what the server stores with each socket (SetData).
type roomsData struct {
	Name string
	Role string
}

// roomsServer is a Server with namespaces "/" and "/other" on an httptest
// server, recording each client's socket by the name it reports as ready.
type roomsServer struct {
	srv  *Server
	hs   *httptest.Server
	url  string
	logs lockedBuffer

	mu          sync.Mutex
	ready       map[string]*Socket
	transport   map[string]string // as the client reported it with "ready"
	disconnects map[string]Reason // by socket id
}

func roomsStart(t *testing.T, opts ...Option) *roomsServer {
	t.Helper()
	rs := &roomsServer{ready: map[string]*Socket{}, transport: map[string]string{}, disconnects: map[string]Reason{}}
	logger := slog.New(slog.NewTextHandler(&rs.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rs.srv = New(append([]Option{WithLogger(logger)}, opts...)...)
	for _, ns := range []*Namespace{rs.srv.Of("/"), rs.srv.Of("/other")} {
		ns.OnConnect(func(ctx context.Context, s *Socket) {
			var auth struct {
				Name string `json:"name"`
			}
			s.Handshake().DecodeAuth(&auth)
			s.SetData(roomsData{Name: auth.Name, Role: "role-" + auth.Name})
		})
		ns.OnDisconnect(func(s *Socket, reason Reason) {
			rs.mu.Lock()
			rs.disconnects[s.ID()] = reason
			rs.mu.Unlock()
		})
		On(ns, "ready", func(ctx context.Context, s *Socket, r struct {
			Name      string `json:"name"`
			Transport string `json:"transport"`
		}) {
			rs.mu.Lock()
			rs.ready[r.Name] = s
			rs.transport[r.Name] = r.Transport
			rs.mu.Unlock()
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", rs.srv)
	rs.hs = httptest.NewServer(mux)
	rs.url = rs.hs.URL
	t.Cleanup(rs.hs.Close)
	t.Cleanup(func() { rs.srv.Close() }) // runs first
	return rs
}

// roomsNode is a run of rooms.mjs in the background.
type roomsNode struct {
	done chan struct{}
	res  nodeResult
}

// roomsStartNode starts rooms.mjs against rs with args. The run is waited
// for when t ends, after the server is closed (which ends every client).
func roomsStartNode(t *testing.T, rs *roomsServer, timeout time.Duration, args ...string) *roomsNode {
	t.Helper()
	needNode(t) // skips here, on the test's goroutine
	n := &roomsNode{done: make(chan struct{})}
	args = append([]string{"--url", rs.url}, args...)
	go func() {
		defer close(n.done)
		n.res = runNode(t, timeout, "rooms.mjs", args...)
	}()
	t.Cleanup(func() {
		rs.srv.Close()
		<-n.done
	})
	return n
}

// wait returns the script's output once it has exited.
func (n *roomsNode) wait(t *testing.T, d time.Duration) nodeResult {
	t.Helper()
	select {
	case <-n.done:
		return n.res
	case <-time.After(d):
		t.Fatalf("rooms.mjs still running after %v", d)
		return nodeResult{}
	}
}

// waitReady waits until every named client is ready, and returns their
// sockets by name.
func (rs *roomsServer) waitReady(t *testing.T, n *roomsNode, names []string, d time.Duration) map[string]*Socket {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		rs.mu.Lock()
		got := len(rs.ready)
		var out map[string]*Socket
		if got >= len(names) {
			out = make(map[string]*Socket, len(names))
			for _, name := range names {
				if s := rs.ready[name]; s != nil {
					out[name] = s
				}
			}
		}
		rs.mu.Unlock()
		if len(out) == len(names) {
			return out
		}
		select {
		case <-n.done:
			t.Fatalf("rooms.mjs exited with %d of %d clients ready:\n%s\nserver log:\n%s", got, len(names), roomsTail(n.res), rs.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d clients ready after %v; server log:\n%s", got, len(names), d, rs.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// roomsTail renders the end of a script's output for a failure message.
func roomsTail(r nodeResult) string {
	s := r.String()
	if len(s) > 20000 {
		s = "…" + s[len(s)-20000:]
	}
	return s
}

// roomsTranscripts returns what each client received, in order: an event
// as `name [args JSON]` (with " +ack" when it asked for an
// acknowledgement), a disconnection as `!disconnect reason`.
func roomsTranscripts(t *testing.T, r nodeResult) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, l := range r.Lines {
		name, _ := l["client"].(string)
		if name == "" {
			continue
		}
		if ev, ok := l["recv"].(string); ok {
			args, err := json.Marshal(l["args"])
			if err != nil {
				t.Fatal(err)
			}
			line := ev + " " + string(args)
			if l["ack"] == true {
				line += " +ack"
			}
			out[name] = append(out[name], line)
		} else if l["event"] == "disconnect" {
			out[name] = append(out[name], fmt.Sprintf("!disconnect %v", l["reason"]))
		}
	}
	return out
}

// roomsExpect builds the transcripts the clients must have.
type roomsExpect map[string][]string

func (e roomsExpect) add(line string, names ...string) {
	for _, n := range names {
		e[n] = append(e[n], line)
	}
}

func roomsMust(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestRoomsInterop(t *testing.T) {
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) { roomsMatrix(t, mode) })
	}
}

// roomsMatrix runs the targeting matrix with clients a, b, c, d on "/"
// and o on "/other", in rooms a: r1; b: r1 r2; c: r2; d, o: none.
func roomsMatrix(t *testing.T, mode string) {
	rs := roomsStart(t)
	mainNames := []string{"a", "b", "c", "d"}
	all := []string{"a", "b", "c", "d", "o"}
	node := roomsStartNode(t, rs, 150*time.Second, "--mode", mode, "--clients", "a,b,c,d,o@/other", "--timeout", "120")
	socks := rs.waitReady(t, node, all, 60*time.Second)
	ns, other := rs.srv.Of("/"), rs.srv.Of("/other")
	a, b, c, d, o := socks["a"], socks["b"], socks["c"], socks["d"], socks["o"]
	ids := map[string]string{}
	for name, s := range socks {
		ids[s.ID()] = name
	}
	a.Join("r1")
	b.Join("r1", "r2")
	c.Join("r2")

	want := roomsExpect{}
	step := 0
	mark := func(names ...string) {
		t.Helper()
		step++
		for _, n := range names {
			roomsMust(t, "mark", socks[n].Emit("mark", step))
			want.add(fmt.Sprintf("mark [%d]", step), n)
		}
	}
	emit := func(label string, target Broadcast, to ...string) {
		t.Helper()
		roomsMust(t, label, target.Emit("p", label))
		want.add(`p ["`+label+`"]`, to...)
	}

	// One room.
	emit("one-room", ns.To("r1"), "a", "b")
	mark(all...)

	// The union of rooms, each socket once.
	emit("union", ns.To("r1", "r2"), "a", "b", "c")
	emit("union-chained", ns.To("r2").To("r1", "r2"), "a", "b", "c")
	emit("union-with-id", ns.To("r1", b.ID(), c.ID()), "a", "b", "c")
	mark(all...)

	// Except.
	emit("except", ns.Except("r2"), "a", "d")
	emit("room-except-room", ns.To("r1").Except("r2"), "a")
	emit("union-except-id", ns.To("r1", "r2").Except(a.ID()), "b", "c")
	mark(all...)

	// The sender excluded.
	emit("b-broadcast", b.Broadcast(), "a", "c", "d")
	emit("b-to-r1", b.To("r1"), "a")
	emit("b-to-r1-r2", b.To("r1", "r2"), "a", "c")
	emit("d-broadcast-except-r1", d.Broadcast().Except("r1"), "c")
	emit("o-broadcast", o.Broadcast()) // alone in /other
	mark(all...)

	// One socket by id.
	emit("to-c", ns.To(c.ID()), "c")
	emit("to-c-d", ns.To(c.ID(), d.ID()), "c", "d")
	emit("o-id-on-main", ns.To(o.ID())) // o is not in "/"
	emit("to-o", other.To(o.ID()), "o")
	mark(all...)

	// Server-wide on the main namespace; namespaces apart.
	roomsMust(t, "srv.Emit", rs.srv.Emit("p", "server-wide"))
	want.add(`p ["server-wide"]`, mainNames...)
	emit("srv-to-r2", rs.srv.To("r2"), "b", "c")
	roomsMust(t, "other.Emit", other.Emit("p", "other-wide"))
	want.add(`p ["other-wide"]`, "o")
	emit("other-to-r1", other.To("r1")) // no one in /other's r1
	mark(all...)

	// Volatile and local broadcasts reach healthy clients.
	emit("volatile-r1", ns.To("r1").Volatile(), "a", "b")
	emit("volatile-all", ns.Except().Volatile(), mainNames...)
	emit("local-r2", ns.To("r2").Local(), "b", "c")
	mark(all...)

	// A broadcast with acknowledgements that everyone answers.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	replies, err := ns.To("r1", "r2").EmitWithAck(ctx, "ask", map[string]any{"silent": []string{}})
	if err != nil {
		t.Fatalf("EmitWithAck to r1, r2: %v", err)
	}
	want.add(`ask [{"silent":[]}] +ack`, "a", "b", "c")
	roomsCheckReplies(t, "EmitWithAck to r1, r2", replies, ids, []string{"a", "b", "c"})
	mark(all...)

	// One client never answers: the error names it alone.
	short, cancelShort := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelShort()
	replies, err = ns.Except().EmitWithAck(short, "ask", map[string]any{"silent": []string{"d"}})
	want.add(`ask [{"silent":["d"]}] +ack`, mainNames...)
	var te *AckTimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("EmitWithAck with d silent: err = %v, want *AckTimeoutError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap context.DeadlineExceeded", err)
	}
	if !slices.Equal(te.Missing, []string{d.ID()}) || te.MissingRemote != 0 {
		t.Errorf("Missing = %v (remote %d), want only d = %s", te.Missing, te.MissingRemote, d.ID())
	}
	roomsCheckReplies(t, "EmitWithAck with d silent", replies, ids, []string{"a", "b", "c"})
	mark(all...)

	// FetchSockets: ids, rooms, handshake auth, data.
	fetched, err := ns.To("r1").FetchSockets(ctx)
	roomsMust(t, "FetchSockets", err)
	roomsCheckFetched(t, "To(r1)", fetched, ids, map[string][]string{
		"a": {a.ID(), "r1"},
		"b": {b.ID(), "r1", "r2"},
	})
	fetched, err = other.Except().Local().FetchSockets(ctx)
	roomsMust(t, "FetchSockets /other", err)
	roomsCheckFetched(t, "/other", fetched, ids, map[string][]string{"o": {o.ID()}})
	fetched, err = ns.To("nobody").FetchSockets(ctx)
	if err != nil || len(fetched) != 0 {
		t.Errorf("FetchSockets of an empty room = %v, %v", fetched, err)
	}

	// SocketsJoin and SocketsLeave change whom a later broadcast reaches.
	roomsMust(t, "SocketsJoin", ns.To("r2").SocketsJoin("r3"))
	emit("r3-joined", ns.To("r3"), "b", "c")
	roomsMust(t, "SocketsLeave", ns.To("r1").SocketsLeave("r3"))
	emit("r3-after-leave", ns.To("r3"), "c")
	if !c.In("r3") || b.In("r3") || a.In("r3") {
		t.Errorf("r3: a %v, b %v, c %v; want only c", a.In("r3"), b.In("r3"), c.In("r3"))
	}
	fd, err := ns.To(d.ID()).FetchSockets(ctx)
	if err != nil || len(fd) != 1 {
		t.Fatalf("FetchSockets of d = %v, %v", fd, err)
	}
	roomsMust(t, "RemoteSocket.Join", fd[0].Join("r4"))
	emit("r4", ns.To("r4"), "d")
	roomsMust(t, "RemoteSocket.Emit", fd[0].Emit("p", "remote-emit"))
	want.add(`p ["remote-emit"]`, "d")
	roomsMust(t, "RemoteSocket.Leave", fd[0].Leave("r4"))
	emit("r4-left", ns.To("r4"))
	mark(all...)

	// DisconnectSockets: b and c are told "io server disconnect"; a later
	// broadcast to everyone reaches the others only.
	roomsMust(t, "DisconnectSockets", ns.To("r2").DisconnectSockets())
	want.add("!disconnect io server disconnect", "b", "c")
	emit("after-disconnect", ns.Except(), "a", "d")
	if got, err := ns.To("r2").FetchSockets(ctx); err != nil || len(got) != 0 {
		t.Errorf("FetchSockets(r2) after DisconnectSockets = %d sockets, %v", len(got), err)
	}

	for _, n := range []string{"a", "d", "o"} {
		roomsMust(t, "done", socks[n].Emit("done"))
		want.add("done []", n)
	}

	r := node.wait(t, 150*time.Second)
	if !r.Passed() {
		t.Fatalf("rooms.mjs failed:\n%s\nserver log:\n%s", roomsTail(r), rs.logs.String())
	}
	got := roomsTranscripts(t, r)
	for _, n := range all {
		if !slices.Equal(got[n], want[n]) {
			t.Errorf("client %s received:\n  %s\nwant:\n  %s", n, strings.Join(got[n], "\n  "), strings.Join(want[n], "\n  "))
		}
	}

	// Each client's socket is the one the server knows by its name, on the
	// transport the mode asks for.
	wantTransport := map[string]string{"polling": "polling", "websocket": "websocket", "upgrade": "websocket"}[mode]
	for _, l := range r.Events("connect") {
		name, _ := l["client"].(string)
		if s := socks[name]; s == nil || l["id"] != s.ID() {
			t.Errorf("client %s connected as %v, the server has it as %v", name, l["id"], s)
		}
	}
	rs.mu.Lock()
	for _, n := range all {
		if rs.transport[n] != wantTransport {
			t.Errorf("client %s was on %q when ready, want %q", n, rs.transport[n], wantTransport)
		}
	}
	for _, n := range []string{"b", "c"} {
		if reason := rs.disconnects[socks[n].ID()]; reason != ReasonServerNamespaceDisconnect {
			t.Errorf("server: %s disconnected with %q, want %q", n, reason, ReasonServerNamespaceDisconnect)
		}
	}
	rs.mu.Unlock()
	if t.Failed() {
		t.Logf("server log:\n%s", rs.logs.String())
	}
}

// roomsCheckReplies checks there is one reply from each named client, with
// its socket id and its name as the reply.
func roomsCheckReplies(t *testing.T, what string, replies []AckReply, ids map[string]string, names []string) {
	t.Helper()
	var got []string
	for _, r := range replies {
		var v struct {
			Name string `json:"name"`
		}
		if err := r.Args.Decode(0, &v); err != nil {
			t.Errorf("%s: reply of %s: %v", what, r.SocketID, err)
			continue
		}
		if ids[r.SocketID] != v.Name {
			t.Errorf("%s: reply %q from socket %s, which is client %q", what, v.Name, r.SocketID, ids[r.SocketID])
		}
		got = append(got, v.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Errorf("%s: replies from %v, want %v", what, got, names)
	}
}

// roomsCheckFetched checks fetched sockets against the named clients and
// their rooms.
func roomsCheckFetched(t *testing.T, what string, fetched []RemoteSocket, ids map[string]string, want map[string][]string) {
	t.Helper()
	if len(fetched) != len(want) {
		t.Errorf("%s: fetched %d sockets, want %d", what, len(fetched), len(want))
	}
	for _, f := range fetched {
		name, ok := ids[f.ID]
		wantRooms, ok2 := want[name]
		if !ok || !ok2 {
			t.Errorf("%s: fetched socket %s (client %q), not expected", what, f.ID, name)
			continue
		}
		rooms := slices.Sorted(slices.Values(f.Rooms))
		wantRooms = slices.Sorted(slices.Values(wantRooms))
		if !slices.Equal(rooms, wantRooms) {
			t.Errorf("%s: %s's rooms = %v, want %v", what, name, rooms, wantRooms)
		}
		var auth map[string]any
		if err := json.Unmarshal(f.Handshake.Auth, &auth); err != nil {
			t.Errorf("%s: %s's auth %q: %v", what, name, f.Handshake.Auth, err)
		}
		if wantAuth := map[string]any{"name": name, "token": "tok-" + name}; !reflect.DeepEqual(auth, wantAuth) {
			t.Errorf("%s: %s's auth = %v, want %v", what, name, auth, wantAuth)
		}
		if wantData := (roomsData{Name: name, Role: "role-" + name}); f.Data != wantData {
			t.Errorf("%s: %s's data = %#v, want %#v", what, name, f.Data, wantData)
		}
	}
}

// TestRoomsInteropThousand puts 1,000 clients of one Node process in one
// room, broadcasts numbered messages to it, and checks that every client
// got every message exactly once, in order, in each transport mode (after
// the upgrade, in upgrade mode).
func TestRoomsInteropThousand(t *testing.T) {
	const clients, messages = 1000, 20
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			transport := mode // where the clients end up
			if mode == "upgrade" {
				transport = "websocket"
			}
			rs := roomsStart(t)
			names := make([]string, clients)
			for i := range names {
				names[i] = fmt.Sprintf("c%d", i)
			}
			node := roomsStartNode(t, rs, 300*time.Second, "--mode", mode, "--count", fmt.Sprint(clients),
				"--summary", "--timeout", "240")
			socks := rs.waitReady(t, node, names, 180*time.Second)
			notThere := 0
			for _, s := range socks {
				if s.Conn().Transport() != Transport(transport) {
					notThere++
				}
			}
			if notThere > 0 {
				t.Fatalf("%d connections are not on %s", notThere, transport)
			}
			ns := rs.srv.Of("/")
			roomsMust(t, "SocketsJoin", ns.Except().SocketsJoin("big"))
			if n := len(ns.To("big").Sockets()); n != clients {
				t.Fatalf("room big has %d sockets, want %d", n, clients)
			}
			room := ns.To("big")
			for i := range messages {
				roomsMust(t, "broadcast", room.Emit("msg", map[string]int{"seq": i}))
			}
			roomsMust(t, "done", room.Emit("done"))

			r := node.wait(t, 300*time.Second)
			if !r.Passed() {
				t.Fatalf("rooms.mjs failed:\n%s\nserver log:\n%s", roomsTail(r), rs.logs.String())
			}
			seen := map[string]bool{}
			bad := 0
			for _, l := range r.Lines {
				name, _ := l["client"].(string)
				sum, ok := l["summary"].(map[string]any)
				if !ok {
					continue
				}
				seen[name] = true
				okSum := sum["count"] == float64(messages) && sum["first"] == float64(0) &&
					sum["last"] == float64(messages-1) && sum["inOrder"] == true && sum["done"] == true &&
					reflect.DeepEqual(sum["other"], []any{"done"}) && sum["transport"] == transport
				if !okSum {
					bad++
					if bad <= 10 {
						t.Errorf("client %s: %v", name, sum)
					}
				}
			}
			if bad > 10 {
				t.Errorf("… %d clients in all got the wrong messages", bad)
			}
			if len(seen) != clients {
				t.Errorf("%d client summaries, want %d", len(seen), clients)
			}
		})
	}
}
