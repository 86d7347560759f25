package redisadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio"
)

// A cluster is one redis-server, two Go servers (g1, g2) and one Node
// server (n1, socket.io 4.8.4 on @socket.io/redis-adapter 8.3), each with
// two socket.io-client clients in the main namespace: <node>-a in room
// "red", <node>-b in room "blue"; and one client in /chat, chat-<node>.
type cluster struct {
	t      *testing.T
	r      *redisServer
	h      *harness
	g1, g2 *goNode
	n1     string // the Node server's URL

	sids map[string]string // client name -> socket id
}

var (
	nodeNames   = []string{"g1", "g2", "n1"}
	mainClients = []string{"g1-a", "g1-b", "g2-a", "g2-b", "n1-a", "n1-b"}
	chatClients = []string{"chat-g1", "chat-g2", "chat-n1"}
)

func newCluster(t *testing.T, opts ...Option) *cluster {
	t.Helper()
	c := &cluster{t: t, sids: map[string]string{}}
	c.r = startRedis(t)
	c.h = startHarness(t)
	c.g1 = newGoNode(t, "g1", c.r, opts...)
	c.g2 = newGoNode(t, "g2", c.r, opts...)
	c.n1 = c.h.startServer("n1", c.r, 2*time.Second)
	c.r.waitNumSub(t, "/", 3, 5*time.Second)
	c.r.waitNumSub(t, "/chat", 3, 5*time.Second)
	for _, node := range nodeNames {
		for _, s := range []struct{ suffix, room string }{{"a", "red"}, {"b", "blue"}} {
			name := node + "-" + s.suffix
			// Half the clients long-poll, the others use WebSocket.
			transports := []string{"websocket"}
			if s.suffix == "b" {
				transports = []string{"polling"}
			}
			c.sids[name] = c.h.connect(name, c.url(node), map[string]any{
				"transports": transports, "auth": map[string]any{"who": name}})
			var sid string
			c.h.must(&sid, map[string]any{"cmd": "client", "client": name, "op": "emitWithAck",
				"event": "join", "args": []any{s.room}})
			if sid != c.sids[name] {
				t.Fatalf("join answered %q, want %q", sid, c.sids[name])
			}
		}
		name := "chat-" + node
		c.sids[name] = c.h.connect(name, c.url(node), map[string]any{"nsp": "/chat"})
	}
	return c
}

func (c *cluster) url(node string) string {
	switch node {
	case "g1":
		return c.g1.url()
	case "g2":
		return c.g2.url()
	}
	return c.n1
}

func (c *cluster) goNode(name string) *goNode {
	if name == "g1" {
		return c.g1
	}
	return c.g2
}

// emit broadcasts from a node to rooms minus except.
func (c *cluster) emit(origin, nsp string, rooms, except []string, event string, args ...any) {
	c.t.Helper()
	if origin == "n1" {
		c.h.server(nil, "n1", "emit", map[string]any{"nsp": nsp, "rooms": rooms, "except": except,
			"event": event, "args": wireArgs(args)})
		return
	}
	if err := c.goNode(origin).srv.Of(nsp).To(rooms...).Except(except...).Emit(event, args...); err != nil {
		c.t.Fatal(err)
	}
}

// wireArgs prepares Go values for the harness: []byte as {"$bin": ...}.
func wireArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case []byte:
			out[i] = map[string]any{"$bin": a}
		case map[string]any:
			m := map[string]any{}
			for k, v := range a {
				m[k] = wireArgs([]any{v})[0]
			}
			out[i] = m
		case []any:
			out[i] = wireArgs(a)
		default:
			out[i] = a
		}
	}
	return out
}

// delivery is an event that the listed clients, and no others, must get
// exactly once.
type delivery struct {
	event string
	to    []string
}

// checkDeliveries waits until every delivery has reached its clients,
// waits a little more for strays, then checks that each client got each
// event exactly once if listed and never otherwise.
func (c *cluster) checkDeliveries(ds []delivery) []harnessLine {
	c.t.Helper()
	c.h.waitLines(10*time.Second, "deliveries", func(lines []harnessLine) bool {
		for _, d := range ds {
			for _, cl := range d.to {
				if len(events(lines, cl, d.event)) == 0 {
					return false
				}
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond)
	lines, _ := c.h.snapshot()
	all := append(slices.Clone(mainClients), chatClients...)
	for _, d := range ds {
		for _, cl := range all {
			want := 0
			if slices.Contains(d.to, cl) {
				want = 1
			}
			if got := len(events(lines, cl, d.event)); got != want {
				c.t.Errorf("%s got %q %d times, want %d", cl, d.event, got, want)
			}
		}
	}
	return lines
}

func clientsOf(suffix string) []string {
	var out []string
	for _, n := range nodeNames {
		out = append(out, n+suffix)
	}
	return out
}

// TestBroadcastAcrossCluster: broadcasts from each node, to everyone, to a
// room, to all but a room, to a room but one socket, to two rooms, with
// binary, and in another namespace, reach the clients of every node exactly
// once.
func TestBroadcastAcrossCluster(t *testing.T) {
	c := newCluster(t)
	var ds []delivery
	for _, o := range nodeNames {
		ds = append(ds,
			delivery{"all-" + o, mainClients},
			delivery{"red-" + o, clientsOf("-a")},
			delivery{"notred-" + o, clientsOf("-b")},
			delivery{"redbut-" + o, []string{"g1-a", "n1-a"}},
			delivery{"both-" + o, mainClients},
			delivery{"bin-" + o, mainClients},
			delivery{"chat-" + o, chatClients},
		)
		c.emit(o, "/", nil, nil, "all-"+o, "hello", 42.5, map[string]any{"k": []any{"v", true, nil}})
		c.emit(o, "/", []string{"red"}, nil, "red-"+o, o)
		c.emit(o, "/", nil, []string{"red"}, "notred-"+o, o)
		c.emit(o, "/", []string{"red"}, []string{c.sids["g2-a"]}, "redbut-"+o, o)
		c.emit(o, "/", []string{"red", "blue"}, nil, "both-"+o, o)
		c.emit(o, "/", nil, nil, "bin-"+o, []byte{1, 2, 3}, map[string]any{"nested": []byte{4, 5}})
		c.emit(o, "/chat", nil, nil, "chat-"+o, o)
	}
	// A socket's broadcast (everyone but itself), from a Go server.
	s := c.g1.srv.Of("/").Socket(c.sids["g1-a"])
	if err := s.Broadcast().Emit("sb", "x"); err != nil {
		t.Fatal(err)
	}
	ds = append(ds, delivery{"sb", slices.DeleteFunc(slices.Clone(mainClients), func(n string) bool { return n == "g1-a" })})
	// A Date from Node: Go clients get what Node clients get.
	c.h.server(nil, "n1", "emit", map[string]any{"event": "date", "args": []any{map[string]any{"$date": 1234}}})
	ds = append(ds, delivery{"date", mainClients})

	lines := c.checkDeliveries(ds)

	for _, o := range nodeNames {
		for _, cl := range mainClients {
			ev := events(lines, cl, "all-"+o)
			if len(ev) != 1 {
				continue
			}
			want := []any{"hello", 42.5, map[string]any{"k": []any{"v", true, nil}}}
			if fmt.Sprint(ev[0].Args) != fmt.Sprint(want) {
				t.Errorf("%s got all-%s with %v, want %v", cl, o, ev[0].Args, want)
			}
			ev = events(lines, cl, "bin-"+o)
			if len(ev) != 1 || len(ev[0].Args) != 2 {
				continue
			}
			b, ok := binArg(ev[0].Args[0])
			if !ok || string(b) != "\x01\x02\x03" {
				t.Errorf("%s got bin-%s arg 0 = %v, want binary 010203", cl, o, ev[0].Args[0])
			}
			m, _ := ev[0].Args[1].(map[string]any)
			if b, ok := binArg(m["nested"]); !ok || string(b) != "\x04\x05" {
				t.Errorf("%s got bin-%s arg 1 = %v, want nested binary 0405", cl, o, ev[0].Args[1])
			}
		}
	}
	for _, cl := range mainClients {
		if ev := events(lines, cl, "date"); len(ev) == 1 && fmt.Sprint(ev[0].Args) != "[1970-01-01T00:00:01.234Z]" {
			t.Errorf("%s got date %v", cl, ev[0].Args)
		}
	}
}

// TestLocalTargets: a Local() target acts on its own server's sockets and
// on no other server's. Each local operation is followed by a non-local
// control from the same server, which travels the way the local one would
// have if it leaked: once the controls have arrived everywhere, so would a
// leak have.
func TestLocalTargets(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	ns1, ns2 := c.g1.srv.Of("/"), c.g2.srv.Of("/")

	// Emits, to every audience, from Go and from Node.
	for event, b := range map[string]sio.Broadcast{
		"local-all":    ns1.Local(),
		"local-red":    ns1.To("red").Local(),
		"local-notred": ns1.Except("red").Local(),
		"local-both":   ns1.Local().To("red", "blue"),
		"local-chat":   c.g1.srv.Of("/chat").Local(),
		"local-but-me": ns1.Socket(c.sids["g1-a"]).Broadcast().Local(),
	} {
		if err := b.Emit(event, 1); err != nil {
			t.Fatal(err)
		}
	}
	c.h.server(nil, "n1", "emit", map[string]any{"local": true, "event": "local-n1"})
	// Acknowledgements come from this server's clients only, and at once:
	// no other server is waited for.
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	replies, err := ns1.Local().EmitWithAck(actx, "ask-local")
	if err != nil {
		t.Fatalf("local EmitWithAck: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("local EmitWithAck took %v", d)
	}
	var from []string
	for _, r := range replies {
		from = append(from, r.SocketID)
	}
	sort.Strings(from)
	if want := c.sortedSIDs("g1-a", "g1-b"); !slices.Equal(from, want) {
		t.Errorf("local EmitWithAck: replies from %v, want g1's clients %v", from, want)
	}
	// The controls.
	c.emit("g1", "/", nil, nil, "after-g1")
	c.emit("g1", "/chat", nil, nil, "after-g1-chat")
	c.emit("n1", "/", nil, nil, "after-n1")
	c.checkDeliveries([]delivery{
		{"local-all", []string{"g1-a", "g1-b"}},
		{"local-red", []string{"g1-a"}},
		{"local-notred", []string{"g1-b"}},
		{"local-both", []string{"g1-a", "g1-b"}},
		{"local-chat", []string{"chat-g1"}},
		{"local-but-me", []string{"g1-b"}},
		{"local-n1", []string{"n1-a", "n1-b"}},
		{"ask-local", []string{"g1-a", "g1-b"}},
		{"after-g1", mainClients},
		{"after-g1-chat", chatClients},
		{"after-n1", mainClients},
	})

	// FetchSockets lists this server's sockets only.
	socks, err := ns1.Local().FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedIDs(socks), c.sortedSIDs("g1-a", "g1-b"); !slices.Equal(got, want) {
		t.Errorf("local FetchSockets = %v, want %v", got, want)
	}

	// Room changes: g1's sockets join lime, nobody else's.
	if err := ns1.Local().SocketsJoin("lime"); err != nil {
		t.Fatal(err)
	}
	if err := ns1.Local().To("red").SocketsLeave("red"); err != nil {
		t.Fatal(err)
	}
	g1a, g1b := ns1.Socket(c.sids["g1-a"]), ns1.Socket(c.sids["g1-b"])
	if !g1a.In("lime") || !g1b.In("lime") || g1a.In("red") {
		t.Errorf("g1's sockets after the local join and leave: %v, %v", g1a.Rooms(), g1b.Rooms())
	}
	control := []string{c.sids["g2-a"], c.sids["g2-b"], c.sids["n1-a"], c.sids["n1-b"]}
	if err := ns1.To(control...).SocketsJoin("lime-control"); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool {
		for _, n := range []string{"n1-a", "n1-b"} {
			if !slices.Contains(c.nodeRooms(c.sids[n]), "lime-control") {
				return false
			}
		}
		return ns2.Socket(c.sids["g2-a"]).In("lime-control") && ns2.Socket(c.sids["g2-b"]).In("lime-control")
	}) {
		t.Fatal("the control join did not reach g2 and n1")
	}
	for _, n := range []string{"g2-a", "g2-b"} {
		if r := ns2.Socket(c.sids[n]).Rooms(); slices.Contains(r, "lime") || (n == "g2-a" && !slices.Contains(r, "red")) {
			t.Errorf("%s rooms = %v: a local join or leave of g1 reached it", n, r)
		}
	}
	for _, n := range []string{"n1-a", "n1-b"} {
		if r := c.nodeRooms(c.sids[n]); slices.Contains(r, "lime") || (n == "n1-a" && !slices.Contains(r, "red")) {
			t.Errorf("%s rooms = %v: a local join or leave of g1 reached it", n, r)
		}
	}

	// Disconnection: g2's blue socket only; the control disconnects n1-a
	// and g1-a, so that g1 and n1 have each handled what g2 published
	// before it.
	if err := ns2.To("blue").Local().DisconnectSockets(); err != nil {
		t.Fatal(err)
	}
	if err := ns2.To(c.sids["n1-a"], c.sids["g1-a"]).DisconnectSockets(); err != nil {
		t.Fatal(err)
	}
	d := c.h.waitDisconnects(func(d map[string]string) bool { return gone(d, "g2-b", "n1-a", "g1-a") })
	for client, reason := range d {
		if client != "g2-b" && client != "n1-a" && client != "g1-a" {
			t.Errorf("%s disconnected (%s): g2's local disconnection reached it", client, reason)
		}
	}
	if !g1b.Connected() {
		t.Error("g1-b, in blue on g1, disconnected: g2's local disconnection reached g1")
	}
}

// TestFetchSockets: fetchSockets from Go sees the Node server's sockets,
// and from Node sees the Go servers' sockets with Node's handshake shape.
func TestFetchSockets(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	socks, err := c.g1.srv.Of("/").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedIDs(socks), c.sortedSIDs(mainClients...); !slices.Equal(got, want) {
		t.Fatalf("g1 fetched %v, want %v", got, want)
	}
	for _, s := range socks {
		if s.ID != c.sids["n1-a"] {
			continue
		}
		data, _ := s.Data.(map[string]any)
		if data["server"] != "n1" {
			t.Errorf("n1-a data = %#v", s.Data)
		}
		if !slices.Contains(s.Rooms, "red") || !slices.Contains(s.Rooms, s.ID) {
			t.Errorf("n1-a rooms = %v", s.Rooms)
		}
		hs := s.Handshake
		if hs.Query().Get("EIO") != "4" || hs.Header.Get("Host") == "" || hs.Time.IsZero() || hs.RemoteAddr == "" {
			t.Errorf("n1-a handshake = %+v", hs)
		}
		var auth map[string]any
		if err := hs.DecodeAuth(&auth); err != nil || auth["who"] != "n1-a" {
			t.Errorf("n1-a auth = %s (%v)", hs.Auth, err)
		}
	}
	red, err := c.g2.srv.Of("/").To("red").Except(c.sids["g1-a"]).FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedIDs(red), c.sortedSIDs("g2-a", "n1-a"); !slices.Equal(got, want) {
		t.Errorf("g2 fetched red minus g1-a: %v, want %v", got, want)
	}
	// A remote socket acts where it is.
	for _, s := range red {
		if s.ID == c.sids["n1-a"] {
			if err := s.Emit("to-you", "from g2"); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.h.waitLines(5*time.Second, "n1-a gets to-you", func(l []harnessLine) bool { return len(events(l, "n1-a", "to-you")) == 1 })

	// From Node.
	var fetched []struct {
		ID        string
		Rooms     []string
		Data      map[string]any
		Handshake map[string]any
	}
	c.h.server(&fetched, "n1", "fetchSockets", nil)
	var ids []string
	for _, f := range fetched {
		ids = append(ids, f.ID)
		if f.ID != c.sids["g1-b"] {
			continue
		}
		if f.Data["server"] != "g1" || !slices.Contains(f.Rooms, "blue") {
			t.Errorf("g1-b seen from Node: %+v", f)
		}
		hs := f.Handshake
		for _, k := range []string{"headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"} {
			if _, ok := hs[k]; !ok {
				t.Errorf("handshake from Go lacks %q: %v", k, hs)
			}
		}
		if q, _ := hs["query"].(map[string]any); q["EIO"] != "4" || q["transport"] != "polling" {
			t.Errorf("handshake query = %v", hs["query"])
		}
		// Go's net/http keeps the Host header out of the request's
		// headers, so unlike Node's there is no "host" among them.
		if h, _ := hs["headers"].(map[string]any); h["user-agent"] == nil {
			t.Errorf("handshake headers = %v", hs["headers"])
		}
		if a, _ := hs["auth"].(map[string]any); a["who"] != "g1-b" {
			t.Errorf("handshake auth = %v", hs["auth"])
		}
		if issued, _ := hs["issued"].(float64); time.Since(time.UnixMilli(int64(issued))) > time.Minute {
			t.Errorf("handshake issued = %v", hs["issued"])
		}
	}
	sort.Strings(ids)
	if want := c.sortedSIDs(mainClients...); !slices.Equal(ids, want) {
		t.Errorf("n1 fetched %v, want %v", ids, want)
	}

	// The legacy requests Node still makes: allRooms and sockets.
	var rooms []string
	c.h.server(&rooms, "n1", "allRooms", nil)
	for _, r := range []string{"red", "blue", c.sids["g1-a"], c.sids["g2-b"]} {
		if !slices.Contains(rooms, r) {
			t.Errorf("allRooms from Node = %v, lacks %q", rooms, r)
		}
	}

	// Requests Node 8 still answers but no longer sends: the socket ids of
	// rooms, and the join of one socket, each answered by every server.
	resp := c.r.newClient(t).Subscribe(ctx, "socket.io-response#/#")
	defer resp.Close()
	if _, err := resp.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	pub := c.r.newClient(t)
	pub.Publish(ctx, "socket.io-request#/#", `{"uid":"tester","requestId":"q0","type":0,"rooms":["red"]}`)
	pub.Publish(ctx, "socket.io-request#/#", `{"uid":"tester","requestId":"q2","type":2,"sid":"`+c.sids["g1-b"]+`","room":"legacy"}`)
	var inRed []string
	var joined int
	for len(inRed) < 3 || joined < 1 {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := resp.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			t.Fatalf("responses: red %v, joined %d: %v", inRed, joined, err)
		}
		var r struct {
			RequestID string
			Sockets   []string
		}
		if err := json.Unmarshal([]byte(m.Payload), &r); err != nil {
			t.Fatalf("response %q: %v", m.Payload, err)
		}
		switch r.RequestID {
		case "q0":
			inRed = append(inRed, r.Sockets...)
		case "q2":
			joined++
			if m.Payload != `{"requestId":"q2"}` {
				t.Errorf("legacy join answered %s", m.Payload)
			}
		}
	}
	sort.Strings(inRed)
	if want := c.sortedSIDs(clientsOf("-a")...); !slices.Equal(inRed, want) {
		t.Errorf("sockets in red = %v, want %v", inRed, want)
	}
	if !c.g1.srv.Of("/").Socket(c.sids["g1-b"]).In("legacy") {
		t.Error("legacy join: g1-b is not in the room")
	}
}

func sortedIDs(socks []sio.RemoteSocket) []string {
	var out []string
	for _, s := range socks {
		out = append(out, s.ID)
	}
	sort.Strings(out)
	return out
}

func (c *cluster) sortedSIDs(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, c.sids[n])
	}
	sort.Strings(out)
	return out
}

// nodeRooms returns the rooms of a socket of the Node server.
func (c *cluster) nodeRooms(sid string) []string {
	var rooms []string
	c.h.server(&rooms, "n1", "localRooms", map[string]any{"sid": sid})
	return rooms
}

// TestRemoteJoinLeaveDisconnect: rooms and disconnections applied by one
// server to the sockets of another, both ways.
func TestRemoteJoinLeaveDisconnect(t *testing.T) {
	c := newCluster(t)
	ns1, ns2 := c.g1.srv.Of("/"), c.g2.srv.Of("/")
	n1b, g2b := c.sids["n1-b"], c.sids["g2-b"]

	// Go makes a Node socket join, then a broadcast to that room from the
	// other Go server reaches it.
	if err := ns1.To(n1b).SocketsJoin("green"); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { return slices.Contains(c.nodeRooms(n1b), "green") }) {
		t.Fatalf("n1-b rooms = %v, want green", c.nodeRooms(n1b))
	}
	ns2.To("green").Emit("green-news", 1)
	c.h.waitLines(5*time.Second, "green-news", func(l []harnessLine) bool { return len(events(l, "n1-b", "green-news")) == 1 })

	// Node makes a Go socket join.
	c.h.server(nil, "n1", "socketsJoin", map[string]any{"rooms": []string{g2b}, "join": []string{"green", "teal"}})
	s := ns2.Socket(g2b)
	if !eventually(5*time.Second, func() bool { return s.In("green") && s.In("teal") }) {
		t.Fatalf("g2-b rooms = %v, want green and teal", s.Rooms())
	}
	// By room, with except: every blue socket but g1-b joins "navy".
	c.h.server(nil, "n1", "socketsJoin", map[string]any{"rooms": []string{"blue"}, "except": []string{c.sids["g1-b"]}, "join": "navy"})
	if !eventually(5*time.Second, func() bool { return ns2.Socket(g2b).In("navy") }) {
		t.Fatal("g2-b did not join navy")
	}
	time.Sleep(100 * time.Millisecond)
	if ns1.Socket(c.sids["g1-b"]).In("navy") {
		t.Error("g1-b joined navy despite except")
	}

	// A RemoteSocket from FetchSockets joins and leaves.
	socks, err := ns1.To(n1b).FetchSockets(context.Background())
	if err != nil || len(socks) != 1 {
		t.Fatalf("fetch n1-b: %v %v", socks, err)
	}
	socks[0].Join("yellow")
	if !eventually(5*time.Second, func() bool { return slices.Contains(c.nodeRooms(n1b), "yellow") }) {
		t.Fatalf("n1-b rooms = %v, want yellow", c.nodeRooms(n1b))
	}
	socks[0].Leave("green")
	ns1.To(n1b).SocketsLeave("yellow")
	if !eventually(5*time.Second, func() bool {
		r := c.nodeRooms(n1b)
		return !slices.Contains(r, "green") && !slices.Contains(r, "yellow")
	}) {
		t.Fatalf("n1-b rooms = %v, want neither green nor yellow", c.nodeRooms(n1b))
	}
	c.h.server(nil, "n1", "socketsLeave", map[string]any{"rooms": []string{g2b}, "leave": []string{"teal"}})
	if !eventually(5*time.Second, func() bool { return !s.In("teal") }) {
		t.Fatalf("g2-b rooms = %v, want no teal", s.Rooms())
	}

	// Disconnections, both ways.
	if err := ns1.To(n1b).DisconnectSockets(); err != nil {
		t.Fatal(err)
	}
	c.h.server(nil, "n1", "disconnectSockets", map[string]any{"rooms": []string{g2b}})
	if err := ns2.To(c.sids["n1-a"]).CloseConns(); err != nil {
		t.Fatal(err)
	}
	reasons := c.h.waitDisconnects(func(d map[string]string) bool { return len(d) >= 3 })
	if reasons["n1-b"] != "io server disconnect" || reasons["g2-b"] != "io server disconnect" || reasons["n1-a"] == "" {
		t.Errorf("disconnect reasons = %v", reasons)
	}
	if len(reasons) != 3 {
		t.Errorf("disconnected: %v, want n1-a, n1-b and g2-b", reasons)
	}
	if ns2.Socket(g2b) != nil && ns2.Socket(g2b).Connected() {
		t.Error("g2-b still connected")
	}
}

// TestRemoteRoomOrder: a Go server applies a room change to its own
// sockets at once and publishes it before what it emits next, so an emit
// to the room right after SocketsJoin or SocketsLeave finds every server's
// sockets changed, its own included, as on a single server. (Node's
// adapter applies its own only when the request comes back from Redis, so
// there its own sockets would miss the emit right after a join.)
func TestRemoteRoomOrder(t *testing.T) {
	c := newCluster(t)
	ns := c.g1.srv.Of("/")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ns.To("blue").SocketsJoin("cyan"))
	must(ns.To("cyan").Emit("cyan-joined"))
	must(ns.To("cyan").Except(c.sids["g2-b"]).SocketsLeave("cyan"))
	must(ns.To("cyan").Emit("cyan-left"))
	must(ns.To("cyan").DisconnectSockets())
	must(ns.Emit("control"))
	c.checkDeliveries([]delivery{
		{"cyan-joined", clientsOf("-b")},
		{"cyan-left", []string{"g2-b"}},
		{"control", []string{"g1-a", "g1-b", "g2-a", "n1-a", "n1-b"}},
	})
	lines := c.h.waitLines(5*time.Second, "g2-b's disconnection", func(l []harnessLine) bool {
		return slices.ContainsFunc(l, func(x harnessLine) bool { return x.Type == "disconnect" && x.Client == "g2-b" })
	})
	for _, x := range lines {
		if x.Type == "disconnect" && x.Client != "g2-b" {
			t.Errorf("%s disconnected; only g2-b was left in cyan", x.Client)
		}
	}
}

// TestServerSideEmit: server-side events with and without replies, from Go
// and from Node.
func TestServerSideEmit(t *testing.T) {
	c := newCluster(t, WithRequestsTimeout(1500*time.Millisecond))
	ns := c.g1.srv.Of("/")
	replies, err := ns.ServerSideEmitWithAck(context.Background(), "sse-ask", map[string]any{"q": 1})
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	for _, r := range replies {
		var v struct {
			From string
			Arg  map[string]any
		}
		if err := r.Decode(0, &v); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(v.Arg["q"]) != "1" {
			t.Errorf("reply %+v", v)
		}
		from = append(from, v.From)
	}
	sort.Strings(from)
	if !slices.Equal(from, []string{"g2", "n1"}) {
		t.Errorf("g1's server-side emit answered by %v, want g2 and n1", from)
	}

	// A Go handler's error is its reply.
	replies, err = c.g2.srv.Of("/chat").ServerSideEmitWithAck(context.Background(), "sse-fail")
	if err == nil {
		t.Errorf("sse-fail: no error, replies %v (Node has no handler: it must time out)", replies)
	}
	if len(replies) != 1 {
		t.Fatalf("sse-fail replies = %v", replies)
	}
	var e struct{ Error string }
	replies[0].Decode(0, &e)
	if e.Error != "g1 refuses" {
		t.Errorf("sse-fail reply = %+v", e)
	}

	// From Node, with replies.
	var res struct {
		Responses []map[string]any
		Error     string
	}
	c.h.server(&res, "n1", "sseAck", map[string]any{"event": "sse-ask", "args": []any{"ping"}})
	from = nil
	for _, r := range res.Responses {
		if r["arg"] != "ping" {
			t.Errorf("reply to Node: %v", r)
		}
		from = append(from, fmt.Sprint(r["from"]))
	}
	sort.Strings(from)
	if res.Error != "" || !slices.Equal(from, []string{"g1", "g2"}) {
		t.Errorf("n1's server-side emit: %+v, want replies from g1 and g2", res)
	}

	// Without replies, both ways; Go's own handlers are not called.
	if err := ns.ServerSideEmit("sse-note", "from-g1", 7); err != nil {
		t.Fatal(err)
	}
	c.h.server(nil, "n1", "sse", map[string]any{"nsp": "/chat", "event": "sse-note", "args": []any{"from-n1"}})
	c.h.waitLines(5*time.Second, "n1 gets sse-note", func(l []harnessLine) bool {
		for _, x := range l {
			if x.Type == "sse" && fmt.Sprint(x.Args) == "[from-g1 7]" {
				return true
			}
		}
		return false
	})
	// Two senders, two namespaces: no order between them is promised.
	want := []string{"/:[from-g1 7]", "/chat:[from-n1]"}
	sorted := func(calls []sseCall) []string { s := sseStrings(calls); sort.Strings(s); return s }
	if !eventually(5*time.Second, func() bool { return slices.Equal(sorted(c.g2.sseCalls()), want) }) {
		t.Errorf("g2 got %v, want %v in any order", sseStrings(c.g2.sseCalls()), want)
	}
	// g1 hears n1 on a subscription of its own, which may lag g2's; its own
	// emit (published before n1's) must never reach its handlers.
	if !eventually(5*time.Second, func() bool { return slices.Equal(sseStrings(c.g1.sseCalls()), want[1:]) }) {
		t.Errorf("g1 got %v, want only %v", sseStrings(c.g1.sseCalls()), want[1:])
	}
}

func sseStrings(calls []sseCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, fmt.Sprintf("%s:%v", c.Nsp, c.Args))
	}
	return out
}

// TestBroadcastWithAck: acknowledged broadcasts from Go and from Node
// gather every client's reply across the cluster, and finish as soon as
// they have them, which needs every server to report its client count,
// zero included.
func TestBroadcastWithAck(t *testing.T) {
	c := newCluster(t)
	ns := c.g1.srv.Of("/")
	ask := func(b sio.Broadcast, want ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		replies, err := b.EmitWithAck(ctx, "ask", 7)
		if err != nil {
			t.Fatalf("EmitWithAck: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("EmitWithAck took %v: a server's count is missing", d)
		}
		var from []string
		for _, r := range replies {
			var v struct{ From, Event string }
			r.Args.Decode(0, &v)
			from = append(from, v.From)
		}
		sort.Strings(from)
		if want = slices.Sorted(slices.Values(want)); !slices.Equal(from, want) {
			t.Errorf("replies from %v, want %v", from, want)
		}
	}
	ask(ns.To(), mainClients...)
	ask(ns.To("red"), clientsOf("-a")...)
	ask(ns.Except("red"), clientsOf("-b")...)

	// A room only Node has: g2 counts 0.
	c.h.server(nil, "n1", "socketsJoin", map[string]any{"rooms": []string{c.sids["n1-a"]}, "join": "only-n1"})
	if !eventually(5*time.Second, func() bool { return slices.Contains(c.nodeRooms(c.sids["n1-a"]), "only-n1") }) {
		t.Fatal("n1-a did not join only-n1")
	}
	ask(ns.To("only-n1"), "n1-a")
	ask(ns.To("nobody"))

	// From Node: a room only g2 has, so g1 must answer 0.
	c.g2.srv.Of("/").Socket(c.sids["g2-a"]).Join("only-g2")
	for _, tc := range []struct {
		rooms []string
		want  []string
	}{{nil, mainClients}, {[]string{"only-g2"}, []string{"g2-a"}}, {[]string{"blue"}, clientsOf("-b")}} {
		var res struct {
			Responses []map[string]any
			Error     string
		}
		start := time.Now()
		c.h.server(&res, "n1", "emitWithAck", map[string]any{"rooms": tc.rooms, "event": "ask", "args": []any{1}, "timeout": 10000})
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Node's emitWithAck to %v took %v", tc.rooms, d)
		}
		var from []string
		for _, r := range res.Responses {
			from = append(from, fmt.Sprint(r["from"]))
		}
		sort.Strings(from)
		if want := slices.Sorted(slices.Values(tc.want)); res.Error != "" || !slices.Equal(from, want) {
			t.Errorf("Node's emitWithAck to %v: %+v, want replies from %v", tc.rooms, res, want)
		}
	}
}

// TestBroadcastWithAckMissing: receivers that never answer are reported,
// by id on the emitting server and as a count from the other servers
// (their replies do not say who sent them), once the deadline passes; a
// Node server emitting likewise times out on a silent Go client, so Go
// servers count the clients that do not answer too.
func TestBroadcastWithAckMissing(t *testing.T) {
	c := newCluster(t)
	ask := func(b sio.Broadcast, silent []string, wantFrom []string, wantMissing []string, wantRemote int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		replies, err := b.EmitWithAck(ctx, "ask", map[string]any{"silent": silent})
		var from []string
		for _, r := range replies {
			var v struct{ From string }
			r.Args.Decode(0, &v)
			from = append(from, v.From)
		}
		sort.Strings(from)
		if want := slices.Sorted(slices.Values(wantFrom)); !slices.Equal(from, want) {
			t.Errorf("silent %v: replies from %v, want %v", silent, from, want)
		}
		var te *sio.AckTimeoutError
		if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silent %v: err = %v, want an *AckTimeoutError wrapping the deadline", silent, err)
		}
		if got := slices.Sorted(slices.Values(te.Missing)); !slices.Equal(got, c.sortedSIDs(wantMissing...)) ||
			te.MissingRemote != wantRemote {
			t.Errorf("silent %v: Missing %v and %d remote, want %v (%v) and %d remote",
				silent, got, te.MissingRemote, c.sortedSIDs(wantMissing...), wantMissing, wantRemote)
		}
	}
	ns1, ns2 := c.g1.srv.Of("/"), c.g2.srv.Of("/")
	silent := []string{"g1-b", "g2-a", "n1-b"}
	ask(ns1.To(), silent, []string{"g1-a", "g2-b", "n1-a"}, []string{"g1-b"}, 2)
	ask(ns2.To("red"), silent, []string{"g1-a", "n1-a"}, []string{"g2-a"}, 0)
	ask(ns2.To("blue"), silent, []string{"g2-b"}, nil, 2)
	ask(ns1.Except("blue"), []string{"n1-a"}, []string{"g1-a", "g2-a"}, nil, 1)

	// From Node: g2-a does not answer, so g2 counted it.
	var res struct {
		Responses []map[string]any
		Error     string
	}
	c.h.server(&res, "n1", "emitWithAck", map[string]any{"rooms": []string{"red"}, "event": "ask",
		"args": []any{map[string]any{"silent": []string{"g2-a"}}}, "timeout": 1500})
	if !strings.Contains(res.Error, "timed out") {
		t.Errorf("Node's emitWithAck with g2-a silent: %+v, want a timeout", res)
	}
}

// TestEmitters: Node's @socket.io/redis-emitter reaches Go clients, and the
// Go Emitter reaches Node clients, with room changes and server-side
// events.
func TestEmitters(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	em := NewEmitter(c.r.newClient(t))
	emit := func(op string, fields map[string]any) {
		t.Helper()
		cmd := map[string]any{"cmd": "emitter", "redis": c.r.URL(), "op": op}
		for k, v := range fields {
			cmd[k] = v
		}
		c.h.must(nil, cmd)
	}

	emit("emit", map[string]any{"event": "node-emitter", "args": []any{"x", map[string]any{"$bin": []byte{7}}}})
	emit("emit", map[string]any{"rooms": []string{"red"}, "except": []string{c.sids["n1-a"]}, "event": "node-emitter-red"})
	emit("emit", map[string]any{"nsp": "chat", "event": "node-emitter-chat"})
	if err := em.Emit(ctx, "go-emitter", "y", []byte{8}); err != nil {
		t.Fatal(err)
	}
	if err := em.To("blue").Except(c.sids["g1-b"]).Emit(ctx, "go-emitter-blue"); err != nil {
		t.Fatal(err)
	}
	if err := em.Of("chat").Compress(true).Emit(ctx, "go-emitter-chat", 1); err != nil {
		t.Fatal(err)
	}
	// Node drops a volatile packet when the transport is busy: it may
	// arrive or not, but only once.
	if err := em.Of("chat").Volatile().Emit(ctx, "go-emitter-volatile"); err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(ctx, "disconnect"); err == nil {
		t.Error("Emit of a reserved event: no error")
	}
	lines := c.checkDeliveries([]delivery{
		{"node-emitter", mainClients},
		{"node-emitter-red", []string{"g1-a", "g2-a"}},
		{"node-emitter-chat", chatClients},
		{"go-emitter", mainClients},
		{"go-emitter-blue", []string{"g2-b", "n1-b"}},
		{"go-emitter-chat", chatClients},
	})
	for _, cl := range chatClients {
		if n := len(events(lines, cl, "go-emitter-volatile")); n > 1 {
			t.Errorf("%s got a volatile event %d times", cl, n)
		}
	}
	for _, cl := range mainClients {
		for ev, want := range map[string]byte{"node-emitter": 7, "go-emitter": 8} {
			got := events(lines, cl, ev)
			if len(got) != 1 || len(got[0].Args) != 2 {
				continue
			}
			if b, ok := binArg(got[0].Args[1]); !ok || len(b) != 1 || b[0] != want {
				t.Errorf("%s got %s args %v, want binary %d", cl, ev, got[0].Args, want)
			}
		}
	}

	// Room changes and disconnection.
	if err := em.To(c.sids["n1-a"]).SocketsJoin(ctx, "purple"); err != nil {
		t.Fatal(err)
	}
	emit("socketsJoin", map[string]any{"rooms": []string{c.sids["g1-a"]}, "join": "purple"})
	g1a := c.g1.srv.Of("/").Socket(c.sids["g1-a"])
	if !eventually(5*time.Second, func() bool {
		return g1a.In("purple") && slices.Contains(c.nodeRooms(c.sids["n1-a"]), "purple")
	}) {
		t.Fatalf("purple: g1-a in it %v, n1-a rooms %v", g1a.In("purple"), c.nodeRooms(c.sids["n1-a"]))
	}
	if err := em.To("purple").SocketsLeave(ctx, "purple"); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool {
		return !g1a.In("purple") && !slices.Contains(c.nodeRooms(c.sids["n1-a"]), "purple")
	}) {
		t.Fatal("purple left by nobody")
	}
	if err := em.To(c.sids["n1-b"]).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	emit("disconnectSockets", map[string]any{"rooms": []string{c.sids["g2-b"]}, "close": true})
	c.h.waitDisconnects(func(d map[string]string) bool { return gone(d, "n1-b", "g2-b") })

	// Server-side events reach every server, the Go ones included.
	if err := em.ServerSideEmit(ctx, "sse-note", "go-em"); err != nil {
		t.Fatal(err)
	}
	emit("sse", map[string]any{"event": "sse-note", "args": []any{"node-em"}})
	want := []string{"/:[go-em]", "/:[node-em]"}
	for _, g := range []*goNode{c.g1, c.g2} {
		if !eventually(5*time.Second, func() bool {
			return slices.Equal(slices.Sorted(slices.Values(sseStrings(g.sseCalls()))), want)
		}) {
			t.Errorf("%s got %v, want %v", g.name, sseStrings(g.sseCalls()), want)
		}
	}
	c.h.waitLines(5*time.Second, "n1 gets go-em", func(l []harnessLine) bool {
		for _, x := range l {
			if x.Type == "sse" && fmt.Sprint(x.Args) == "[go-em]" {
				return true
			}
		}
		return false
	})
}

// TestRedisRestart: Redis dies under traffic. Each server keeps serving its
// own clients, reconnects when Redis is back, and cross-server delivery
// resumes.
func TestRedisRestart(t *testing.T) {
	c := newCluster(t)
	ns1 := c.g1.srv.Of("/")
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			ns1.Emit("tick", i) // errors while Redis is away are expected
		}
	}()
	defer func() {
		close(stop)
		<-ticked
	}()
	c.h.waitLines(5*time.Second, "ticks everywhere", func(l []harnessLine) bool {
		return len(events(l, "g2-a", "tick")) > 0 && len(events(l, "n1-a", "tick")) > 0
	})

	c.r.kill()
	before, _ := c.h.snapshot()
	// g1's clients still get g1's broadcasts, and its handlers answer.
	c.h.waitLines(5*time.Second, "local ticks while Redis is down", func(l []harnessLine) bool {
		return len(events(l, "g1-a", "tick")) > len(events(before, "g1-a", "tick"))+5
	})
	for _, cl := range []string{"g1-a", "g2-b", "n1-a"} {
		var echo any
		c.h.must(&echo, map[string]any{"cmd": "client", "client": cl, "op": "emitWithAck", "event": "echo", "args": []any{"still here"}})
		if fmt.Sprint(echo) != "still here" {
			t.Errorf("%s echo while Redis is down = %v", cl, echo)
		}
	}
	c.g2.srv.Of("/").To("red").Emit("local-g2", 1)
	c.h.waitLines(5*time.Second, "g2-a gets g2's broadcast while Redis is down", func(l []harnessLine) bool {
		return len(events(l, "g2-a", "local-g2")) == 1
	})
	time.Sleep(500 * time.Millisecond)

	c.r.start()
	c.r.waitNumSub(t, "/", 3, 15*time.Second)
	mark, _ := c.h.snapshot()
	c.h.waitLines(10*time.Second, "ticks everywhere again", func(l []harnessLine) bool {
		return len(events(l, "g2-b", "tick")) > len(events(mark, "g2-b", "tick")) &&
			len(events(l, "n1-b", "tick")) > len(events(mark, "n1-b", "tick"))
	})
	c.g2.srv.Of("/").Emit("after-g2")
	c.h.server(nil, "n1", "emit", map[string]any{"event": "after-n1"})
	c.checkDeliveries([]delivery{{"after-g2", mainClients}, {"after-n1", mainClients}})
	if replies, err := ns1.ServerSideEmitWithAck(context.Background(), "sse-ask", "again"); err != nil || len(replies) != 2 {
		t.Errorf("server-side emit after the restart: %v, %v", replies, err)
	}
}

// TestDeadServer: a server that is subscribed but never answers (hung, or
// about to be dropped by Redis) makes requests fail after the requests
// timeout instead of hanging.
func TestDeadServer(t *testing.T) {
	r := startRedis(t)
	g1 := newGoNode(t, "g1", r, WithRequestsTimeout(500*time.Millisecond))
	g2 := newGoNode(t, "g2", r)
	dead := r.newClient(t).Subscribe(context.Background(), "socket.io-request#/#")
	defer dead.Close()
	r.waitNumSub(t, "/", 3, 5*time.Second)
	ns := g1.srv.Of("/")

	start := time.Now()
	_, err := ns.FetchSockets(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FetchSockets: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("FetchSockets gave up after %v, want about 500ms", d)
	}

	start = time.Now()
	replies, err := ns.ServerSideEmitWithAck(context.Background(), "sse-ask")
	if !errors.Is(err, context.DeadlineExceeded) || len(replies) != 1 {
		t.Errorf("ServerSideEmitWithAck: %v %v, want g2's reply and a timeout", replies, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("ServerSideEmitWithAck gave up after %v", d)
	}

	// A broadcast with acknowledgements cannot know how many clients the
	// dead server has: it says that a server did not answer, with the
	// deadline's error, rather than report every answer received.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start = time.Now()
	_, err = ns.EmitWithAck(ctx, "ask")
	var te *sio.AckTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 of 2 servers") {
		t.Errorf("EmitWithAck: %v, want an *AckTimeoutError saying 1 of 2 servers answered, wrapping the deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("EmitWithAck returned after %v", d)
	}
	// Without a deadline, the requests timeout bounds the wait for the
	// other servers.
	start = time.Now()
	_, err = ns.EmitWithAck(context.Background(), "ask")
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EmitWithAck without deadline: %v, want an *AckTimeoutError wrapping the requests timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("EmitWithAck without deadline returned after %v", d)
	}
	_ = g2
}

// TestOwnNamespaceSubscription: one subscription per namespace per server,
// even when two servers in one process share a constructor, and none left
// after Close.
func TestOwnNamespaceSubscription(t *testing.T) {
	r := startRedis(t)
	rdb := r.newClient(t)
	newAdapter := New(rdb, WithLogger(quietLogger()))
	s1 := sio.New(sio.WithAdapter(newAdapter))
	s2 := sio.New(sio.WithAdapter(newAdapter))
	s1.Of("/x")
	r.waitNumSub(t, "/", 2, 5*time.Second)
	r.waitNumSub(t, "/x", 1, 5*time.Second)
	// The shared constructor gave each server its own connection.
	if n := r.numSub(t, "/"); n != 2 {
		t.Errorf("NUMSUB / = %d, want 2", n)
	}
	s1.Close()
	r.waitNumSub(t, "/", 1, 5*time.Second)
	r.waitNumSub(t, "/x", 0, 5*time.Second)
	s2.Close()
	r.waitNumSub(t, "/", 0, 5*time.Second)
	var clients string
	if !eventually(5*time.Second, func() bool {
		clients, _ = rdb.ClientList(context.Background()).Result()
		for _, l := range strings.Split(strings.TrimSpace(clients), "\n") {
			if !strings.Contains(l, " sub=0 psub=0 ") {
				return false
			}
		}
		return true
	}) {
		t.Errorf("subscriber connections left after Close:\n%s", clients)
	}
}

// TestRoomChannel: a broadcast to exactly one room goes on the room's
// channel, others on the namespace's; Node's sniffer sees what Node sends.
func TestRoomChannel(t *testing.T) {
	r := startRedis(t)
	g := newGoNode(t, "g1", r)
	sniff := r.newClient(t).PSubscribe(context.Background(), "socket.io*")
	defer sniff.Close()
	if _, err := sniff.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	ns := g.srv.Of("/")
	ns.To("r1").Emit("a")
	ns.To("r1", "r2").Emit("b")
	ns.Emit("c")
	g.srv.Of("/chat").To("room#with#hashes").Emit("d")
	var got []string
	for len(got) < 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := sniff.ReceiveMessage(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Channel)
	}
	want := []string{"socket.io#/#r1#", "socket.io#/#", "socket.io#/#", "socket.io#/chat#room#with#hashes#"}
	if !slices.Equal(got, want) {
		t.Errorf("channels %v, want %v", got, want)
	}
}

// TestSpecificResponseChannel: Go servers answering on the requester's own
// response channel still satisfy Node's requests and their own.
func TestSpecificResponseChannel(t *testing.T) {
	c := newCluster(t, WithPublishOnSpecificResponseChannel(true))
	var fetched []struct{ ID string }
	c.h.server(&fetched, "n1", "fetchSockets", nil)
	if len(fetched) != len(mainClients) {
		t.Errorf("Node fetched %d sockets, want %d", len(fetched), len(mainClients))
	}
	socks, err := c.g1.srv.Of("/").FetchSockets(context.Background())
	if err != nil || len(socks) != len(mainClients) {
		t.Errorf("g1 fetched %d sockets (%v), want %d", len(socks), err, len(mainClients))
	}
	var res struct {
		Responses []any
		Error     string
	}
	c.h.server(&res, "n1", "emitWithAck", map[string]any{"event": "ask", "timeout": 5000})
	if res.Error != "" || len(res.Responses) != len(mainClients) {
		t.Errorf("Node's emitWithAck: %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if replies, err := c.g2.srv.Of("/").EmitWithAck(ctx, "ask"); err != nil || len(replies) != len(mainClients) {
		t.Errorf("g2's EmitWithAck: %d replies, %v", len(replies), err)
	}
}

// TestStartWithoutRedis: a server starts while Redis is down, without
// waiting long, and joins the cluster when Redis comes.
func TestStartWithoutRedis(t *testing.T) {
	r := startRedis(t)
	r.kill()
	start := time.Now()
	g1 := newGoNode(t, "g1", r, WithRequestsTimeout(time.Second))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("starting without Redis took %v", d)
	}
	// Broadcasts fail or are queued; the server serves its own clients.
	g1.srv.Emit("lost")
	r.start()
	g2 := newGoNode(t, "g2", r)
	r.waitNumSub(t, "/", 2, 15*time.Second)
	r.waitNumSub(t, "/chat", 2, 5*time.Second)
	replies, err := g2.srv.Of("/").ServerSideEmitWithAck(context.Background(), "sse-ask", 1)
	if err != nil || len(replies) != 1 {
		t.Errorf("after Redis came: %v %v", replies, err)
	}
}

// TestCloseWhileRedisDown: closing a server whose Redis is gone returns
// soon and leaves no goroutine behind (TestMain checks).
func TestCloseWhileRedisDown(t *testing.T) {
	r := startRedis(t)
	g := newGoNode(t, "g1", r)
	r.waitNumSub(t, "/", 1, 5*time.Second)
	r.kill()
	for i := range 100 {
		g.srv.Emit("lost", i)
	}
	start := time.Now()
	g.close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}
