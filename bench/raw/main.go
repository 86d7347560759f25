// Command raw is the ceiling of the sio benchmarks: the bench application
// with no Socket.IO library at all, on gorilla/websocket. It speaks just
// enough of the protocol for the load generator, by matching bytes: the
// Engine.IO OPEN packet, the answer to a CONNECT to "/", pongs, a
// "broadcast" event re-sent to every connection as "msg" (the packet built
// once, by rewriting the event name), an "echo" event acknowledged with its
// arguments. No JSON is parsed, no namespace, room, heartbeat or session
// exists. Writes are queued per connection and flushed in batches, a
// writer goroutine running only while there is something to write, each
// batch framed by hand and written with one writev.
//
//	raw -addr 127.0.0.1:PORT
//
// What sio spends beyond this server is the price of the protocol and of
// its guarantees; what this server spends is the kernel's and the Go
// runtime's, which no Socket.IO server on the same machine can avoid.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	flag.Parse()

	h := &hub{conns: map[*conn]struct{}{}}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		// flush writes the connection's frames; gorilla must not answer
		// pings or close frames on it in between.
		ws.SetPingHandler(func(string) error { return nil })
		ws.SetCloseHandler(func(int, string) error { return nil })
		c := &conn{ws: ws, nc: ws.NetConn()}
		go h.serve(c)
	})
	mux.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		debug.FreeOSMemory()
		w.Write([]byte("ok"))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		ln.Close()
		os.Exit(0)
	}()
	log.Printf("raw bench server listening on %s (pid %d)", *addr, os.Getpid())
	log.Fatal(http.Serve(ln, mux))
}

type hub struct {
	mu    sync.RWMutex
	conns map[*conn]struct{}
	ids   atomic.Uint64
}

type conn struct {
	ws      *websocket.Conn
	nc      net.Conn
	mu      sync.Mutex
	queue   [][]byte
	writing bool
}

var (
	connectPrefix = []byte("40")
	eventPrefix   = []byte(`42["broadcast"`)
	echoPrefix    = []byte("42")
	echoEvent     = []byte(`["echo",`)
)

func (h *hub) serve(c *conn) {
	id := strconv.FormatUint(h.ids.Add(1), 36)
	c.send([]byte(`0{"sid":"` + id + `","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		c.ws.Close()
	}()
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case bytes.Equal(msg, connectPrefix):
			h.mu.Lock()
			h.conns[c] = struct{}{}
			h.mu.Unlock()
			c.send([]byte(`40{"sid":"s` + id + `"}`))
		case bytes.HasPrefix(msg, eventPrefix):
			// 42["broadcast",ARGS] -> 42["msg",ARGS], built once.
			out := append([]byte(`42["msg"`), msg[len(eventPrefix):]...)
			h.mu.RLock()
			for d := range h.conns {
				d.send(out)
			}
			h.mu.RUnlock()
		case bytes.HasPrefix(msg, echoPrefix):
			// 42ID["echo",ARGS] -> 43ID[ARGS]
			rest := msg[2:]
			i := bytes.IndexByte(rest, '[')
			if i < 0 || !bytes.HasPrefix(rest[i:], echoEvent) {
				continue
			}
			out := append(append(append([]byte("43"), rest[:i]...), '['), rest[i+len(echoEvent):]...)
			c.send(out)
		}
	}
}

// send queues a text frame and starts a writer if none runs.
func (c *conn) send(p []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, p)
	if c.writing {
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	go c.flush()
}

func (c *conn) flush() {
	var (
		hdr  []byte
		ends []int
		bufs net.Buffers
	)
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		// All headers first, in one slice that does not move while the
		// buffers point into it.
		hdr, ends, bufs = hdr[:0], ends[:0], bufs[:0]
		for _, p := range batch {
			hdr = appendHeader(hdr, len(p))
			ends = append(ends, len(hdr))
		}
		start := 0
		for i, p := range batch {
			bufs = append(bufs, hdr[start:ends[i]], p)
			start = ends[i]
		}
		c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := bufs.WriteTo(c.nc); err != nil {
			c.nc.Close()
			return
		}
	}
}

// appendHeader appends the header of a final, unmasked text frame of n
// bytes.
func appendHeader(b []byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 0x81, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0x81, 127), uint64(n))
	}
}
