package sio

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestSerialHeldHandler checks what a handler that does not return holds up:
// the later events of its own socket, and nothing else. Over WebSocket the
// handler starts on the connection's reader (Conn.runInline), which must
// then hand the reading to another goroutine: the client's other namespace
// keeps answering, pings keep being answered for several ping timeouts, and
// a handler of the other namespace gets its acknowledgement from the client.
// Once released, the held socket's events run, in the order sent.
func TestSerialHeldHandler(t *testing.T) {
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		t.Run(mode, func(t *testing.T) {
			rs := relStart(t, WithPingInterval(40*time.Millisecond), WithPingTimeout(200*time.Millisecond))
			var (
				mu    sync.Mutex
				order []string
			)
			record := func(s string) {
				mu.Lock()
				order = append(order, s)
				mu.Unlock()
			}
			recorded := func() []string {
				mu.Lock()
				defer mu.Unlock()
				return slices.Clone(order)
			}
			release := make(chan struct{})
			var releaseOnce sync.Once
			free := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(free) // before the server closes, if the test fails
			main := rs.ns("/")
			On(main, "hold", func(ctx context.Context, s *Socket, _ any) {
				record("hold")
				<-release
				record("held")
			})
			On(main, "seq", func(ctx context.Context, s *Socket, v int) { record("seq" + strconv.Itoa(v)) })
			asked := serialOnAsk(rs.ns("/other"))

			c := rs.dial(t, mode)
			if _, err := c.connect("/other"); err != nil {
				t.Fatal(err)
			}
			conn := rs.conn(c.sid)
			serialExecutorsIdle(t, rs)
			if err := c.sendOK(relText(`42["hold"]`), relText(`42["seq",1]`), relText(`42["seq",2]`)); err != nil {
				t.Fatal(err)
			}
			relWaitUntil(t, "hold runs", func() bool { return len(recorded()) > 0 })

			// Five ping timeouts: the session must stay up, and the other
			// namespace must keep answering.
			for until := time.Now().Add(time.Second); time.Now().Before(until); {
				if err := c.echo("/other", `"x"`); err != nil {
					t.Fatal(err)
				}
			}
			serialAsk(t, c, "/other", asked)
			rs.expectOpen(t, c.sid)
			if got := recorded(); !slices.Equal(got, []string{"hold"}) {
				t.Fatalf("while hold runs, the socket handled %v; want only hold", got)
			}

			free()
			relWaitUntil(t, "the held events run", func() bool { return len(recorded()) == 4 })
			if got, want := recorded(), []string{"hold", "held", "seq1", "seq2"}; !slices.Equal(got, want) {
				t.Fatalf("handled %v; want %v", got, want)
			}
			if err := c.echo("/", `"after"`); err != nil {
				t.Fatal(err)
			}
			// Over WebSocket, events ran on the reader, and hold was
			// handed over: gen counts two steps for each.
			gen := conn.inline.Load()
			if mode == "polling" && gen != 0 {
				t.Fatalf("a polling session ran %d events on a reader", gen/2)
			}
			if mode != "polling" && gen < 2 {
				t.Fatalf("no event ran on the WebSocket reader (gen %d)", gen)
			}
		})
	}
}

// TestSerialEmitWithAckOnReader checks that a handler running on the
// WebSocket reader hands the reading on as soon as it waits in EmitWithAck,
// not only when the reader's timer fires: with the timer set to an hour, the
// client's acknowledgement must still be read.
func TestSerialEmitWithAckOnReader(t *testing.T) {
	saved := inlineWatch
	inlineWatch = time.Hour
	t.Cleanup(func() { inlineWatch = saved })
	for _, mode := range []string{"websocket", "upgrade"} {
		t.Run(mode, func(t *testing.T) {
			rs := relStart(t)
			asked := serialOnAsk(rs.ns("/"))
			c := rs.dial(t, mode)
			conn := rs.conn(c.sid)
			serialExecutorsIdle(t, rs)
			serialAsk(t, c, "/", asked)
			if gen := conn.inline.Load(); gen < 2 {
				t.Fatalf("ask did not run on the reader (gen %d)", gen)
			}
		})
	}
}

// serialOnAsk has ns handle "ask": the handler asks its client "question"
// with EmitWithAck and sends the answer, or the error, on the channel
// returned.
func serialOnAsk(ns *Namespace) <-chan string {
	asked := make(chan string, 1)
	On(ns, "ask", func(ctx context.Context, s *Socket, _ any) {
		a, err := s.EmitWithAck(ctx, "question")
		var answer string
		if err == nil {
			err = a.Decode(0, &answer)
		}
		if err != nil {
			answer = err.Error()
		}
		asked <- answer
	})
	return asked
}

// serialAsk has client c send "ask" in namespace nsp, answers the question
// the handler then asks with "answer", and checks that the handler's
// EmitWithAck returned it.
func serialAsk(t *testing.T, c *relClient, nsp string, asked <-chan string) {
	t.Helper()
	if err := c.sendOK(relText("42" + relNsp(nsp) + `["ask"]`)); err != nil {
		t.Fatal(err)
	}
	f, err := c.nextMsg()
	if err != nil {
		t.Fatal(err)
	}
	var id int
	if _, err := fmt.Sscanf(f.text, "42"+relNsp(nsp)+`%d["question"]`, &id); err != nil {
		t.Fatalf("got %v; want 42%s<id>[\"question\"]", f, relNsp(nsp))
	}
	if err := c.sendOK(relText(fmt.Sprintf("43%s%d[\"answer\"]", relNsp(nsp), id))); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-asked:
		if a != "answer" {
			t.Fatalf("EmitWithAck from a handler got %q; want answer", a)
		}
	case <-time.After(relWait):
		t.Fatal("EmitWithAck from a handler did not return: was the reader handed on?")
	}
}

// serialExecutorsIdle waits until no socket executor runs. The CONNECTs
// run on the sockets' executors, which linger a moment: once they are
// gone, an event may run on the reader.
func serialExecutorsIdle(t *testing.T, rs *relServer) {
	t.Helper()
	relWaitUntil(t, "the executors are idle", func() bool {
		rs.srv.running.mu.Lock()
		defer rs.srv.running.mu.Unlock()
		return rs.srv.running.n == 0
	})
}
