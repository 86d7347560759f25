package sio

import (
	"sync"
	"time"
)

// serial runs tasks one at a time, in the order they were pushed, on a
// goroutine that exists only while there is work, and a moment after (see
// below): an idle socket costs no goroutine. A handler that blocks (on a
// database, or on an acknowledgement from the same client) delays only the
// later events of its own socket, while pings, acknowledgements and other
// namespaces keep flowing.
//
// An event that finds its socket's serial idle may run on the WebSocket
// reader instead (tryInline, Conn.runInline), which hands the reading to
// another goroutine if the handler takes long.
//
// When its tasks are done, the goroutine lingers a moment for more before
// it returns. Handlers (JSON, reflection) need more stack than a new
// goroutine starts with, and growing it means copying it: for a socket
// that sends events every few milliseconds, a goroutine per event spent a
// quarter of the server's CPU time on that.
type serial struct {
	mu        sync.Mutex
	tasks     []func()
	running   bool          // a goroutine runs the tasks, or lingers
	lingering bool          // it waits on wake for more
	last      bool          // the last task is queued: no lingering after it
	wake      chan struct{} // made by the first goroutine to linger
	slots     chan struct{} // bounds the events waiting, see push
	active    *tracker      // counts the running executors of a server
}

// serialLinger is how long an executor's goroutine waits for more tasks.
const serialLinger = 50 * time.Millisecond

func newSerial(maxPending int, active *tracker) *serial {
	return &serial{slots: make(chan struct{}, maxPending), active: active}
}

// push queues an event task. When maxPending are already waiting it blocks
// until one has run, or until done is closed (then the task is dropped):
// a client that sends faster than its handlers run is slowed down, through
// TCP, instead of growing the server's memory.
func (q *serial) push(f func(), done <-chan struct{}) {
	select {
	case q.slots <- struct{}{}:
	case <-done:
		return
	}
	q.pushControl(func() {
		<-q.slots
		f()
	})
}

// pushControl queues a task that never waits for a slot, such as the
// connection of a socket.
func (q *serial) pushControl(f func()) {
	q.pushTask(f, false)
}

// pushLast queues the last task, the end of a socket: once it has run, the
// goroutine returns at once.
func (q *serial) pushLast(f func()) {
	q.pushTask(f, true)
}

func (q *serial) pushTask(f func(), last bool) {
	q.mu.Lock()
	q.tasks = append(q.tasks, f)
	q.last = q.last || last
	if q.running {
		if q.lingering {
			q.lingering = false
			q.wake <- struct{}{} // buffered, and only the lingerer receives
		}
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	q.active.add(1)
	go q.run()
}

// tryInline reports whether the caller may run a task itself, now: nothing
// is queued or running. Until the caller's inlineDone, tasks pushed queue
// behind it.
func (q *serial) tryInline() bool {
	q.mu.Lock()
	ok := !q.running && !q.last
	if ok {
		q.running = true
	}
	q.mu.Unlock()
	if ok {
		q.active.add(1)
	}
	return ok
}

// inlineDone ends the caller's task: what was pushed meanwhile runs on a
// goroutine, as usual.
func (q *serial) inlineDone() {
	q.mu.Lock()
	if len(q.tasks) > 0 {
		q.mu.Unlock()
		go q.run() // inherits running, and the count in active
		return
	}
	q.running = false
	q.mu.Unlock()
	q.active.add(-1)
}

func (q *serial) run() {
	var linger *time.Timer
	lingered := false // and nothing came: return
	for {
		q.mu.Lock()
		if len(q.tasks) == 0 {
			if lingered || q.last {
				q.running = false
				q.tasks = nil
				q.wake = nil // an idle socket keeps no channel
				q.mu.Unlock()
				if linger != nil {
					linger.Stop()
				}
				q.active.add(-1)
				return
			}
			if q.wake == nil {
				q.wake = make(chan struct{}, 1)
			}
			q.lingering = true
			q.mu.Unlock()
			if linger == nil {
				linger = time.NewTimer(serialLinger)
			} else {
				linger.Reset(serialLinger)
			}
			select {
			case <-q.wake:
			case <-linger.C:
				q.mu.Lock()
				if q.lingering { // nothing came; else a wake is on its way
					q.lingering = false
					lingered = true
					q.mu.Unlock()
					continue
				}
				q.mu.Unlock()
				<-q.wake
			}
			continue
		}
		lingered = false
		f := q.tasks[0]
		q.tasks[0] = nil
		q.tasks = q.tasks[1:]
		q.mu.Unlock()
		f()
	}
}

// tracker counts goroutines so that a shutdown can wait for them. Unlike a
// sync.WaitGroup, it may go up again while someone waits.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n is 0; nil means no one waits
}

func (t *tracker) add(d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n += d
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// wait returns when the count is 0, or ctx's channel done is closed.
func (t *tracker) wait(done <-chan struct{}) bool {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return true
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-done:
		return false
	}
}
