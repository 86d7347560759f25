package sio

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Engine.IO interop tests run testdata/jsclient/eio.mjs, which drives
// the real npm engine.io-client, against an Engine echo server, in every
// transport mode, and check both what the client reports and what the
// server saw of the same session.

// interopTimeout bounds one run of eio.mjs. The machine running the tests
// may be small and busy, and -race slows the server down several times.
const interopTimeout = 30 * time.Second

// interopCloseWait bounds the wait for the server's close handler once the
// client has finished. It only matters when something is wrong: a client
// close normally reaches the server at once, and at worst the server's ping
// timeout ends the session.
const interopCloseWait = 10 * time.Second

// interopLinger is how long, in milliseconds, eio.mjs stays alive after it
// has passed. On long-polling, engine.io-client sends its close packet in a
// POST of its own once the socket is closed: a client that exited at once
// would lose it, and the server would see the end of the session only if a
// GET happened to be waiting (ReasonTransportClose), or else when the
// client missed a ping (ReasonPingTimeout).
const interopLinger = "300"

// interopConn is what the server saw of one session.
type interopConn struct {
	opened         time.Time // when the connection handler ran
	handshake      time.Time // Handshake().Time
	openTransport  Transport
	msgs           int // messages received, "close-me" included
	binaryMsgs     int
	bytes          int
	burstNext      int    // the next "burst:N" expected
	burstErr       string // the first out-of-order burst message
	reason         Reason
	closed         bool
	closedAt       time.Time
	closeTransport Transport
	done           chan struct{} // closed by the close handler
}

// interopServer is an Engine echo server that records, per session id,
// what it saw.
type interopServer struct {
	url string

	mu    sync.Mutex
	conns map[string]*interopConn
}

// startInteropServer serves an echo Engine at /engine.io/ on an
// httptest.Server, both closed when t ends. It closes a connection that
// sends the text "close-me" instead of echoing it.
func startInteropServer(t *testing.T, opts ...Option) *interopServer {
	t.Helper()
	s := &interopServer{conns: make(map[string]*interopConn)}
	eng := NewEngine(func(c *Conn) {
		ic := &interopConn{
			opened:        time.Now(),
			handshake:     c.Handshake().Time,
			openTransport: c.Transport(),
			done:          make(chan struct{}),
		}
		s.mu.Lock()
		s.conns[c.ID()] = ic
		s.mu.Unlock()
		c.OnMessage(func(m Message) {
			closeMe := !m.Binary && string(m.Data) == "close-me"
			s.mu.Lock()
			ic.msgs++
			ic.bytes += len(m.Data)
			if m.Binary {
				ic.binaryMsgs++
			} else if ic.burstErr == "" && len(m.Data) > 6 && string(m.Data[:6]) == "burst:" {
				if want := "burst:" + strconv.Itoa(ic.burstNext); string(m.Data) != want {
					ic.burstErr = fmt.Sprintf("got %q, want %q", m.Data, want)
				}
				ic.burstNext++
			}
			s.mu.Unlock()
			if closeMe {
				c.Close()
				return
			}
			if err := c.Send(m); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("server: Send on %s: %v", c.ID(), err)
			}
		})
		c.OnClose(func(r Reason) {
			now := time.Now()
			tr := c.Transport()
			s.mu.Lock()
			if ic.closed {
				s.mu.Unlock()
				t.Errorf("server: close handler of %s called twice (%q, then %q)", c.ID(), ic.reason, r)
				return
			}
			ic.closed, ic.reason, ic.closedAt, ic.closeTransport = true, r, now, tr
			s.mu.Unlock()
			close(ic.done)
		})
	}, opts...)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eng)
	srv := httptest.NewServer(mux)
	// Cleanups run last-in first-out: the engine ends its sessions, and so
	// its WebSocket handlers, before the HTTP server waits for its handlers.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { eng.Close() })
	s.url = srv.URL
	return s
}

// URL returns the server's base URL.
func (s *interopServer) URL() string { return s.url }

// view waits up to wait for the server's close handler to have run for sid
// and returns a copy of what the server saw of that session. It reports
// false if the server has no such session.
func (s *interopServer) view(sid string, wait time.Duration) (interopConn, bool) {
	s.mu.Lock()
	ic := s.conns[sid]
	s.mu.Unlock()
	if ic == nil {
		return interopConn{}, false
	}
	select {
	case <-ic.done:
	case <-time.After(wait):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return *ic, true
}

// closedConn waits until the server's close handler has run for sid and
// returns what the server saw of that session.
func (s *interopServer) closedConn(t *testing.T, sid string) interopConn {
	t.Helper()
	sc, ok := s.view(sid, interopCloseWait)
	if !ok {
		t.Fatalf("server: no connection with the client's sid %q", sid)
	}
	if !sc.closed {
		t.Fatalf("server: connection %s not closed %v after the client finished", sid, interopCloseWait)
	}
	return sc
}

// failed ends t after a failed run of eio.mjs, with the client's output and,
// when the client got as far as a session, what the server saw of it.
func (s *interopServer) failed(t *testing.T, what string, r nodeResult) {
	t.Helper()
	server := "server: no session"
	if opens := r.Events("open"); len(opens) == 1 {
		sid, _ := opens[0]["sid"].(string)
		if sc, ok := s.view(sid, 2*time.Second); !ok {
			server = fmt.Sprintf("server: no session %q", sid)
		} else if !sc.closed {
			server = fmt.Sprintf("server: session %s still open (%d messages received)", sid, sc.msgs)
		} else {
			server = fmt.Sprintf("server: session %s closed %v after open, %q on %s (%d messages received)",
				sid, sc.closedAt.Sub(sc.opened).Round(time.Millisecond), sc.reason, sc.closeTransport, sc.msgs)
		}
	}
	t.Fatalf("%s failed:\n%s%s", what, r, server)
}

// upgradeTooSlow reports whether a no-pong run failed only because the
// session ended before the client's upgrade completed.
func upgradeTooSlow(r nodeResult) bool {
	if len(r.Lines) == 0 {
		return false
	}
	reason, _ := r.Lines[len(r.Lines)-1]["reason"].(string)
	return reason == "the connection closed before the upgrade completed"
}

// clientSID returns the sid of the client's "open" line.
func clientSID(t *testing.T, r nodeResult) string {
	t.Helper()
	opens := r.Events("open")
	if len(opens) != 1 {
		t.Fatalf("client reported %d open events, want 1:\n%s", len(opens), r)
	}
	sid, _ := opens[0]["sid"].(string)
	if sid == "" {
		t.Fatalf("client reported no sid:\n%s", r)
	}
	return sid
}

// clientCount returns the numeric field key of the client's only line with
// the given event.
func clientCount(t *testing.T, r nodeResult, event, key string) int {
	t.Helper()
	ev := r.Events(event)
	if len(ev) != 1 {
		t.Fatalf("client reported %d %q events, want 1:\n%s", len(ev), event, r)
	}
	n, ok := ev[0][key].(float64)
	if !ok {
		t.Fatalf("client's %q event has no numeric %q:\n%s", event, key, r)
	}
	return int(n)
}

func TestEngineInterop(t *testing.T) {
	needNode(t)

	// Messages each scenario sends, as eio.mjs defines them (its defaults).
	const (
		textMsgs   = 15
		binaryMsgs = 11
		largeSize  = 900000 // under the default max payload, "4" or "b" and base64 included
		burstCount = 10000
	)
	// The 1 MiB messages, text and binary, go to a server whose max payload
	// is raised: a long-polling POST carries a binary message in base64,
	// 4/3 of its size. The client learns the limit from the open packet.
	const (
		mibSize       = 1 << 20
		mibMaxPayload = 2 << 20
	)
	scenarios := []string{"open", "text", "binary", "large", "large-1MiB-text", "large-1MiB-binary",
		"burst", "server-close", "upgrade-burst"}

	// Pings come often, so that they cross the data of every scenario, but
	// the client has plenty of time to answer: on a busy machine, under
	// -race, a pong can wait seconds behind 10,000 echoes or a 1 MiB POST.
	opts := []Option{WithPingInterval(300 * time.Millisecond), WithPingTimeout(5 * time.Second)}
	dflt := startInteropServer(t, opts...)
	big := startInteropServer(t, append(opts, WithMaxPayload(mibMaxPayload))...)
	for _, mode := range transportModes {
		openTr, finalTr := TransportPolling, TransportWebSocket
		switch mode {
		case "polling":
			finalTr = TransportPolling
		case "websocket":
			openTr = TransportWebSocket
		}
		for _, name := range scenarios {
			if name == "upgrade-burst" && mode != "upgrade" {
				continue
			}
			srv, args := dflt, []string{"--scenario", name}
			if kind, ok := strings.CutPrefix(name, "large-1MiB-"); ok {
				srv, args = big, []string{"--scenario", "large", "--size", strconv.Itoa(mibSize), "--kind", kind}
			}
			t.Run(mode+"/"+name, func(t *testing.T) {
				start := time.Now()
				r := runNode(t, interopTimeout, "eio.mjs", append([]string{"--url", srv.URL(), "--mode", mode,
					"--linger", interopLinger}, args...)...)
				if !r.Passed() {
					srv.failed(t, fmt.Sprintf("eio.mjs %s in %s mode (%v)", name, mode, time.Since(start)), r)
				}
				sid := clientSID(t, r)
				sc := srv.closedConn(t, sid)
				t.Logf("client %v; server: %d messages, closed %v after open (%q on %s)",
					time.Since(start).Round(time.Millisecond), sc.msgs,
					sc.closedAt.Sub(sc.opened).Round(time.Millisecond), sc.reason, sc.closeTransport)

				if sc.openTransport != openTr {
					t.Errorf("server: session opened on %s, want %s", sc.openTransport, openTr)
				}
				if sc.closeTransport != finalTr {
					t.Errorf("server: session closed on %s, want %s", sc.closeTransport, finalTr)
				}
				wantReason := ReasonTransportClose // the client closes
				if name == "server-close" {
					wantReason = ReasonForcedClose
				}
				if sc.reason != wantReason {
					t.Errorf("server: close reason %q, want %q", sc.reason, wantReason)
				}

				wantMsgs, wantBinary := 0, 0
				switch name {
				case "text":
					wantMsgs = textMsgs
				case "binary":
					wantMsgs, wantBinary = binaryMsgs, binaryMsgs
				case "large", "large-1MiB-text", "large-1MiB-binary":
					wantMsgs = 1
					size := largeSize
					if name != "large" {
						size = mibSize
					}
					if name == "large-1MiB-binary" {
						wantBinary = 1
					}
					if sc.bytes != size {
						t.Errorf("server: received %d bytes, want %d", sc.bytes, size)
					}
					// The client checked the echo, byte for byte.
					if ev := r.Events("echo"); len(ev) != 1 || ev[0]["size"] != float64(size) {
						t.Errorf("client: want one echo of %d bytes:\n%s", size, r)
					}
				case "burst":
					wantMsgs = burstCount
					if sc.burstErr != "" {
						t.Errorf("server: burst out of order: %s", sc.burstErr)
					}
					if sc.burstNext != burstCount {
						t.Errorf("server: received %d burst messages, want %d", sc.burstNext, burstCount)
					}
				case "server-close":
					wantMsgs = 1 // "close-me"
					closes := r.Events("close")
					if len(closes) != 1 {
						t.Fatalf("client: %d close events, want 1:\n%s", len(closes), r)
					}
					switch reason := closes[0]["reason"]; {
					case reason == "transport close":
					case reason == "transport error" && mode == "polling":
						// Conn.Close ends a polling session at once: when
						// no GET is waiting to carry a close packet, the
						// client's next GET finds the session gone and
						// gets HTTP 400. (Node's engine.io keeps the
						// session until that GET and answers it with a
						// close packet, so the client reports "transport
						// close".)
						t.Logf("client: close reported as %q (its next GET found the session gone)", reason)
					default:
						t.Errorf("client: close reason %q, want \"transport close\":\n%s", reason, r)
					}
				case "upgrade-burst":
					wantMsgs = clientCount(t, r, "sent", "count")
					wantBinary = wantMsgs / 3 // every third one, from the third
				}
				if sc.msgs != wantMsgs {
					t.Errorf("server: received %d messages, want %d", sc.msgs, wantMsgs)
				}
				if sc.binaryMsgs != wantBinary {
					t.Errorf("server: received %d binary messages, want %d", sc.binaryMsgs, wantBinary)
				}
				if name != "server-close" {
					closes := r.Events("close")
					if len(closes) != 1 || closes[0]["reason"] != "forced close" {
						t.Errorf("client: want one close event with reason \"forced close\":\n%s", r)
					}
				}
			})
		}
	}

	// A client that stops answering pings: the server must give up on it
	// ping interval + ping timeout after the handshake, whatever the
	// transport.
	const (
		pingInterval = 200 * time.Millisecond
		pingTimeout  = 300 * time.Millisecond
		deadline     = pingInterval + pingTimeout
		slack        = 400 * time.Millisecond // the machine may be busy
	)
	quiet := startInteropServer(t, WithPingInterval(pingInterval), WithPingTimeout(pingTimeout))
	for _, mode := range transportModes {
		t.Run(mode+"/no-pong", func(t *testing.T) {
			var r nodeResult
			for attempt := 1; ; attempt++ {
				r = runNode(t, interopTimeout, "eio.mjs", "--url", quiet.URL(), "--mode", mode, "--scenario", "no-pong")
				// The server gives up half a second after the handshake:
				// on a starved machine, the client may not have completed
				// its upgrade by then. The server is not at fault; try
				// again, a few times.
				if r.Passed() || mode != "upgrade" || attempt == 3 || !upgradeTooSlow(r) {
					break
				}
				t.Logf("attempt %d: the server closed the session before the client's upgrade completed; retrying", attempt)
			}
			if !r.Passed() {
				quiet.failed(t, "eio.mjs no-pong in "+mode+" mode", r)
			}
			sid := clientSID(t, r)
			sc := quiet.closedConn(t, sid)
			elapsed := sc.closedAt.Sub(sc.opened)
			t.Logf("server closed %v after open, %v after the handshake (%q on %s)",
				elapsed.Round(time.Millisecond), sc.closedAt.Sub(sc.handshake).Round(time.Millisecond),
				sc.reason, sc.closeTransport)
			if sc.reason != ReasonPingTimeout {
				t.Errorf("server: close reason %q, want %q:\n%s", sc.reason, ReasonPingTimeout, r)
			}
			// The deadline counts from the handshake, which comes just
			// before the connection handler runs.
			if since := sc.closedAt.Sub(sc.handshake); since < deadline {
				t.Errorf("server: closed %v after the handshake, before the ping deadline %v", since, deadline)
			}
			if elapsed > deadline+slack {
				t.Errorf("server: closed %v after open, want at most %v (+%v slack)", elapsed, deadline, slack)
			}
			want := TransportWebSocket
			if mode == "polling" {
				want = TransportPolling
			}
			if sc.closeTransport != want {
				t.Errorf("server: session closed on %s, want %s", sc.closeTransport, want)
			}
			if ev := r.Events("no-pong-closed"); len(ev) != 1 {
				t.Errorf("client: no no-pong-closed event:\n%s", r)
			} else {
				t.Logf("client: closed %vms after open (%q), %v pings, %v pongs dropped",
					ev[0]["ms"], ev[0]["reason"], ev[0]["pings"], ev[0]["dropped"])
			}
		})
	}
}
