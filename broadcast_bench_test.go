package sio

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// benchSockets connects n sockets to the main namespace of srv without a
// network: each is a real Conn and client, fed a CONNECT packet as its
// transport would, and all of them join room "bench". Nothing drains their
// queues; drain does.
func benchSockets(tb testing.TB, srv *Server, n int) []*Conn {
	tb.Helper()
	conns := make([]*Conn, n)
	for i := range conns {
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		c := srv.engine.newConn("bench"+strconv.Itoa(i), r, TransportPolling)
		if !srv.engine.open(c) {
			tb.Fatal("engine refused a connection")
		}
		c.dispatch(Message{Data: []byte("0")}) // CONNECT to "/"
		conns[i] = c
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.main.Sockets()) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d sockets connected", len(srv.main.Sockets()), n)
		}
		time.Sleep(time.Millisecond)
	}
	for _, s := range srv.main.Sockets() {
		s.Join("bench")
	}
	drain(conns)
	return conns
}

// drain empties every queue, as the transports' writers would.
func drain(conns []*Conn) {
	for _, c := range conns {
		c.mu.Lock()
		c.takeLocked()
		c.mu.Unlock()
	}
}

type benchPayload struct {
	User string `json:"user"`
	Text string `json:"text"`
	Seq  int    `json:"seq"`
}

// BenchmarkBroadcast measures one broadcast to a room of n sockets: the
// packet is encoded once and queued n times, so the bytes allocated per
// operation must not grow with n beyond the queues' own amortised growth.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, binary := range []bool{false, true} {
			b.Run(fmt.Sprintf("sockets=%d/binary=%v", n, binary), func(b *testing.B) {
				srv := New(WithPingInterval(time.Hour), WithSendQueueLimit(1<<30))
				defer srv.Close()
				conns := benchSockets(b, srv, n)
				var payload any = benchPayload{User: "ann", Text: "hello, room", Seq: 1}
				if binary {
					payload = map[string]any{"user": "ann", "blob": make([]byte, 64)}
				}
				target := srv.To("bench")
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if err := target.Emit("msg", payload); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					drain(conns)
					b.StartTimer()
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			})
		}
	}
}

// BenchmarkEncodeEvent measures encoding alone.
func BenchmarkEncodeEvent(b *testing.B) {
	payload := benchPayload{User: "ann", Text: "hello, room", Seq: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeEvent("/", 0, false, "msg", []any{payload}); err != nil {
			b.Fatal(err)
		}
	}
}
