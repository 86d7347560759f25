package sio

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The hooks around a socket's life and its events: disconnecting before
// disconnect, OnAny, OnAnyOutgoing, event middleware, and reserved event
// names. They drive a Server over real connections with relClient
// (reliability_test.go), in the three transport modes where the transport
// could matter.

// hooksDial opens a session in mode and joins the main namespace, as
// socket.io-client does (an upgrade comes after the CONNECT). It returns
// the client, closed when t ends, and the socket's id.
func hooksDial(t *testing.T, rs *relServer, mode string) (*relClient, string) {
	t.Helper()
	c := rs.client()
	tr := TransportPolling
	if mode == "websocket" {
		tr = TransportWebSocket
	}
	if err := c.open(tr); err != nil {
		t.Fatalf("%s client: %v", mode, err)
	}
	t.Cleanup(c.close)
	sid, err := c.connect("/")
	if err != nil {
		t.Fatalf("%s client: %v", mode, err)
	}
	if mode == "upgrade" {
		if err := c.upgrade(); err != nil {
			t.Fatalf("%s client: %v", mode, err)
		}
	}
	return c, sid
}

// hooksExpect reads the client's next messages and checks they are want.
func hooksExpect(t *testing.T, c *relClient, want ...relFrame) {
	t.Helper()
	for i, w := range want {
		f, err := c.nextMsg()
		if err != nil {
			t.Fatalf("message %d: %v; want %v", i, err, w)
		}
		if f.binary != w.binary || f.text != w.text || string(f.bin) != string(w.bin) {
			t.Fatalf("message %d: got %v %q, want %v %q", i, f, f.bin, w, w.bin)
		}
	}
}

// hooksSend sends frames, which the server must take.
func hooksSend(t *testing.T, c *relClient, frames ...relFrame) {
	t.Helper()
	if err := c.sendOK(frames...); err != nil {
		t.Fatal(err)
	}
}

// hooksEnd is what a disconnection handler saw.
type hooksEnd struct {
	hook   string
	reason Reason
	rooms  []string
	inA    bool
	ctxErr error
}

// TestHooksDisconnecting: OnDisconnecting runs before OnDisconnect, with the
// socket still in its rooms (its own id's included); in OnDisconnect it is
// in none. Whoever ends the socket: the client (a DISCONNECT, or closing
// the connection) or the server.
func TestHooksDisconnecting(t *testing.T) {
	cases := []struct {
		how    string
		reason Reason
	}{
		{"client-disconnect", ReasonClientNamespaceDisconnect},
		{"client-close", ReasonTransportClose},
		{"server-disconnect", ReasonServerNamespaceDisconnect},
	}
	for _, mode := range transportModes {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.how, func(t *testing.T) {
				rs := relStart(t)
				ns := rs.ns("/")
				ends := make(chan hooksEnd, 4)
				end := func(hook string, s *Socket, reason Reason) {
					ends <- hooksEnd{hook, reason, slices.Sorted(slices.Values(s.Rooms())), s.In("a"), s.Context().Err()}
				}
				ns.OnConnect(func(ctx context.Context, s *Socket) { s.Join("a", "b") })
				ns.OnDisconnecting(func(s *Socket, r Reason) { end("disconnecting", s, r) })
				ns.OnDisconnect(func(s *Socket, r Reason) { end("disconnect", s, r) })

				c, sid := hooksDial(t, rs, mode)
				// The echo runs after OnConnect, on the socket's executor:
				// the socket is in its rooms by the time it is answered.
				if err := c.echo("/", `1`); err != nil {
					t.Fatal(err)
				}
				if got, want := slices.Sorted(slices.Values(ns.Socket(sid).Rooms())), slices.Sorted(slices.Values([]string{sid, "a", "b"})); !slices.Equal(got, want) {
					t.Fatalf("Rooms() = %v, want %v", got, want)
				}
				switch tc.how {
				case "client-disconnect":
					hooksSend(t, c, relText("41"))
				case "client-close":
					c.close()
				case "server-disconnect":
					ns.Socket(sid).Disconnect()
					hooksExpect(t, c, relText("41"))
				}

				var got []hooksEnd
				for len(got) < 2 {
					select {
					case e := <-ends:
						got = append(got, e)
					case <-time.After(relWait):
						t.Fatalf("disconnection handlers ran: %+v; want disconnecting and disconnect", got)
					}
				}
				ing, ed := got[0], got[1]
				if ing.hook != "disconnecting" || ed.hook != "disconnect" {
					t.Fatalf("handlers ran in the order %s, %s; want disconnecting, disconnect", ing.hook, ed.hook)
				}
				wantRooms := slices.Sorted(slices.Values([]string{sid, "a", "b"}))
				if !slices.Equal(ing.rooms, wantRooms) || !ing.inA {
					t.Errorf("in OnDisconnecting: Rooms() = %v, In(a) = %v; want %v, true", ing.rooms, ing.inA, wantRooms)
				}
				if len(ed.rooms) != 0 || ed.inA {
					t.Errorf("in OnDisconnect: Rooms() = %v, In(a) = %v; want none, false", ed.rooms, ed.inA)
				}
				for _, e := range got {
					if e.reason != tc.reason {
						t.Errorf("%s: reason %q, want %q", e.hook, e.reason, tc.reason)
					}
				}
				if !errors.Is(ed.ctxErr, context.Canceled) {
					t.Errorf("in OnDisconnect: the socket's context error is %v, want context.Canceled", ed.ctxErr)
				}
				if ns.Socket(sid) != nil {
					t.Error("the namespace still lists the socket")
				}
			})
		}
	}
}

// hooksCall is one call of a hook: where (middleware, any, handler), the
// event, and its arguments as Args.Values gives them.
type hooksCall struct {
	where string
	event string
	args  []any
}

// hooksOut is one call of an OnAnyOutgoing hook.
type hooksOut struct {
	event string
	args  []any
}

// hooksRecorder records the calls of the hooks of one namespace.
type hooksRecorder struct {
	t   *testing.T
	mu  sync.Mutex
	in  []hooksCall
	out []hooksOut
}

func (r *hooksRecorder) note(where, event string, args Args) {
	vals, err := args.Values()
	if err != nil {
		r.t.Errorf("%s %s: Values: %v", where, event, err)
	}
	r.mu.Lock()
	r.in = append(r.in, hooksCall{where, event, vals})
	r.mu.Unlock()
}

func (r *hooksRecorder) noteOut(s *Socket, event string, args []any) {
	r.mu.Lock()
	r.out = append(r.out, hooksOut{event, args})
	r.mu.Unlock()
}

func (r *hooksRecorder) calls() ([]hooksCall, []hooksOut) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.in), slices.Clone(r.out)
}

// TestHooksAnyAndEventMiddleware: event middleware sees every event first
// and may refuse it: the handler and the OnAny hooks do not run, a client
// that asked for an acknowledgement gets the error ({"error", "data"} for
// a *ClientError), one that did not gets nothing. Other events pass through
// unchanged, binary included. OnAny sees every event that passes, with or
// without a handler; OnAnyOutgoing sees Socket.Emit and
// Socket.EmitWithAck, with the event name and the arguments as given, and
// not broadcasts.
func TestHooksAnyAndEventMiddleware(t *testing.T) {
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			rs := relStart(t)
			ns := rs.ns("/")
			rec := &hooksRecorder{t: t}
			ns.UseEvent(func(ctx context.Context, s *Socket, event string, args Args) error {
				rec.note("middleware", event, args)
				switch event {
				case "forbidden":
					return &ClientError{Message: "refused by middleware", Data: map[string]any{"code": 7}}
				case "blocked":
					return errors.New("blocked by middleware")
				}
				return nil
			})
			ns.OnAny(func(ctx context.Context, s *Socket, event string, args Args) { rec.note("any", event, args) })
			ns.OnAnyOutgoing(rec.noteOut)
			never := func(ctx context.Context, s *Socket, args Args) ([]any, error) {
				t.Errorf("a handler ran for an event the middleware refused")
				return []any{"handled"}, nil
			}
			OnRaw(ns, "forbidden", never)
			OnRaw(ns, "blocked", never)
			OnRaw(ns, "inspect", func(ctx context.Context, s *Socket, args Args) ([]any, error) {
				rec.note("handler", "inspect", args)
				return args.Values()
			})

			c, sid := hooksDial(t, rs, mode)
			sock := ns.Socket(sid)

			// Refused, with an acknowledgement asked for: the error.
			hooksSend(t, c, relText(`420["forbidden",{"x":1}]`))
			hooksExpect(t, c, relText(`430[{"error":"refused by middleware","data":{"code":7}}]`))
			hooksSend(t, c, relText(`421["blocked","y"]`))
			hooksExpect(t, c, relText(`431[{"error":"blocked by middleware"}]`))
			// Refused, without: nothing; the next answer is the next
			// event's.
			hooksSend(t, c, relText(`42["forbidden",2]`))
			hooksSend(t, c, relText(`422["inspect",{"a":[1,"two"]},3.5,null]`))
			hooksExpect(t, c, relText(`432[{"a":[1,"two"]},3.5,null]`))
			// Passed through unchanged, binary too.
			hooksSend(t, c, relText(`451-3["inspect",{"b":{"_placeholder":true,"num":0}},"t"]`), relBin(0, 1, 2, 254, 255))
			hooksExpect(t, c, relText(`461-3[{"b":{"_placeholder":true,"num":0}},"t"]`), relBin(0, 1, 2, 254, 255))
			// No handler: OnAny sees it all the same.
			hooksSend(t, c, relText(`42["nobody",1]`), relText(`424["inspect"]`))
			hooksExpect(t, c, relText(`434[]`))

			// Outgoing: Emit, EmitWithAck, and a broadcast.
			news := map[string]any{"k": "v"}
			if err := sock.Emit("news", 1, "two", news); err != nil {
				t.Fatal(err)
			}
			hooksExpect(t, c, relText(`42["news",1,"two",{"k":"v"}]`))
			type reply struct {
				args Args
				err  error
			}
			replies := make(chan reply, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), relWait)
				defer cancel()
				a, err := sock.EmitWithAck(ctx, "ask", "q")
				replies <- reply{a, err}
			}()
			f, err := c.nextMsg()
			m := regexp.MustCompile(`^42(\d+)\["ask","q"\]$`).FindStringSubmatch(f.text)
			if err != nil || m == nil {
				t.Fatalf("EmitWithAck: the client got %v, %v; want 42<id>[\"ask\",\"q\"]", f, err)
			}
			hooksSend(t, c, relText(`43`+m[1]+`["answer"]`))
			select {
			case r := <-replies:
				var s string
				if r.err != nil || r.args.Decode(0, &s) != nil || s != "answer" {
					t.Errorf("EmitWithAck = %q, %v; want answer", s, r.err)
				}
			case <-time.After(relWait):
				t.Fatal("EmitWithAck did not return")
			}
			if err := ns.Emit("bcast", 1); err != nil {
				t.Fatal(err)
			}
			hooksExpect(t, c, relText(`42["bcast",1]`))

			in, out := rec.calls()
			num := func(s string) any { return json.Number(s) }
			wantIn := []hooksCall{
				{"middleware", "forbidden", []any{map[string]any{"x": num("1")}}},
				{"middleware", "blocked", []any{"y"}},
				{"middleware", "forbidden", []any{num("2")}},
				{"middleware", "inspect", []any{map[string]any{"a": []any{num("1"), "two"}}, num("3.5"), nil}},
				{"any", "inspect", []any{map[string]any{"a": []any{num("1"), "two"}}, num("3.5"), nil}},
				{"handler", "inspect", []any{map[string]any{"a": []any{num("1"), "two"}}, num("3.5"), nil}},
				{"middleware", "inspect", []any{map[string]any{"b": []byte{0, 1, 2, 254, 255}}, "t"}},
				{"any", "inspect", []any{map[string]any{"b": []byte{0, 1, 2, 254, 255}}, "t"}},
				{"handler", "inspect", []any{map[string]any{"b": []byte{0, 1, 2, 254, 255}}, "t"}},
				{"middleware", "nobody", []any{num("1")}},
				{"any", "nobody", []any{num("1")}},
				{"middleware", "inspect", []any{}},
				{"any", "inspect", []any{}},
				{"handler", "inspect", []any{}},
			}
			if !reflect.DeepEqual(in, wantIn) {
				t.Errorf("incoming hooks:\n got %v\nwant %v", in, wantIn)
			}
			wantOut := []hooksOut{{"news", []any{1, "two", news}}, {"ask", []any{"q"}}}
			if !reflect.DeepEqual(out, wantOut) {
				t.Errorf("OnAnyOutgoing calls: got %v, want %v (broadcasts are not a socket's)", out, wantOut)
			}
		})
	}
}

// reservedNames are the event names no one may emit or handle, as in Node.
var reservedNames = []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// TestHooksReservedNames: registering a handler for a reserved name panics,
// on the Server, a Namespace or a dynamic namespace's template; emitting
// one returns an error, sends nothing and calls no OnAnyOutgoing hook.
func TestHooksReservedNames(t *testing.T) {
	rs := relStart(t)
	ns := rs.ns("/")
	rec := &hooksRecorder{t: t}
	ns.OnAnyOutgoing(rec.noteOut)
	registries := map[string]Registry{
		"Server":    rs.srv,
		"Namespace": rs.srv.Of("/other"),
		"template":  rs.srv.OfFunc(func(string) bool { return false }),
	}
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			t.Helper()
			v := recover()
			if s, _ := v.(string); !strings.Contains(s, "reserved") {
				t.Errorf("%s: panic %v, want one about a reserved name", what, v)
			}
		}()
		f()
	}
	for _, name := range reservedNames {
		for rn, r := range registries {
			mustPanic("On "+rn+" "+name, func() { On(r, name, func(context.Context, *Socket, any) {}) })
			mustPanic("OnAck "+rn+" "+name, func() {
				OnAck(r, name, func(context.Context, *Socket, any) (any, error) { return nil, nil })
			})
			mustPanic("OnRaw "+rn+" "+name, func() {
				OnRaw(r, name, func(context.Context, *Socket, Args) ([]any, error) { return nil, nil })
			})
		}
	}

	c, sid := hooksDial(t, rs, "websocket")
	sock := ns.Socket(sid)
	sock.Join("room")
	ctx, cancel := context.WithTimeout(context.Background(), relWait)
	defer cancel()
	for _, name := range reservedNames {
		reserved := func(what string, err error) {
			t.Helper()
			if err == nil || errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "reserved") {
				t.Errorf("%s(%q) = %v, want an error about a reserved name", what, name, err)
			}
		}
		reserved("Socket.Emit", sock.Emit(name, 1))
		_, err := sock.EmitWithAck(ctx, name, 1)
		reserved("Socket.EmitWithAck", err)
		_, err = Call[any](ctx, sock, name)
		reserved("Call", err)
		reserved("Server.Emit", rs.srv.Emit(name))
		reserved("Namespace.Emit", ns.Emit(name))
		reserved("Broadcast.Emit", ns.To("room").Emit(name))
		reserved("Socket.Broadcast().Emit", sock.Broadcast().Emit(name))
		_, err = ns.EmitWithAck(ctx, name)
		reserved("Namespace.EmitWithAck", err)
	}
	// Nothing reached the client: the next message is this one.
	if err := sock.Emit("after"); err != nil {
		t.Fatal(err)
	}
	hooksExpect(t, c, relText(`42["after"]`))
	if _, out := rec.calls(); !reflect.DeepEqual(out, []hooksOut{{"after", nil}}) {
		t.Errorf("OnAnyOutgoing calls: %v, want only after", out)
	}
	if !sock.Connected() {
		t.Error("the socket disconnected")
	}
}
