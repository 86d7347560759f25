package sio

import "sync"

// serial runs tasks one at a time, in the order they were pushed, on a
// goroutine that exists only while there is work: an idle socket costs no
// goroutine. Event handlers run here, not in the connection's reader, so a
// handler that blocks (on a database, or on an acknowledgement from the
// same client) delays only the later events of its own socket, while pings,
// acknowledgements and other namespaces keep flowing.
type serial struct {
	mu      sync.Mutex
	tasks   []func()
	running bool
	slots   chan struct{} // bounds the events waiting, see push
	active  *tracker      // counts the running executors of a server
}

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

// pushControl queues a task that never waits for a slot, such as the end
// of a socket.
func (q *serial) pushControl(f func()) {
	q.mu.Lock()
	q.tasks = append(q.tasks, f)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	q.active.add(1)
	go q.run()
}

func (q *serial) run() {
	for {
		q.mu.Lock()
		if len(q.tasks) == 0 {
			q.running = false
			q.tasks = nil
			q.mu.Unlock()
			q.active.add(-1)
			return
		}
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
