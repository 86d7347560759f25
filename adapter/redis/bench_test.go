package redisadapter

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkCrossNodeFanout measures a broadcast from one server reaching
// the clients of another through Redis, with Go and Node servers side by
// side in the same run: each op is one broadcast from the origin, and the
// clock stops when every client of the receiving server has got all of
// them. The clients are minimal WebSocket clients written in Go, which
// cost the same whichever server they are on.
//
//	go test -run '^$' -bench CrossNodeFanout ./adapter/redis
func BenchmarkCrossNodeFanout(b *testing.B) {
	const clients = 100
	r := startRedis(b)
	h := startHarness(b)
	g1 := newGoNode(b, "g1", r)
	g2 := newGoNode(b, "g2", r)
	h.startServer("n1", r, 5*time.Second)
	n2 := h.startServer("n2", r, 5*time.Second)
	r.waitNumSub(b, "/", 4, 5*time.Second)

	emitGo := func(g *goNode) func(n int) {
		return func(n int) {
			ns := g.srv.Of("/")
			for i := 0; i < n; i++ {
				for {
					err := ns.Emit("fan", i)
					if !errors.Is(err, errQueueFull) {
						break
					}
					time.Sleep(100 * time.Microsecond) // Redis is behind: wait for it
				}
			}
		}
	}
	emitNode := func(name string) func(n int) {
		return func(n int) {
			h.server(nil, name, "emitMany", map[string]any{"event": "fan", "count": n})
		}
	}
	for _, tc := range []struct {
		name string
		emit func(n int)
		to   string
	}{
		{"go-to-go", emitGo(g1), g2.url()},
		{"node-to-node", emitNode("n1"), n2},
		{"go-to-node", emitGo(g1), n2},
		{"node-to-go", emitNode("n1"), g2.url()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cs := dialClients(b, tc.to, clients)
			defer cs.close()
			cs.expect(b.N)
			b.ResetTimer()
			start := time.Now()
			tc.emit(b.N)
			if !cs.wait(60 * time.Second) {
				b.Fatalf("only %d of %d deliveries", cs.total(), b.N*clients)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*clients)/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// fanClients are raw Engine.IO/Socket.IO WebSocket clients that count the
// "fan" events they get.
type fanClients struct {
	conns  []*websocket.Conn
	counts []atomic.Int64
	want   atomic.Int64
	done   chan struct{}
	once   sync.Once
	left   atomic.Int64 // clients yet to reach want
	wg     sync.WaitGroup
}

func dialClients(b *testing.B, url string, n int) *fanClients {
	b.Helper()
	cs := &fanClients{counts: make([]atomic.Int64, n), done: make(chan struct{})}
	ws := "ws" + strings.TrimPrefix(url, "http") + "/socket.io/?EIO=4&transport=websocket"
	for i := range n {
		c, _, err := websocket.DefaultDialer.Dial(ws, nil)
		if err != nil {
			b.Fatal(err)
		}
		// Engine.IO open, then the Socket.IO connect to "/".
		if _, msg, err := c.ReadMessage(); err != nil || msg[0] != '0' {
			b.Fatalf("open: %q %v", msg, err)
		}
		c.WriteMessage(websocket.TextMessage, []byte("40"))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(msg, []byte("40")) {
				break
			}
		}
		cs.conns = append(cs.conns, c)
		cs.wg.Add(1)
		go cs.read(i, c)
	}
	return cs
}

var fanPrefix = []byte(`42["fan"`)

func (cs *fanClients) read(i int, c *websocket.Conn) {
	defer cs.wg.Done()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case len(msg) == 1 && msg[0] == '2':
			c.WriteMessage(websocket.TextMessage, []byte("3"))
		case bytes.HasPrefix(msg, fanPrefix):
			if cs.counts[i].Add(1) == cs.want.Load() && cs.left.Add(-1) == 0 {
				cs.once.Do(func() { close(cs.done) })
			}
		}
	}
}

// expect sets how many events each client must get.
func (cs *fanClients) expect(n int) {
	cs.left.Store(int64(len(cs.conns)))
	cs.want.Store(int64(n))
}

func (cs *fanClients) wait(timeout time.Duration) bool {
	select {
	case <-cs.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (cs *fanClients) total() int64 {
	var n int64
	for i := range cs.counts {
		n += cs.counts[i].Load()
	}
	return n
}

func (cs *fanClients) close() {
	for _, c := range cs.conns {
		c.Close()
	}
	cs.wg.Wait()
}
