package sio

import "sync"

// A flusher writes the WebSocket queues of many connections from one
// goroutine. An Engine has one flusher per core (GOMAXPROCS when it was
// made), and each connection whose descriptor allows writing without
// waiting is given one of them (see useWSLocked).
//
// A send that finds its connection with nothing queued and no writer at
// work puts the connection on its flusher's list, and starts the flusher's
// goroutine if it is not running. The flusher takes each listed
// connection's queue and writes it with one non-blocking write(2), as far
// as the kernel takes it at once (writeNow); a connection with more queued
// by then goes back on the list. Only a connection the kernel makes wait
// gets a writer goroutine of its own (flush), which may block.
//
// Against a writer goroutine per connection, this starts one goroutine per
// burst of sends rather than one per receiver: a broadcast to a room walks
// the room's sockets in one loop, as Node's server does. Against writing
// from the sender itself, it keeps the batching that makes a busy server
// cheaper per packet: whatever is queued for a connection until the
// flusher's turn at it (several broadcasts, or the replies to several
// events read at once) goes out in the same write. On a quiet server the
// flusher runs as soon as the sender yields its core, so that costs only
// one goroutine switch.
type flusher struct {
	mu      sync.Mutex
	list    []*Conn // connections waiting for their turn
	spare   []*Conn // the list being written, then the next list's storage
	running bool    // a goroutine is working through the list
}

// add puts c on the list, for a turn at its queue. The caller has made
// the flusher c's writer (c.writing, c.writers).
func (f *flusher) add(c *Conn) {
	f.mu.Lock()
	f.list = append(f.list, c)
	if f.running {
		f.mu.Unlock()
		return
	}
	f.running = true
	f.mu.Unlock()
	go f.run()
}

// run gives every listed connection its turn, in the order listed, until
// the list stays empty.
func (f *flusher) run() {
	for {
		f.mu.Lock()
		list := f.list
		if len(list) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.list, f.spare = f.spare[:0], list
		f.mu.Unlock()
		for _, c := range list {
			c.writeNow()
		}
		clear(list)
		if cap(list) > maxPooledSet { // do not keep a crowd's list for good
			f.spare = nil
		}
	}
}
