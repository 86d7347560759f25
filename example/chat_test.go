package main

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// transportModes are the ways the Node clients connect: long-polling only,
// WebSocket only, and polling then upgrade (the browser's default).
var transportModes = []string{"polling", "websocket", "upgrade"}

// TestChat follows the wire contract at the top of chat.go with real
// socket.io-client sockets under Node.js, in each transport mode.
func TestChat(t *testing.T) {
	needNode(t)
	for _, mode := range transportModes {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, "std")
			c := startClients(t, srv.URL(), mode)

			t.Log("connect: a username is required")
			for _, auth := range []any{nil, map[string]any{}, map[string]any{"username": "  "}} {
				if got := c.connect("nobody", auth); got["connect_error"] != "username required" {
					t.Errorf("connect with auth %v: got %v, want connect_error %q", auth, got, "username required")
				}
			}
			long := strings.Repeat("é", maxNameLen+1)
			if got := c.connect("nobody", map[string]any{"username": long}); got["connect_error"] != "username too long" {
				t.Errorf("connect with a %d-letter name: got %v, want connect_error %q", maxNameLen+1, got, "username too long")
			}
			c.login("alice", "bob", "carol")

			t.Log("join: ack {room, users}; the others get user joined {username, room}")
			c.wantAck("alice", "join", obj{"room": "lobby", "users": []string{"alice"}}, "lobby")
			c.wantAck("bob", "join", obj{"room": "lobby", "users": []string{"alice", "bob"}}, " lobby ")
			c.want("alice", "user joined", obj{"username": "bob", "room": "lobby"})
			c.wantAck("carol", "join", obj{"room": "patio", "users": []string{"carol"}}, "patio")
			c.wantAck("carol", "join", obj{"room": "patio", "users": []string{"carol"}}, "patio") // again: nothing new
			c.wantAck("carol", "join", ackError{"invalid room name"}, "   ")
			c.wantAck("carol", "join", ackError{"invalid room name"}, strings.Repeat("r", maxRoomLen+1))

			t.Log("chat message: ack {id, ts}; everyone in the room, the sender included, gets {id, room, username, text, ts}")
			id, ts := c.sendMessage("alice", "lobby", "  hello, lobby  ")
			msg := obj{"id": id, "room": "lobby", "username": "alice", "text": "hello, lobby", "ts": ts}
			c.want("alice", "chat message", msg)
			c.want("bob", "chat message", msg)
			c.wantAck("carol", "chat message", ackError{"join the room first"}, obj{"room": "lobby", "text": "let me in"})
			c.wantAck("bob", "chat message", ackError{"empty or too long message"}, obj{"room": "lobby", "text": " \n "})
			c.wantAck("bob", "chat message", ackError{"empty or too long message"}, obj{"room": "lobby", "text": strings.Repeat("x", maxTextLen+1)})

			t.Log("typing and stop typing: the others in the room only get {username, room}")
			c.emit("bob", "typing", obj{"room": "lobby"})
			c.want("alice", "typing", obj{"username": "bob", "room": "lobby"})
			c.emit("bob", "stop typing", obj{"room": "lobby"})
			c.want("alice", "stop typing", obj{"username": "bob", "room": "lobby"})
			c.emit("carol", "typing", obj{"room": "lobby"}) // not her room: dropped
			c.settle("alice", "bob", "carol")
			c.noMore("alice", "bob", "carol")

			t.Log("one room at a time: joining another leaves the first")
			c.wantAck("bob", "join", obj{"room": "patio", "users": []string{"bob", "carol"}}, "patio")
			c.want("alice", "user left", obj{"username": "bob", "room": "lobby"})
			c.want("carol", "user joined", obj{"username": "bob", "room": "patio"})
			id, ts = c.sendMessage("alice", "lobby", "anyone?")
			c.want("alice", "chat message", obj{"id": id, "room": "lobby", "username": "alice", "text": "anyone?", "ts": ts})
			c.wantAck("bob", "chat message", ackError{"join the room first"}, obj{"room": "lobby", "text": "still here?"})
			id, ts = c.sendMessage("bob", "patio", "hi carol")
			msg = obj{"id": id, "room": "patio", "username": "bob", "text": "hi carol", "ts": ts}
			c.want("bob", "chat message", msg)
			c.want("carol", "chat message", msg)
			c.emit("carol", "typing", obj{"room": "patio"})
			c.want("bob", "typing", obj{"username": "carol", "room": "patio"})
			c.settle("alice", "bob", "carol")
			c.noMore("alice", "bob", "carol")

			if mode == "upgrade" {
				for _, name := range []string{"alice", "bob", "carol"} {
					c.d.call(callTimeout, "transport", map[string]any{"client": name, "want": "websocket"})
				}
			}

			t.Log("disconnect: the others in the room get user left {username, room}")
			c.d.call(callTimeout, "disconnect", map[string]any{"client": "carol"})
			c.want("bob", "user left", obj{"username": "carol", "room": "patio"})
			c.wantAck("bob", "join", obj{"room": "patio", "users": []string{"bob"}}, "patio")
			c.settle("alice", "bob")
			c.noMore("alice", "bob")
		})
	}
}

// obj is a JSON object as the wire contract spells it. The tests write what
// they send and expect with it, not with chat.go's types, so that renaming
// a field there fails them.
type obj = map[string]any

// ackError is what an acknowledgement carries when the handler fails.
type ackError struct {
	Error string `json:"error"`
}

const (
	callTimeout  = 60 * time.Second // for a command of a Node script
	eventTimeout = 30 * time.Second // for an event to arrive
)

// clients drives e2e/clients.mjs: named socket.io-client sockets.
type clients struct {
	t *testing.T
	d *driver
}

func startClients(t *testing.T, url, mode string) *clients {
	return &clients{t: t, d: startDriver(t, "clients.mjs", "--url", url, "--mode", mode)}
}

// connect opens a socket for client with the given auth payload (none if
// nil) and returns the outcome: {"connected":true} or {"connect_error":...}.
func (c *clients) connect(client string, auth any) map[string]any {
	c.t.Helper()
	fields := map[string]any{"client": client}
	if auth != nil {
		fields["auth"] = auth
	}
	return c.d.call(callTimeout, "connect", fields)
}

// login connects each name as a client of that username.
func (c *clients) login(names ...string) {
	c.t.Helper()
	for _, name := range names {
		if got := c.connect(name, map[string]any{"username": name}); got["connected"] != true {
			c.t.Fatalf("connect %s: %v", name, got)
		}
	}
}

func (c *clients) emit(client, event string, args ...any) {
	c.t.Helper()
	c.d.call(callTimeout, "emit", map[string]any{"client": client, "event": event, "args": args})
}

// ack emits and returns the server's acknowledgement.
func (c *clients) ack(client, event string, args ...any) any {
	c.t.Helper()
	return c.d.call(callTimeout, "emit", map[string]any{"client": client, "event": event, "args": args, "ack": true})["ack"]
}

// wantAck emits and checks the acknowledgement.
func (c *clients) wantAck(client, event string, want any, args ...any) {
	c.t.Helper()
	if got := c.ack(client, event, args...); !sameJSON(got, want) {
		c.t.Errorf("%s: %s %v: ack %s, want %s", client, event, args, toJSON(got), toJSON(want))
	}
}

// sendMessage sends a chat message and checks its acknowledgement: {id, ts},
// a non-empty id and the server's time in Unix milliseconds. It returns them
// for the message that the room gets.
func (c *clients) sendMessage(client, room, text string) (id string, ts float64) {
	c.t.Helper()
	before := time.Now().UnixMilli()
	ack := c.ack(client, "chat message", obj{"room": room, "text": text})
	after := time.Now().UnixMilli()
	got, _ := ack.(map[string]any)
	id, _ = got["id"].(string)
	ts, _ = got["ts"].(float64)
	if len(got) != 2 || id == "" || ts != math.Trunc(ts) || int64(ts) < before || int64(ts) > after {
		c.t.Fatalf("%s: chat message ack %s, want {id, ts}: a non-empty id and a time in ms in [%d, %d]", client, toJSON(ack), before, after)
	}
	return id, ts
}

// want waits for the next event of that name that client received, and
// checks its argument.
func (c *clients) want(client, event string, want any) {
	c.t.Helper()
	e := c.d.take(eventTimeout, func(e map[string]any) bool {
		return e["event"] == "received" && e["client"] == client && e["name"] == event
	})
	if e == nil {
		c.t.Fatalf("%s: no %q event within %v; received, not yet checked: %s", client, event, eventTimeout, toJSON(c.pending(client)))
	}
	if args, _ := e["args"].([]any); len(args) != 1 || !sameJSON(args[0], want) {
		c.t.Errorf("%s: %q with %s, want %s", client, event, toJSON(e["args"]), toJSON(want))
	}
}

// settle makes a round trip to the server for each client: whatever the
// server sent a client before has then arrived, as a connection delivers in
// order. The no-op is a message to no room, which the server refuses.
func (c *clients) settle(names ...string) {
	c.t.Helper()
	for _, name := range names {
		c.wantAck(name, "chat message", ackError{"join the room first"}, obj{"room": "", "text": "sync"})
	}
}

// noMore fails if a client received an event the test did not expect.
func (c *clients) noMore(names ...string) {
	c.t.Helper()
	for _, name := range names {
		if extra := c.pending(name); len(extra) > 0 {
			c.t.Errorf("%s received unexpected events: %s", name, toJSON(extra))
		}
	}
}

func (c *clients) pending(client string) []map[string]any {
	return c.d.untaken(func(e map[string]any) bool {
		return e["event"] == "received" && e["client"] == client
	})
}

// decodeJSON decodes v, as decoded from JSON, into into.
func decodeJSON(t testing.TB, v any, into any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("decode %s into %T: %v", b, into, err)
	}
}

// sameJSON reports whether a and b are the same as JSON values.
func sameJSON(a, b any) bool {
	var x, y any
	if json.Unmarshal([]byte(toJSON(a)), &x) != nil || json.Unmarshal([]byte(toJSON(b)), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}
