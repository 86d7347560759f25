package sio

import (
	"bytes"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// idleGoroutines returns the ids of the goroutines whose stack holds fn.
func idleGoroutines(fn string) []uint64 {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var ids []uint64
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if !bytes.Contains(g, []byte(fn)) {
			continue
		}
		f := bytes.Fields(g) // "goroutine", id, "[state]:", ...
		if len(f) > 1 {
			if id, err := strconv.ParseUint(string(f[1]), 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// TestIdleReaderHandOff checks that a WebSocket reader which has handled
// messages and then waits readerIdle hands its waiting to a new goroutine
// (whose stack is small), and that the connection works as before.
func TestIdleReaderHandOff(t *testing.T) {
	rs := relStart(t, WithPingInterval(time.Minute), WithPingTimeout(time.Minute))
	c := rs.dial(t, "websocket")
	if err := c.echo("/", `"before"`); err != nil {
		t.Fatal(err)
	}
	const reader = "sio.(*Conn).readLoop"
	before := idleGoroutines(reader)
	if len(before) != 1 {
		t.Fatalf("%d reader goroutines; want 1", len(before))
	}
	waitUntil(t, "the idle reader to hand off to a new goroutine", func() bool {
		after := idleGoroutines(reader)
		return len(after) == 1 && after[0] != before[0]
	})
	if err := c.echo("/", `"after"`); err != nil {
		t.Fatalf("echo after the hand-off: %v", err)
	}
	// A busy reader keeps its goroutine: messages closer than readerIdle.
	busy := idleGoroutines(reader)
	for range 3 {
		time.Sleep(readerIdle / 4)
		if err := c.echo("/", `"busy"`); err != nil {
			t.Fatal(err)
		}
	}
	if now := idleGoroutines(reader); !slices.Equal(now, busy) {
		t.Errorf("reader goroutines %v after messages every %v; want still %v", now, readerIdle/4, busy)
	}
}

// TestSerialLinger checks that an executor's goroutine runs tasks pushed
// within serialLinger of each other, and returns once none comes.
func TestSerialLinger(t *testing.T) {
	var active tracker
	q := newSerial(8, &active)
	ids := make(chan uint64, 2)
	task := func() {
		id := idleGoroutines("sio.(*serial).run")
		if len(id) != 1 {
			t.Errorf("%d executor goroutines; want 1", len(id))
			id = append(id, 0)
		}
		ids <- id[0]
	}
	q.pushControl(task)
	first := <-ids
	time.Sleep(serialLinger / 5)
	q.pushControl(task)
	if second := <-ids; second != first {
		t.Errorf("a task pushed %v after the last one ran on goroutine %d, not on the lingering %d", serialLinger/5, second, first)
	}
	var done atomic.Bool
	go func() { active.wait(nil); done.Store(true) }()
	waitUntil(t, "the executor to return after its linger", func() bool {
		return done.Load() && len(idleGoroutines("sio.(*serial).run")) == 0
	})
	// The last task: no lingering after it.
	ran := make(chan struct{})
	q.pushLast(func() { close(ran) })
	<-ran
	start := time.Now()
	for len(idleGoroutines("sio.(*serial).run")) != 0 {
		if time.Since(start) > serialLinger/2 {
			t.Fatalf("the executor lingers after the last task")
		}
		time.Sleep(time.Millisecond)
	}
}
