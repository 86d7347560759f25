package redisadapter

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscribeResponses subscribes to the response channel of "/", as a
// requester would, and waits for Redis to confirm.
func subscribeResponses(t *testing.T, r *redisServer) *redis.PubSub {
	t.Helper()
	resp := r.newClient(t).Subscribe(context.Background(), "socket.io-response#/#")
	t.Cleanup(func() { resp.Close() })
	if _, err := resp.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	return resp
}

// nextResponse returns the next message on resp, failing t after 5s.
func nextResponse(t *testing.T, resp *redis.PubSub, what string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := resp.ReceiveMessage(ctx)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return m.Payload
}

// TestMissingNamespace: a broadcast whose packet has no nsp, as old
// emitters wrote it, is read as "/": on the channel of "/" (or of one of
// its rooms) every server delivers it to "/", on the channel of /chat none
// does. A broadcast with acknowledgements (type 7) without nsp on the
// request channel of "/" is sent to the clients of "/" and answered.
func TestMissingNamespace(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	pub := c.r.newClient(t)
	opts := `83 a5"rooms" 90 a6"except" 90 a5"flags" 80`
	publish := func(channel, msg string) {
		t.Helper()
		if err := pub.Publish(ctx, channel, hexBytes(t, msg)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// [uid, {type: 2, data: [event, 1]}, opts]: notepack, as Node writes.
	publish("socket.io#/chat#", `93 a6"tester" 82 a4"type" 02 a4"data" 92 a7"no-nsp1" 01 `+opts)
	publish("socket.io#/#", `93 a6"tester" 82 a4"type" 02 a4"data" 92 a6"no-nsp" 01 `+opts)
	publish("socket.io#/#red#", `93 a6"tester" 82 a4"type" 02 a4"data" 92 a7"no-nsp2" 01 `+
		`83 a5"rooms" 91 a3"red" a6"except" 90 a5"flags" 80`)
	// The control, through Redis too: once it is in, so is no-nsp1.
	publish("socket.io#/chat#", `93 a6"tester" 83 a4"type" 02 a4"data" 91 ac"chat-control" a3"nsp" a5"/chat" `+opts)
	lines := c.checkDeliveries([]delivery{
		{"no-nsp", mainClients},
		{"no-nsp2", clientsOf("-a")},
		{"chat-control", chatClients},
		{"no-nsp1", nil},
	})
	for _, cl := range mainClients {
		if ev := events(lines, cl, "no-nsp"); len(ev) == 1 && (len(ev[0].Args) != 1 || ev[0].Args[0] != 1.0) {
			t.Errorf("%s got no-nsp with %v, want [1]", cl, ev[0].Args)
		}
	}

	// {uid, requestId, type: 7, packet: {type: 2, data: ["ask", 1]},
	// opts: {rooms: ["red"], except: [], flags: {timeout: 5000}}}.
	resp := subscribeResponses(t, c.r)
	publish("socket.io-request#/#", `85 a3"uid" a6"tester" a9"requestId" a2"q7" a4"type" 07 `+
		`a6"packet" 82 a4"type" 02 a4"data" 92 a3"ask" 01 `+
		`a4"opts" 83 a5"rooms" 91 a3"red" a6"except" 90 a5"flags" 81 a7"timeout" cd 1388`)
	var counts []int
	var from []string
	for len(counts) < 3 || len(from) < 3 {
		m, err := decodeWire([]byte(nextResponse(t, resp, "the answers to q7")))
		if err != nil || m.RequestID != "q7" {
			t.Fatalf("response %+v (%v)", m, err)
		}
		switch {
		case m.is(typeBroadcastClientCount):
			counts = append(counts, m.ClientCount)
		case m.is(typeBroadcastAck):
			var v struct{ From, Event string }
			if err := packetArgs(m).Decode(0, &v); err != nil || v.Event != "ask" {
				t.Errorf("ack %+v (%v)", v, err)
			}
			from = append(from, v.From)
		default:
			t.Fatalf("response of type %v", *m.Type)
		}
	}
	sort.Strings(from)
	if !slices.Equal(counts, []int{1, 1, 1}) || !slices.Equal(from, clientsOf("-a")) {
		t.Errorf("q7: counts %v, acks from %v; want 1 client per server, acks from %v", counts, from, clientsOf("-a"))
	}
}

// TestLegacyLeaveDisconnect: the legacy forms of remote leave and remote
// disconnect, {requestId, sid, room} and {requestId, sid, close}, act on
// the one socket named and are answered {requestId} by its server only,
// as Node does.
func TestLegacyLeaveDisconnect(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	ns1, ns2 := c.g1.srv.Of("/"), c.g2.srv.Of("/")
	resp := subscribeResponses(t, c.r)
	pub := c.r.newClient(t)
	for _, req := range []string{
		`{"uid":"tester","requestId":"q3","type":3,"sid":"` + c.sids["g1-a"] + `","room":"red"}`,
		`{"uid":"tester","requestId":"q4","type":4,"sid":"` + c.sids["g2-b"] + `"}`,
		`{"uid":"tester","requestId":"q4c","type":4,"sid":"` + c.sids["g1-b"] + `","close":true}`,
		// Every server answers this, after the legacy requests.
		`{"uid":"tester","requestId":"q0","type":0,"rooms":[]}`,
	} {
		if err := pub.Publish(ctx, "socket.io-request#/#", req).Err(); err != nil {
			t.Fatal(err)
		}
	}
	answers := map[string]int{}
	for answers["q0"] < 3 {
		p := nextResponse(t, resp, "the answers")
		var r struct{ RequestID string }
		if err := json.Unmarshal([]byte(p), &r); err != nil {
			t.Fatalf("response %q: %v", p, err)
		}
		answers[r.RequestID]++
		if r.RequestID != "q0" && p != `{"requestId":"`+r.RequestID+`"}` {
			t.Errorf("legacy request answered %s", p)
		}
	}
	if answers["q3"] != 1 || answers["q4"] != 1 || answers["q4c"] != 1 {
		t.Errorf("answers %v, want one to each of q3, q4 and q4c", answers)
	}

	if s := ns1.Socket(c.sids["g1-a"]); s == nil || !s.Connected() || s.In("red") {
		t.Errorf("g1-a after the legacy leave of red: gone, or still in red")
	}
	c.h.waitDisconnects(func(d map[string]string) bool { return len(d) >= 2 })
	time.Sleep(200 * time.Millisecond) // for strays
	lines, _ := c.h.snapshot()
	reasons := disconnects(lines)
	if len(reasons) != 2 || reasons["g2-b"] != "io server disconnect" || reasons["g1-b"] == "" {
		t.Errorf("disconnect reasons = %v, want g2-b's io server disconnect and g1-b's", reasons)
	}
	if s := ns2.Socket(c.sids["g2-b"]); s != nil && s.Connected() {
		t.Error("g2-b still connected")
	}
	if s := ns1.Socket(c.sids["g1-b"]); s != nil && s.Connected() {
		t.Error("g1-b still connected")
	}
}

// TestEmptyAnswersToNode: a Go server with no matching socket answers a
// Node server's fetchSockets, allRooms and sockets at once, with nothing,
// rather than letting Node wait for its requests timeout.
func TestEmptyAnswersToNode(t *testing.T) {
	r := startRedis(t)
	h := startHarness(t)
	g := newGoNode(t, "g1", r)
	h.startServer("n1", r, 5*time.Second)
	r.waitNumSub(t, "/", 2, 5*time.Second)
	r.waitNumSub(t, "/chat", 2, 5*time.Second)
	// One Go client, in "red", which no request below matches but allRooms.
	c := h.connect("g1-a", g.url(), nil)
	g.srv.Of("/").Socket(c).Join("red")

	for _, tc := range []struct {
		op     string
		fields map[string]any
		want   []string
	}{
		{"fetchSockets", map[string]any{"rooms": []string{"nobody"}}, nil},
		{"fetchSockets", map[string]any{"except": []string{c}}, nil},
		{"fetchSockets", map[string]any{"nsp": "/chat"}, nil},
		{"sockets", map[string]any{"rooms": []string{"nobody"}}, nil},
		{"allRooms", map[string]any{"nsp": "/chat"}, nil},
		{"allRooms", nil, []string{c, "red"}},
	} {
		var got []json.RawMessage
		start := time.Now()
		h.server(&got, "n1", tc.op, tc.fields)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s %v took %v (requests timeout 5s)", tc.op, tc.fields, d)
		}
		var ids []string
		for _, x := range got {
			var id string
			if json.Unmarshal(x, &id) != nil {
				var s struct{ ID string }
				json.Unmarshal(x, &s)
				id = s.ID
			}
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if got == nil || !slices.Equal(ids, slices.Sorted(slices.Values(tc.want))) {
			t.Errorf("%s %v = %v, want %v", tc.op, tc.fields, ids, tc.want)
		}
	}
}
