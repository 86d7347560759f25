package sio

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// In-process tests of rooms and broadcast targets: no network, no Node.
// Each socket is a real Conn and client, fed packets as its transport would
// (the pattern of benchSockets), and what the server sends is read from the
// connection's queue.

// roomsFake is one in-process connection and its socket in one namespace.
type roomsFake struct {
	conn *Conn
	sock *Socket
}

// roomsConnSeq numbers the in-process connections, whose ids must be
// unique within an engine.
var roomsConnSeq atomic.Int64

// roomsNewServer returns a server with no pings, closed when t ends.
func roomsNewServer(t *testing.T) *Server {
	t.Helper()
	srv := New(WithPingInterval(time.Hour), WithPingTimeout(time.Hour))
	t.Cleanup(func() { srv.Close() })
	return srv
}

// roomsFakeSockets connects n in-process clients to namespace nsp of srv,
// with auth as their CONNECT payload (none if empty), and returns them in
// order, their queues drained.
func roomsFakeSockets(t *testing.T, srv *Server, nsp, auth string, n int) []roomsFake {
	t.Helper()
	ns := srv.Of(nsp)
	connect := "0"
	if nsp != "/" {
		connect += nsp + ","
	}
	connect += auth
	out := make([]roomsFake, n)
	for i := range out {
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		c := srv.engine.newConn("rooms"+strconv.FormatInt(roomsConnSeq.Add(1), 10), r, TransportPolling)
		if !srv.engine.open(c) {
			t.Fatal("engine refused a connection")
		}
		c.dispatch(Message{Data: []byte(connect)})
		out[i].conn = c
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := range out {
		for out[i].sock == nil {
			for _, s := range ns.Sockets() {
				if s.Conn() == out[i].conn {
					out[i].sock = s
				}
			}
			if out[i].sock != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("socket %d of %d did not connect to %s", i, n, nsp)
			}
			time.Sleep(time.Millisecond)
		}
	}
	conns := make([]*Conn, len(out))
	for i, f := range out {
		conns[i] = f.conn
	}
	awaitConnectAnswers(t, conns)
	return out
}

// roomsTake empties the queue of c, as a transport's writer would, and
// returns the data of its message packets.
func roomsTake(c *Conn) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.takeLocked() {
		if p.typ == packetMessage {
			out = append(out, string(p.data))
		}
	}
	return out
}

// roomsIDs returns the sorted ids of sockets.
func roomsIDs(socks []*Socket) []string {
	ids := make([]string, 0, len(socks))
	for _, s := range socks {
		ids = append(ids, s.ID())
	}
	slices.Sort(ids)
	return ids
}

// roomsIDsOf returns the sorted ids of the fakes at the given indexes.
func roomsIDsOf(fs []roomsFake, idx ...int) []string {
	ids := make([]string, 0, len(idx))
	for _, i := range idx {
		ids = append(ids, fs[i].sock.ID())
	}
	slices.Sort(ids)
	return ids
}

func TestRoomsBroadcastImmutable(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")

	b := ns.To("a")
	b2 := b.To("x")
	b3 := b.Except("y")
	b4 := b.Volatile()
	b5 := b.Local()
	if !slices.Equal(b.rooms, []string{"a"}) || b.except != nil || b.volatile || b.local {
		t.Fatalf("b changed by its refinements: %+v", b)
	}
	if !slices.Equal(b2.rooms, []string{"a", "x"}) || b2.except != nil {
		t.Errorf("b.To(x) = %+v", b2)
	}
	if !slices.Equal(b3.rooms, []string{"a"}) || !slices.Equal(b3.except, []string{"y"}) {
		t.Errorf("b.Except(y) = %+v", b3)
	}
	if !b4.volatile || b4.local || !slices.Equal(b4.rooms, []string{"a"}) {
		t.Errorf("b.Volatile() = %+v", b4)
	}
	if !b5.local || b5.volatile || !slices.Equal(b5.rooms, []string{"a"}) {
		t.Errorf("b.Local() = %+v", b5)
	}

	// Two refinements of one base whose slices have spare capacity must
	// not share storage.
	base := ns.To("a").To("b").To("c").Except("e1").Except("e2").Except("e3")
	x := base.To("x").Except("ex")
	y := base.To("y").Except("ey")
	if !slices.Equal(x.rooms, []string{"a", "b", "c", "x"}) || !slices.Equal(x.except, []string{"e1", "e2", "e3", "ex"}) {
		t.Errorf("x overwritten by a sibling refinement: rooms %v except %v", x.rooms, x.except)
	}
	if !slices.Equal(y.rooms, []string{"a", "b", "c", "y"}) || !slices.Equal(y.except, []string{"e1", "e2", "e3", "ey"}) {
		t.Errorf("y = rooms %v except %v", y.rooms, y.except)
	}
	if !slices.Equal(base.rooms, []string{"a", "b", "c"}) || !slices.Equal(base.except, []string{"e1", "e2", "e3"}) {
		t.Errorf("base changed: rooms %v except %v", base.rooms, base.except)
	}

	// The caller's slice is copied.
	rooms := []string{"a", "b"}
	bs := ns.To(rooms...).Except(rooms...)
	rooms[0] = "changed"
	if !slices.Equal(bs.rooms, []string{"a", "b"}) || !slices.Equal(bs.except, []string{"a", "b"}) {
		t.Errorf("broadcast aliases the caller's slice: rooms %v except %v", bs.rooms, bs.except)
	}

	// A socket's targets keep it excluded through refinements.
	fs := roomsFakeSockets(t, srv, "/", "", 2)
	s0 := fs[0].sock
	sb := s0.Broadcast()
	sb2 := sb.Except("z").To("r")
	if !slices.Equal(sb.except, []string{s0.ID()}) || sb.rooms != nil {
		t.Errorf("s.Broadcast() changed: %+v", sb)
	}
	if !slices.Equal(sb2.except, []string{s0.ID(), "z"}) || !slices.Equal(sb2.rooms, []string{"r"}) {
		t.Errorf("s.Broadcast().Except(z).To(r) = %+v", sb2)
	}

	// A Broadcast is a value: the same target, used after membership
	// changes, sees the new members.
	target := ns.To("late")
	if got := target.Sockets(); len(got) != 0 {
		t.Fatalf("empty room has %d sockets", len(got))
	}
	fs[1].sock.Join("late")
	if got, want := roomsIDs(target.Sockets()), roomsIDsOf(fs, 1); !slices.Equal(got, want) {
		t.Errorf("after join: %v, want %v", got, want)
	}
}

func TestRoomsTargets(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	fs := roomsFakeSockets(t, srv, "/", "", 5)
	// 0: a      1: a b      2: b      3: c      4: (none)
	fs[0].sock.Join("a")
	fs[1].sock.Join("a", "b")
	fs[2].sock.Join("b")
	fs[3].sock.Join("c")
	other := roomsFakeSockets(t, srv, "/other", "", 1)
	other[0].sock.Join("a", "b", "c")

	id := func(i int) string { return fs[i].sock.ID() }
	cases := []struct {
		name string
		b    Broadcast
		want []int
	}{
		{"all", ns.To(), []int{0, 1, 2, 3, 4}},
		{"except nothing", ns.Except(), []int{0, 1, 2, 3, 4}},
		{"room a", ns.To("a"), []int{0, 1}},
		{"room b", ns.To("b"), []int{1, 2}},
		{"union a b", ns.To("a", "b"), []int{0, 1, 2}},
		{"union a then b", ns.To("a").To("b"), []int{0, 1, 2}},
		{"union a a", ns.To("a", "a"), []int{0, 1}},
		{"union a b c", ns.To("a", "b", "c"), []int{0, 1, 2, 3}},
		{"unknown room", ns.To("nope"), nil},
		{"union with unknown", ns.To("nope", "c"), []int{3}},
		{"except a", ns.Except("a"), []int{2, 3, 4}},
		{"except a b", ns.Except("a", "b"), []int{3, 4}},
		{"a except b", ns.To("a").Except("b"), []int{0}},
		{"a b except a", ns.To("a", "b").Except("a"), []int{2}},
		{"except unknown", ns.Except("nope"), []int{0, 1, 2, 3, 4}},
		{"socket id", ns.To(id(2)), []int{2}},
		{"two ids", ns.To(id(2), id(4)), []int{2, 4}},
		{"room and member id", ns.To("a", id(1)), []int{0, 1}},
		{"except id", ns.To("a").Except(id(0)), []int{1}},
		{"s.Broadcast", fs[1].sock.Broadcast(), []int{0, 2, 3, 4}},
		{"s.To(a)", fs[1].sock.To("a"), []int{0}},
		{"s.To(a b)", fs[1].sock.To("a", "b"), []int{0, 2}},
		{"s.To(own room) outsider", fs[4].sock.To("a"), []int{0, 1}},
		{"s.To(own id)", fs[1].sock.To(id(1)), nil},
		{"s.Broadcast except b", fs[0].sock.Broadcast().Except("b"), []int{3, 4}},
		{"local", ns.To("a").Local(), []int{0, 1}},
		{"volatile", ns.To("b").Volatile(), []int{1, 2}},
	}
	for _, c := range cases {
		got := c.b.Sockets()
		if ids := roomsIDs(got); !slices.Equal(ids, roomsIDsOf(fs, c.want...)) {
			t.Errorf("%s: got %v, want sockets %v = %v", c.name, ids, c.want, roomsIDsOf(fs, c.want...))
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %d sockets, want %d (duplicates?)", c.name, len(got), len(c.want))
		}
	}
	// The other namespace is apart.
	if got := roomsIDs(srv.Of("/other").To("a", "b").Sockets()); !slices.Equal(got, []string{other[0].sock.ID()}) {
		t.Errorf("/other union: %v", got)
	}
	if got := srv.To(other[0].sock.ID()).Sockets(); len(got) != 0 {
		t.Errorf("a /other socket's id targets %d sockets of /", len(got))
	}
}

// roomsDelivered broadcasts with emit and returns which fakes got the
// event, by index, checking each got it exactly once.
func roomsDelivered(t *testing.T, fs []roomsFake, want string, emit func() error) []int {
	t.Helper()
	if err := emit(); err != nil {
		t.Fatalf("emit: %v", err)
	}
	var got []int
	for i, f := range fs {
		n := 0
		for _, m := range roomsTake(f.conn) {
			if m != want {
				t.Errorf("socket %d got %q, want only %q", i, m, want)
				continue
			}
			n++
		}
		if n > 1 {
			t.Errorf("socket %d got the event %d times", i, n)
		}
		if n > 0 {
			got = append(got, i)
		}
	}
	return got
}

func TestRoomsEmitDelivery(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	fs := roomsFakeSockets(t, srv, "/", "", 4)
	other := roomsFakeSockets(t, srv, "/other", "", 1)
	all := append(slices.Clone(fs), other...) // index 4 is /other
	fs[0].sock.Join("a")
	fs[1].sock.Join("a", "b")
	fs[2].sock.Join("b")

	cases := []struct {
		name string
		emit func() error
		want string
		to   []int
	}{
		{"room", func() error { return ns.To("a").Emit("e", 1) }, `2["e",1]`, []int{0, 1}},
		{"union", func() error { return ns.To("a", "b").Emit("e", 2) }, `2["e",2]`, []int{0, 1, 2}},
		{"except", func() error { return ns.Except("b").Emit("e", 3) }, `2["e",3]`, []int{0, 3}},
		{"sender excluded", func() error { return fs[1].sock.Broadcast().Emit("e", 4) }, `2["e",4]`, []int{0, 2, 3}},
		{"sender excluded from room", func() error { return fs[1].sock.To("b").Emit("e", 5) }, `2["e",5]`, []int{2}},
		{"by id", func() error { return ns.To(fs[3].sock.ID()).Emit("e", 6) }, `2["e",6]`, []int{3}},
		{"server-wide", func() error { return srv.Emit("e", 7) }, `2["e",7]`, []int{0, 1, 2, 3}},
		{"srv.To", func() error { return srv.To("b").Emit("e", 8) }, `2["e",8]`, []int{1, 2}},
		{"other namespace", func() error { return srv.Of("/other").Emit("e", 9) }, `2/other,["e",9]`, []int{4}},
		{"volatile", func() error { return ns.To("a").Volatile().Emit("e", 10) }, `2["e",10]`, []int{0, 1}},
		{"local", func() error { return ns.To("b").Local().Emit("e", 11) }, `2["e",11]`, []int{1, 2}},
	}
	for _, c := range cases {
		if got := roomsDelivered(t, all, c.want, c.emit); !slices.Equal(got, c.to) {
			t.Errorf("%s: delivered to %v, want %v", c.name, got, c.to)
		}
	}

	if err := ns.Emit("connect"); err == nil {
		t.Error(`ns.Emit("connect") succeeded`)
	}
	if err := ns.To("a").Emit("disconnecting"); err == nil {
		t.Error(`Emit("disconnecting") succeeded`)
	}
	if _, err := ns.To("a").EmitWithAck(context.Background(), "connect_error"); err == nil {
		t.Error(`EmitWithAck("connect_error") succeeded`)
	}
	if err := ns.To("a").Emit("bad", func() {}); err == nil {
		t.Error("Emit of a func succeeded")
	}
	for i, f := range all {
		if m := roomsTake(f.conn); len(m) != 0 {
			t.Errorf("socket %d got %q after refused emits", i, m)
		}
	}
}

func TestRoomsJoinLeave(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	fs := roomsFakeSockets(t, srv, "/", "", 2)
	s := fs[0].sock
	id := s.ID()
	sorted := func(r []string) []string { slices.Sort(r); return r }

	if got := s.Rooms(); !slices.Equal(got, []string{id}) {
		t.Fatalf("new socket's rooms = %v, want its own id", got)
	}
	if !s.In(id) {
		t.Error("socket not In its own id room")
	}
	if got := ns.To(id).Sockets(); len(got) != 1 || got[0] != s {
		t.Errorf("To(own id) = %v", roomsIDs(got))
	}

	s.Join("a", "b", "a")
	s.Join("b")
	if got, want := sorted(s.Rooms()), sorted([]string{id, "a", "b"}); !slices.Equal(got, want) {
		t.Errorf("after Join: %v, want %v", got, want)
	}
	if !s.In("a") || !s.In("b") || s.In("c") {
		t.Errorf("In: a=%v b=%v c=%v", s.In("a"), s.In("b"), s.In("c"))
	}
	fs[1].sock.Join("b")

	s.Leave("a", "nope")
	if got, want := sorted(s.Rooms()), sorted([]string{id, "b"}); !slices.Equal(got, want) {
		t.Errorf("after Leave: %v, want %v", got, want)
	}
	if got := ns.To("a").Sockets(); len(got) != 0 {
		t.Errorf("room a still has %v", roomsIDs(got))
	}
	ns.mu.RLock()
	_, kept := ns.rooms["a"]
	ns.mu.RUnlock()
	if kept {
		t.Error("an empty room is kept in the namespace")
	}
	s.Leave("a") // again: nothing
	if got := roomsIDs(ns.To("b").Sockets()); !slices.Equal(got, roomsIDsOf(fs, 0, 1)) {
		t.Errorf("room b = %v", got)
	}

	// Disconnection leaves every room, and nothing can be joined after.
	removed := make(chan []string, 1)
	ns.OnDisconnect(func(x *Socket, _ Reason) {
		if x == s {
			removed <- x.Rooms()
		}
	})
	s.Disconnect()
	select {
	case r := <-removed:
		if len(r) != 0 {
			t.Errorf("rooms in OnDisconnect: %v, want none", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnDisconnect did not run")
	}
	if got := roomsTake(fs[0].conn); !slices.Equal(got, []string{"1"}) {
		t.Errorf("disconnected client was sent %q, want a DISCONNECT", got)
	}
	s.Join("c")
	if s.In("c") || len(ns.To("c").Sockets()) != 0 {
		t.Error("a disconnected socket joined a room")
	}
	if got := roomsIDs(ns.To("b").Sockets()); !slices.Equal(got, roomsIDsOf(fs, 1)) {
		t.Errorf("room b after disconnect = %v", got)
	}
	if got := ns.To(id).Sockets(); len(got) != 0 {
		t.Errorf("the id room of a disconnected socket still has %d sockets", len(got))
	}
	ns.mu.RLock()
	nrooms := len(ns.rooms)
	ns.mu.RUnlock()
	if nrooms != 1 { // "b": the rooms of socket ids are not stored
		t.Errorf("namespace keeps %d rooms, want 1", nrooms)
	}
}

// TestRoomsOwnIDRoom covers the room of a socket's id, which is not stored
// as other rooms are: another socket may join it, and the socket may leave
// it and join it again, as in Node.
func TestRoomsOwnIDRoom(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	fs := roomsFakeSockets(t, srv, "/", "", 3)
	a, b, c := fs[0].sock, fs[1].sock, fs[2].sock
	to := func(rooms ...string) []string { r := roomsIDs(ns.To(rooms...).Sockets()); slices.Sort(r); return r }
	ids := func(ss ...*Socket) []string {
		var r []string
		for _, s := range ss {
			r = append(r, s.ID())
		}
		slices.Sort(r)
		return r
	}

	b.Join(a.ID()) // b listens to what is sent to a
	if got, want := to(a.ID()), ids(a, b); !slices.Equal(got, want) {
		t.Errorf("To(a) with b in a's room = %v, want %v", got, want)
	}
	if !b.In(a.ID()) || b.In(c.ID()) {
		t.Errorf("b.In(a) = %v, b.In(c) = %v; want true, false", b.In(a.ID()), b.In(c.ID()))
	}
	if got, want := to(a.ID(), b.ID()), ids(a, b); !slices.Equal(got, want) {
		t.Errorf("To(a, b) = %v, want each once: %v", got, want)
	}
	if got, want := roomsIDs(ns.Except(a.ID()).Sockets()), ids(c); !slices.Equal(got, want) {
		t.Errorf("Except(a) = %v, want %v (b is in a's room)", got, want)
	}

	a.Leave(a.ID())
	if a.In(a.ID()) || slices.Contains(a.Rooms(), a.ID()) {
		t.Errorf("a left its own room but In = %v, Rooms = %v", a.In(a.ID()), a.Rooms())
	}
	if got, want := to(a.ID()), ids(b); !slices.Equal(got, want) {
		t.Errorf("To(a) after a left it = %v, want %v", got, want)
	}
	a.Join(a.ID())
	if got, want := to(a.ID()), ids(a, b); !slices.Equal(got, want) {
		t.Errorf("To(a) after a joined it again = %v, want %v", got, want)
	}
	b.Leave(a.ID())
	if got, want := to(a.ID()), ids(a); !slices.Equal(got, want) {
		t.Errorf("To(a) after b left = %v, want %v", got, want)
	}
}

func TestRoomsUtilities(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	type data struct{ Name string }
	fs := roomsFakeSockets(t, srv, "/", `{"token":"t"}`, 3)
	for i, f := range fs {
		f.sock.SetData(data{Name: "n" + strconv.Itoa(i)})
	}
	fs[0].sock.Join("a")
	fs[1].sock.Join("a", "b")
	ctx := context.Background()

	got, err := ns.To("a").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("FetchSockets: %d sockets, want 2", len(got))
	}
	slices.SortFunc(got, func(x, y RemoteSocket) int { return strings.Compare(x.Data.(data).Name, y.Data.(data).Name) })
	for i, rs := range got {
		want := fs[i].sock
		if rs.ID != want.ID() {
			t.Errorf("fetched %d: id %s, want %s", i, rs.ID, want.ID())
		}
		rooms := slices.Sorted(slices.Values(rs.Rooms))
		if wantRooms := slices.Sorted(slices.Values(want.Rooms())); !slices.Equal(rooms, wantRooms) {
			t.Errorf("fetched %d: rooms %v, want %v", i, rooms, wantRooms)
		}
		if string(rs.Handshake.Auth) != `{"token":"t"}` {
			t.Errorf("fetched %d: auth %s", i, rs.Handshake.Auth)
		}
	}
	if got, err := ns.To("nobody").FetchSockets(ctx); err != nil || len(got) != 0 {
		t.Errorf("FetchSockets of an empty room: %v, %v", got, err)
	}

	// A fetched socket acts on the real one.
	if err := got[0].Join("viaRemote"); err != nil {
		t.Fatal(err)
	}
	if !fs[0].sock.In("viaRemote") {
		t.Error("RemoteSocket.Join did not join")
	}
	if err := got[0].Emit("hi"); err != nil {
		t.Fatal(err)
	}
	if m := roomsTake(fs[0].conn); !slices.Equal(m, []string{`2["hi"]`}) {
		t.Errorf("RemoteSocket.Emit sent %q", m)
	}
	if err := got[0].Leave("viaRemote"); err != nil {
		t.Fatal(err)
	}
	if fs[0].sock.In("viaRemote") {
		t.Error("RemoteSocket.Leave did not leave")
	}

	if err := ns.To("b").SocketsJoin("c", "d"); err != nil {
		t.Fatal(err)
	}
	if got, want := roomsIDs(ns.To("c").Sockets()), roomsIDsOf(fs, 1); !slices.Equal(got, want) {
		t.Errorf("after SocketsJoin: room c = %v, want %v", got, want)
	}
	if err := ns.Except("a").SocketsJoin("c"); err != nil {
		t.Fatal(err)
	}
	if got, want := roomsIDs(ns.To("c").Sockets()), roomsIDsOf(fs, 1, 2); !slices.Equal(got, want) {
		t.Errorf("after second SocketsJoin: room c = %v, want %v", got, want)
	}
	if err := ns.To("a").SocketsLeave("c"); err != nil {
		t.Fatal(err)
	}
	if got, want := roomsIDs(ns.To("c").Sockets()), roomsIDsOf(fs, 2); !slices.Equal(got, want) {
		t.Errorf("after SocketsLeave: room c = %v, want %v", got, want)
	}
	if got, want := roomsIDs(ns.To("d").Sockets()), roomsIDsOf(fs, 1); !slices.Equal(got, want) {
		t.Errorf("room d = %v, want %v", got, want)
	}

	if err := ns.To("a").DisconnectSockets(); err != nil {
		t.Fatal(err)
	}
	for i, f := range fs {
		want := i == 2
		if f.sock.Connected() != want {
			t.Errorf("socket %d connected = %v, want %v", i, f.sock.Connected(), want)
		}
		m := roomsTake(f.conn)
		if !want && !slices.Equal(m, []string{"1"}) {
			t.Errorf("disconnected socket %d was sent %q, want a DISCONNECT", i, m)
		}
		if want && len(m) != 0 {
			t.Errorf("socket %d was sent %q", i, m)
		}
	}
	if got := roomsIDs(ns.Sockets()); !slices.Equal(got, roomsIDsOf(fs, 2)) {
		t.Errorf("namespace sockets after DisconnectSockets: %v", got)
	}

	if err := ns.To(fs[2].sock.ID()).CloseConns(); err != nil {
		t.Fatal(err)
	}
	// The connection closes gracefully: the client is sent the socket's
	// DISCONNECT, then the Engine.IO close packet.
	c := fs[2].conn
	c.mu.Lock()
	var sent []string
	for _, p := range c.takeLocked() {
		sent = append(sent, string(p.typ)+string(p.data))
	}
	closing := c.state != stateOpen
	c.mu.Unlock()
	if !slices.Equal(sent, []string{"41", "1"}) || !closing {
		t.Errorf("CloseConns: connection sent %q, closing %v; want DISCONNECT then close", sent, closing)
	}
	if fs[2].sock.Connected() {
		t.Error("socket connected after CloseConns")
	}
}

func TestRoomsServerSideEmitAlone(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	called := false
	ns.OnServerSideEmit("ping", func(ctx context.Context, args Args) ([]any, error) {
		called = true
		return []any{"pong"}, nil
	})
	if err := ns.ServerSideEmit("ping", 1); err != nil {
		t.Errorf("ServerSideEmit alone: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	replies, err := ns.ServerSideEmitWithAck(ctx, "ping", 1)
	if err != nil || replies != nil {
		t.Errorf("ServerSideEmitWithAck alone = %v, %v; want nil, nil", replies, err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("ServerSideEmitWithAck alone waited %v", d)
	}
	if called {
		t.Error("the server's own handler was called")
	}
	// HandleServerSideEmit is what an adapter calls.
	reply, ok, err := ns.HandleServerSideEmit(context.Background(), "ping", Args{})
	if !ok || err != nil || !slices.Equal(reply, []any{"pong"}) || !called {
		t.Errorf("HandleServerSideEmit = %v, %v, %v", reply, ok, err)
	}
	if _, ok, _ := ns.HandleServerSideEmit(context.Background(), "unknown", Args{}); ok {
		t.Error("HandleServerSideEmit of an unregistered event reported a handler")
	}
}

// roomsAckRE finds the id of an EVENT packet that asks for an ack.
var roomsAckRE = regexp.MustCompile(`^2(\d+)\[`)

// roomsAnswer reads the ack request queued for f and, if reply is not
// empty, answers it with reply (a JSON array body). It returns the id.
func roomsAnswer(t *testing.T, f roomsFake, reply string) string {
	t.Helper()
	var id string
	deadline := time.Now().Add(10 * time.Second)
	for id == "" {
		for _, m := range roomsTake(f.conn) {
			if sm := roomsAckRE.FindStringSubmatch(m); sm != nil {
				id = sm[1]
			}
		}
		if id == "" {
			if time.Now().After(deadline) {
				t.Fatal("no ack request queued")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if reply != "" {
		f.conn.dispatch(Message{Data: []byte("3" + id + reply)})
	}
	return id
}

func TestRoomsBroadcastEmitWithAck(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	fs := roomsFakeSockets(t, srv, "/", "", 4)
	fs[0].sock.Join("a")
	fs[1].sock.Join("a")
	fs[2].sock.Join("a")

	// No receiver: no reply, no error, at once.
	replies, err := ns.To("nobody").EmitWithAck(context.Background(), "q")
	if err != nil || len(replies) != 0 {
		t.Errorf("EmitWithAck to no one = %v, %v", replies, err)
	}

	// Everyone answers.
	type result struct {
		replies []AckReply
		err     error
	}
	run := func(ctx context.Context, b Broadcast) chan result {
		ch := make(chan result, 1)
		go func() {
			r, err := b.EmitWithAck(ctx, "q", "x")
			ch <- result{r, err}
		}()
		return ch
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch := run(ctx, ns.To("a"))
	ids := map[string]bool{}
	for i := range 3 {
		ids[roomsAnswer(t, fs[i], `[`+strconv.Itoa(i)+`]`)] = true
	}
	if len(ids) != 1 {
		t.Errorf("one broadcast used several ack ids: %v", ids)
	}
	r := <-ch
	if r.err != nil {
		t.Fatalf("EmitWithAck: %v", r.err)
	}
	got := map[string]int{}
	for _, rep := range r.replies {
		var n int
		if err := rep.Args.Decode(0, &n); err != nil {
			t.Fatal(err)
		}
		got[rep.SocketID] = n
	}
	want := map[string]int{fs[0].sock.ID(): 0, fs[1].sock.ID(): 1, fs[2].sock.ID(): 2}
	if len(r.replies) != 3 || len(got) != 3 {
		t.Errorf("replies %v, want one per socket %v", r.replies, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("reply of %s = %d, want %d", k, got[k], v)
		}
	}
	if m := roomsTake(fs[3].conn); len(m) != 0 {
		t.Errorf("socket outside the room was sent %q", m)
	}

	// One never answers: a timeout naming it alone.
	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	ch = run(short, ns.To("a"))
	roomsAnswer(t, fs[0], `["ok"]`)
	lateID := roomsAnswer(t, fs[1], "")
	roomsAnswer(t, fs[2], `["ok"]`)
	r = <-ch
	var te *AckTimeoutError
	if !errors.As(r.err, &te) {
		t.Fatalf("err = %v, want *AckTimeoutError", r.err)
	}
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap context.DeadlineExceeded", r.err)
	}
	if !slices.Equal(te.Missing, []string{fs[1].sock.ID()}) || te.MissingRemote != 0 {
		t.Errorf("Missing = %v (remote %d), want [%s]", te.Missing, te.MissingRemote, fs[1].sock.ID())
	}
	if len(r.replies) != 2 {
		t.Errorf("%d replies with the timeout, want 2", len(r.replies))
	}
	// The late reply is dropped, and the ack table is empty again.
	fs[1].conn.dispatch(Message{Data: []byte("3" + lateID + `["late"]`)})
	for i, f := range fs {
		f.sock.mu.Lock()
		n := len(f.sock.acks)
		f.sock.mu.Unlock()
		if n != 0 {
			t.Errorf("socket %d keeps %d pending acks", i, n)
		}
	}

	// One disconnects while awaited: it is missing, and the error says
	// so without a deadline.
	ch = run(ctx, ns.To("a"))
	roomsAnswer(t, fs[0], `["ok"]`)
	roomsAnswer(t, fs[1], `["ok"]`)
	roomsAnswer(t, fs[2], "")
	fs[2].sock.Disconnect()
	select {
	case r = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("EmitWithAck still waits for a disconnected socket")
	}
	if !errors.As(r.err, &te) || !errors.Is(r.err, ErrClosed) || !slices.Equal(te.Missing, []string{fs[2].sock.ID()}) {
		t.Errorf("err = %v, want an AckTimeoutError missing %s wrapping ErrClosed", r.err, fs[2].sock.ID())
	}
	if len(r.replies) != 2 {
		t.Errorf("%d replies, want 2", len(r.replies))
	}
}

// roomsAckAdapter stands for the other servers of a cluster in broadcasts
// with acknowledgements: its BroadcastWithAck is bwa. Everything else
// reaches no one.
type roomsAckAdapter struct {
	bwa func(ctx context.Context, count func(int), ack func(string, Args)) error
}

func (a roomsAckAdapter) Broadcast(context.Context, Target, string, []any) error { return nil }
func (a roomsAckAdapter) BroadcastWithAck(ctx context.Context, _ Target, _ string, _ []any,
	count func(int), ack func(string, Args)) error {
	return a.bwa(ctx, count, ack)
}
func (a roomsAckAdapter) FetchSockets(context.Context, Target) ([]RemoteSocket, error) {
	return nil, nil
}
func (a roomsAckAdapter) AddSockets(context.Context, Target, []string) error    { return nil }
func (a roomsAckAdapter) DelSockets(context.Context, Target, []string) error    { return nil }
func (a roomsAckAdapter) DisconnectSockets(context.Context, Target, bool) error { return nil }
func (a roomsAckAdapter) ServerSideEmit(context.Context, string, []any, bool) ([]Args, error) {
	return nil, nil
}
func (a roomsAckAdapter) Close() error { return nil }

// TestRoomsEmitWithAckRemote: what other servers owe a broadcast with
// acknowledgements, through an adapter: replies from sockets they counted,
// and a count from each. Those that do not answer are a count in the
// error; servers that cannot be heard at all make an error too, the
// adapter's, even when every socket counted has answered.
func TestRoomsEmitWithAckRemote(t *testing.T) {
	reply, _ := NewArgs("remote")
	errUnheard := errors.New("1 of 2 servers did not count their sockets")
	for _, tc := range []struct {
		name        string
		bwa         func(ctx context.Context, count func(int), ack func(string, Args)) error
		wantReplies int
		wantRemote  int
		wantErr     []error // what the error wraps; none: no error
	}{
		{"all answer", func(ctx context.Context, count func(int), ack func(string, Args)) error {
			count(2)
			ack("", reply)
			ack("", reply)
			return nil
		}, 3, 0, nil},
		{"one remote socket silent", func(ctx context.Context, count func(int), ack func(string, Args)) error {
			count(2)
			ack("", reply)
			<-ctx.Done()
			return ctx.Err()
		}, 2, 1, []error{context.DeadlineExceeded}},
		{"a server unheard until the deadline", func(ctx context.Context, count func(int), ack func(string, Args)) error {
			count(1)
			ack("", reply)
			<-ctx.Done()
			return fmt.Errorf("%w: %w", errUnheard, ctx.Err())
		}, 2, 0, []error{errUnheard, context.DeadlineExceeded}},
		{"other servers unreachable", func(ctx context.Context, count func(int), ack func(string, Args)) error {
			return errUnheard
		}, 1, 0, []error{errUnheard}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(WithPingInterval(time.Hour), WithPingTimeout(time.Hour),
				WithAdapter(func(*Namespace) (Adapter, error) { return roomsAckAdapter{tc.bwa}, nil }))
			t.Cleanup(func() { srv.Close() })
			fs := roomsFakeSockets(t, srv, "/", "", 1)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			type result struct {
				replies []AckReply
				err     error
			}
			ch := make(chan result, 1)
			go func() {
				r, err := srv.EmitWithAck(ctx, "q")
				ch <- result{r, err}
			}()
			roomsAnswer(t, fs[0], `["local"]`)
			r := <-ch
			if len(r.replies) != tc.wantReplies {
				t.Errorf("%d replies, want %d", len(r.replies), tc.wantReplies)
			}
			if tc.wantErr == nil {
				if r.err != nil {
					t.Errorf("err = %v, want none", r.err)
				}
				return
			}
			var te *AckTimeoutError
			if !errors.As(r.err, &te) {
				t.Fatalf("err = %v, want an *AckTimeoutError", r.err)
			}
			if len(te.Missing) != 0 || te.MissingRemote != tc.wantRemote {
				t.Errorf("Missing %v, MissingRemote %d; want none and %d", te.Missing, te.MissingRemote, tc.wantRemote)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(r.err, want) {
					t.Errorf("err = %v, does not wrap %v", r.err, want)
				}
			}
		})
	}
}

// A socket the server has disconnected is no longer a target, even while
// its disconnection handlers have yet to finish: as in Node, where
// disconnect() is synchronous, a FetchSockets right after DisconnectSockets
// does not return it.
func TestRoomsDisconnectedNotTargeted(t *testing.T) {
	srv := roomsNewServer(t)
	ns := srv.Of("/")
	release := make(chan struct{})
	ns.OnDisconnecting(func(s *Socket, _ Reason) { <-release })
	fs := roomsFakeSockets(t, srv, "/", "", 2)
	defer close(release)
	fs[0].sock.Join("a")
	fs[1].sock.Join("a")

	if err := ns.To(fs[0].sock.ID()).DisconnectSockets(); err != nil {
		t.Fatal(err)
	}
	// fs[0]'s OnDisconnecting handler is blocked: it is still in its rooms.
	want := []string{fs[1].sock.ID()}
	if got := roomsIDs(ns.To("a").Sockets()); !slices.Equal(got, want) {
		t.Errorf("To(a).Sockets() = %v, want %v", got, want)
	}
	if got := roomsIDs(ns.Except("nope").Sockets()); !slices.Equal(got, want) {
		t.Errorf("Except().Sockets() = %v, want %v", got, want)
	}
	if got := roomsIDs(ns.To("a", "b").Sockets()); !slices.Equal(got, want) {
		t.Errorf("To(a, b).Sockets() = %v, want %v", got, want)
	}
	fetched, err := ns.To("a").FetchSockets(context.Background())
	if err != nil || len(fetched) != 1 || fetched[0].ID != want[0] {
		t.Errorf("FetchSockets after DisconnectSockets = %+v, %v; want only %s", fetched, err, want[0])
	}
}

// TestRoomsTemplateBroadcast: a broadcast on the template of dynamic
// namespaces reaches the sockets of every namespace made from it, each with
// its own namespace in the packet, as Node's parent namespaces do.
func TestRoomsTemplateBroadcast(t *testing.T) {
	srv := roomsNewServer(t)
	tmpl := srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
	var conns []*Conn
	for _, nsp := range []string{"/dyn-1", "/dyn-2"} {
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		c := srv.engine.newConn("rooms"+strconv.FormatInt(roomsConnSeq.Add(1), 10), r, TransportPolling)
		if !srv.engine.open(c) {
			t.Fatal("engine refused a connection")
		}
		c.dispatch(Message{Data: []byte("0" + nsp + ",")})
		conns = append(conns, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(tmpl.To().Sockets()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("template sees %d sockets, want 2", len(tmpl.To().Sockets()))
		}
		time.Sleep(time.Millisecond)
	}
	awaitConnectAnswers(t, conns)
	if err := tmpl.Emit("hello", 1); err != nil {
		t.Fatal(err)
	}
	for i, nsp := range []string{"/dyn-1", "/dyn-2"} {
		got := roomsTake(conns[i])
		want := []string{"2" + nsp + `,["hello",1]`}
		if !slices.Equal(got, want) {
			t.Errorf("%s got %q, want %q", nsp, got, want)
		}
	}
	if _, err := tmpl.EmitWithAck(context.Background(), "x"); err == nil {
		t.Error("EmitWithAck on a template: want an error")
	}
	if got := srv.Of("/").To().Sockets(); len(got) != 0 {
		t.Errorf("main namespace has %d sockets, want 0", len(got))
	}
}
