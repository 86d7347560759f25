package sio

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket. Each packet travels in a frame of its own: text packets as
// text frames (type digit, then data), binary messages as binary frames.
//
// gorilla/websocket does the opening handshake; sio reads and writes the
// frames itself. A connection's reader is a goroutine of its own, started
// when the handshake is over, so that the HTTP handler returns and the
// request is not kept; it reads with a wsReader (wsread.go). Whatever is
// queued is written by one of the Engine's flushers (flusher.go), which
// frames everything queued at once and hands it to the kernel in one
// write(2) that does not wait (writeNow), so a busy connection costs one
// system call per batch rather than per packet, and an idle one costs no
// goroutine. A connection whose kernel buffer is full, or that has no
// descriptor to write without waiting (TLS, or not on Unix), gets a writer
// goroutine of its own (flush) while its queue has something, which may
// wait, and writes with writev. Frames are written by hand (server frames
// are unmasked and sio asks for no compression), under wsMu, which the few
// control frames (pong, close) take too.

// readerIdle is how long a WebSocket reader waits for a message before it
// hands the waiting to a goroutine with a smaller stack; see readLoop.
const readerIdle = time.Second

// runWebSocket starts serving an open session over its WebSocket, read
// with rd, and returns. The caller has counted it in e.handlers; the reader
// marks it done once the session has ended and its last writer has
// returned.
func (e *Engine) runWebSocket(c *Conn, rd *wsReader) {
	c.rd = rd
	go c.readLoop()
}

// newWSReader returns a reader of nc's frames for c, which answers pings.
func (c *Conn) newWSReader(nc net.Conn) *wsReader {
	return newWSReader(nc, c.e.cfg.maxPayload, func(payload []byte) error {
		return c.writeFrame(nc, opPong, payload, time.Second)
	})
}

// serveUpgrade takes a WebSocket that asks to carry an existing long-polling
// session: the client probes it ("2probe", answered "3probe"), then switches
// to it ("5"). Meanwhile the session goes on over long-polling; a waiting
// GET is released with a noop once the probe is answered, so the client can
// pause polling. Anything else, or no switch within the upgrade timeout,
// closes the WebSocket and leaves the session as it was.
func (e *Engine) serveUpgrade(w http.ResponseWriter, r *http.Request, c *Conn) {
	if !e.track() {
		httpError(w, codeUnknownSID, "")
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			e.handlers.Done()
		}
	}()
	c.mu.Lock()
	ok := e.cfg.allowUpgrades && c.state == stateOpen && c.transport == TransportPolling && c.upgrade == upgradeNone
	if ok {
		c.upgrade = upgradeStarted
	}
	c.mu.Unlock()
	ws, err := e.upgrader().Upgrade(w, r, nil)
	if err == nil && !ok {
		// A session already on WebSocket, or already upgrading, keeps its
		// transport: close this one, as Node does.
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		ws.Close()
		return
	}
	if err == nil {
		nc := ws.NetConn()
		rd := c.newWSReader(nc)
		if c.probe(nc, rd) {
			handedOff = true
			e.runWebSocket(c, rd)
			return
		}
		nc.Close()
	}
	if !ok {
		return
	}
	c.mu.Lock()
	if c.transport == TransportPolling {
		c.upgrade = upgradeNone
	}
	c.mu.Unlock()
}

// probe runs the upgrade handshake on nc. It reports whether the session
// now uses nc.
func (c *Conn) probe(nc net.Conn, rd *wsReader) bool {
	e := c.e
	stop := context.AfterFunc(c.ctx, func() { nc.Close() })
	defer stop()
	nc.SetReadDeadline(time.Now().Add(e.cfg.upgradeTimeout))
	for {
		op, data, err := rd.next()
		if err != nil || op != opText {
			return false
		}
		p, err := decodePacket(data)
		if err != nil {
			return false
		}
		switch {
		case p.typ == packetPing && string(p.data) == "probe":
			if c.writeFrame(nc, opText, []byte("3probe"), e.cfg.writeTimeout) != nil {
				return false
			}
			c.mu.Lock()
			c.upgrade = upgradeProbed
			c.wakeLocked()
			c.mu.Unlock()
		case p.typ == packetUpgrade:
			c.mu.Lock()
			if c.state == stateClosed {
				c.mu.Unlock()
				return false
			}
			c.transport = TransportWebSocket
			c.upgrade = upgradeNone
			c.useWSLocked(nc)
			select { // release a waiting GET, which answers a noop
			case c.pollWake <- struct{}{}:
			default:
			}
			c.wakeLocked()
			c.mu.Unlock()
			nc.SetReadDeadline(time.Time{})
			c.log().Debug("engine.io session upgraded to websocket")
			return true
		default:
			return false
		}
	}
}

// readLoop reads messages until the connection fails or the session ends,
// then waits for the writers and marks the session's handler done.
//
// An idle connection costs little more than the goroutine that waits here
// for its next message, and the size of that goroutine's stack. Handling a
// message (decoding JSON, running the Socket.IO layer) grows the stack to
// 4 KiB or more, and the runtime never shrinks the stack of a goroutine
// that waits on the network below 4 KiB. So a reader that has handled
// messages and then waits readerIdle for the next one hands the waiting
// to a new goroutine, which starts with the runtime's smallest stack
// (2 KiB) and waits a few small frames deep: half the memory per idle
// connection. A busy connection keeps its reader, and its grown stack,
// which it would otherwise grow again, copying it, for every message.
//
// The reader also runs event handlers itself when it can (runInline), and
// hands the reading to a new goroutine when one holds it too long.
func (c *Conn) readLoop() {
	rd := c.rd
	handled := false
	for {
		var err error
		if handled && rd.r == rd.w {
			rd.nc.SetReadDeadline(time.Now().Add(readerIdle))
			err = rd.fill(1)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				rd.nc.SetReadDeadline(time.Time{})
				go c.readLoop()
				return
			}
			rd.nc.SetReadDeadline(time.Time{})
		} else {
			err = rd.fill(1)
		}
		var (
			op   byte
			data []byte
		)
		handled = true
		if err == nil {
			op, data, err = rd.next()
		}
		if err != nil {
			c.readFailed(err)
			break
		}
		deferred, ok := c.receiveWS(op, data)
		if deferred != nil && !c.runInline(deferred) {
			return // another goroutine reads now
		}
		if !ok {
			break
		}
	}
	c.writers.Wait()
	c.e.handlers.Done()
}

// inlineWatch is how long an event handler may hold the WebSocket reader
// before another goroutine takes over the reading. A variable so that a
// test can show that EmitWithAck does not depend on it.
var inlineWatch = 2 * time.Millisecond

// mayDefer reports whether the WebSocket reader is dispatching and has
// nothing to run after: then deferToReader may give it something. Both
// need c.recvMu, which the dispatch holds.
//
// An event handler that runs on the reader saves the hand-off to another
// goroutine; see runInline for what keeps a long one from stalling the
// connection.
func (c *Conn) mayDefer() bool {
	return c.inlining && c.deferred == nil
}

// deferToReader has the WebSocket reader run f once the dispatch is over.
func (c *Conn) deferToReader(f func()) {
	c.deferred = f
}

// runInline runs f on the reader. If f has not returned after inlineWatch,
// or calls releaseReader sooner (to wait for an acknowledgement), a new
// goroutine takes over the reading, so that pings, acknowledgements and the
// client's other namespaces keep flowing; runInline then reports false, and
// its goroutine, once f returns, is no longer the reader.
func (c *Conn) runInline(f func()) bool {
	gen := c.inline.Add(1) // odd: f holds the reader
	if c.watch == nil {
		c.watch = time.AfterFunc(inlineWatch, c.releaseReader)
	} else {
		c.watch.Reset(inlineWatch)
	}
	f()
	if !c.inline.CompareAndSwap(gen, gen+1) {
		return false // released: the timer is the new reader's now
	}
	c.watch.Stop()
	return true
}

// releaseReader starts a new reader if a handler holds the current one. A
// handler calls it before it waits for the client.
func (c *Conn) releaseReader() {
	if gen := c.inline.Load(); gen%2 == 1 && c.inline.CompareAndSwap(gen, gen+1) {
		go c.readLoop()
	}
}

// receiveWS handles one message, and reports whether to read on. It
// returns what the reader is to run after it (see deferToReader).
func (c *Conn) receiveWS(op byte, data []byte) (deferred func(), ok bool) {
	if op == opBinary {
		return c.dispatchFrom(Message{Data: data, Binary: true}, true), true
	}
	p, err := decodePacket(data)
	if err != nil {
		c.log().Debug("bad websocket packet", "err", err)
		c.closeWith(ReasonParseError, 0)
		return nil, false
	}
	if p.typ == packetMessage {
		return c.dispatchFrom(Message{Data: p.data, Binary: p.binary}, true), true
	}
	c.handlePacket(p)
	return nil, true
}

// readFailed ends the session after reading failed: the client closed the
// connection or sent a close frame (transport close), or it broke the
// protocol or the size limit (transport error).
func (c *Conn) readFailed(err error) {
	reason := ReasonTransportClose
	if errors.Is(err, errWSTooBig) || errors.Is(err, errWSProtocol) {
		reason = ReasonTransportError
	}
	if !errorsIsClosed(err) {
		c.log().Debug("websocket read failed", "err", err)
	}
	c.closeWith(reason, 0)
}

// Opcodes of the frames sio writes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xA
)

// appendFrameHeader appends the header of a final, unmasked frame.
func appendFrameHeader(b []byte, opcode byte, n int) []byte {
	b = append(b, 0x80|opcode)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// closeNormal is the payload of sio's close frames: status 1000, normal
// closure.
var closeNormal = []byte{0x03, 0xE8}

// useWSLocked makes nc the session's connection, written by one of the
// Engine's flushers if the kernel can be asked to take bytes without
// waiting on it. It needs c.mu.
func (c *Conn) useWSLocked(nc net.Conn) {
	c.ws = nc
	if sc, ok := nc.(syscall.Conn); ok && writeNowSupported {
		if raw, err := sc.SyscallConn(); err == nil {
			c.wsRaw = raw
			c.fl = &c.e.flushers[c.e.next.Add(1)%uint32(len(c.e.flushers))]
		}
	}
}

// startWriterLocked has the queue written, unless a writer is at work: by
// the connection's flusher if it has one, else by a new writer goroutine.
// It needs c.mu.
func (c *Conn) startWriterLocked() {
	if c.writing || c.ws == nil || c.state == stateClosed {
		return
	}
	c.writing = true
	c.writers.Add(1)
	if c.fl != nil {
		c.fl.add(c)
		return
	}
	c.e.writerStarts.Add(1)
	go c.flush(c.ws, nil)
}

// writeNow is a flusher's turn at the queue: it writes what is queued as
// far as the kernel takes it without waiting. If more was queued
// meanwhile, the connection goes back on the list for another turn; if
// the kernel did not take everything, or the batch closes the connection,
// a writer goroutine takes over, which may wait.
func (c *Conn) writeNow() {
	nc, raw := c.ws, c.wsRaw // set before c was first listed, and not since
	sc := scratchPool.Get().(*frameScratch)
	batch := c.nextBatch()
	if batch == nil {
		scratchPool.Put(sc)
		c.writers.Done()
		return
	}
	sc.frame(batch)
	if sc.closing || !c.tryWrite(nc, raw, sc) {
		c.e.writerStarts.Add(1)
		go c.flush(nc, sc)
		return
	}
	sc.reset()
	scratchPool.Put(sc)
	if c.moreQueued() {
		c.fl.add(c) // still its writer
		return
	}
	c.writers.Done()
}

// moreQueued reports whether something was queued while the writer wrote;
// if not, the writer is done.
func (c *Conn) moreQueued() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 || c.state == stateClosed {
		c.writing = false
		return false
	}
	return true
}

// flush writes what is left of sc, if it is given, then the queue until it
// is empty, and returns.
//
// It runs in a new goroutine, whose stack starts at 2 KiB: the frames on
// the way to the writev (flush, writeBuffers, then net's and the poller's)
// are kept small enough for it, so that a writer never has its stack grown
// and copied, which cost more than a tenth of a broadcast's CPU time.
func (c *Conn) flush(nc net.Conn, sc *frameScratch) {
	if sc == nil {
		sc = scratchPool.Get().(*frameScratch)
	}
	for {
		if len(sc.out) == 0 {
			batch := c.nextBatch()
			if batch == nil {
				break
			}
			sc.frame(batch)
		}
		err := c.writeBuffers(nc, sc)
		closing := sc.closing
		sc.reset()
		if err != nil {
			c.writeFailed(err)
			break
		}
		if closing {
			c.finish()
			break
		}
	}
	scratchPool.Put(sc)
	c.writers.Done()
}

// nextBatch takes what is queued, or reports nil, and the writer is done,
// when nothing is or the session has ended.
func (c *Conn) nextBatch() []packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	batch := c.takeLocked()
	if len(batch) == 0 || c.state == stateClosed {
		c.writing = false
		return nil
	}
	return batch
}

// writeFailed ends the session after a failed write.
func (c *Conn) writeFailed(err error) {
	reason := ReasonTransportClose // the peer closed; the reader may say so first
	if !errorsIsClosed(err) {
		c.log().Debug("websocket write failed", "err", err)
		reason = ReasonTransportError
	}
	c.closeWith(reason, 0) // first: no new writer may follow a broken frame
	c.mu.Lock()
	c.writing = false
	c.mu.Unlock()
}

// frameScratch is a writer's working memory, pooled so that an idle
// connection holds none.
type frameScratch struct {
	hdr     []byte
	ends    []int
	bufs    net.Buffers // the frames of a batch
	out     net.Buffers // what is left to write of them
	flat    []byte      // the frames in one piece, for tryWrite
	closing bool        // the batch ends with a close packet
	holding bool        // a partial write left c.wsMu locked, for the next writeBuffers

	// tryWrite's write(2) of flat, for syscall.RawConn.Write, and its
	// results.
	writeFD func(fd uintptr) bool
	wn      int
	werr    error
}

var scratchPool = sync.Pool{New: func() any { return new(frameScratch) }}

// frame lays out a batch of packets as WebSocket frames in sc.bufs, all of
// them left to write.
func (sc *frameScratch) frame(batch []packet) {
	hdr, ends := sc.hdr[:0], sc.ends[:0]
	closing := false
	for _, p := range batch {
		if p.binary {
			hdr = appendFrameHeader(hdr, opBinary, len(p.data))
		} else {
			hdr = append(appendFrameHeader(hdr, opText, 1+len(p.data)), byte(p.typ))
		}
		ends = append(ends, len(hdr))
		closing = closing || p.typ == packetClose
	}
	bufs, start := sc.bufs[:0], 0
	for i, p := range batch {
		bufs = append(bufs, hdr[start:ends[i]])
		if len(p.data) > 0 {
			bufs = append(bufs, p.data)
		}
		start = ends[i]
	}
	sc.hdr, sc.ends, sc.bufs, sc.out, sc.closing = hdr, ends, bufs, bufs, closing
}

// consume drops the first n bytes of what is left to write.
func (sc *frameScratch) consume(n int) {
	for n > 0 && len(sc.out) > 0 {
		if n < len(sc.out[0]) {
			sc.out[0] = sc.out[0][n:]
			return
		}
		n -= len(sc.out[0])
		sc.out = sc.out[1:]
	}
}

// reset drops the references to the batch's data.
func (sc *frameScratch) reset() {
	clear(sc.bufs)
	sc.hdr, sc.ends, sc.bufs, sc.out, sc.closing = sc.hdr[:0], sc.ends[:0], sc.bufs[:0], nil, false
}

// writeBuffers writes what is left of sc's frames in one writev.
func (c *Conn) writeBuffers(nc net.Conn, sc *frameScratch) error {
	if sc.holding { // the rest of a partial write: the lock came with sc
		sc.holding = false
	} else {
		c.wsMu.Lock()
	}
	c.renewDeadlineLocked(nc)
	_, err := sc.out.WriteTo(nc) // consumes sc.out
	c.wsMu.Unlock()
	return err
}

// renewDeadlineLocked moves the write deadline only once less than half of
// the write timeout is left of it, not before every batch (each move is a
// timer update): a batch may then fail after between half the write
// timeout and all of it. It needs c.wsMu.
func (c *Conn) renewDeadlineLocked(nc net.Conn) {
	timeout := c.e.cfg.writeTimeout
	if now := time.Now(); c.wsDue.Sub(now) < timeout/2 {
		c.wsDue = now.Add(timeout)
		nc.SetWriteDeadline(c.wsDue)
	}
}

// writeFrame writes one frame, between batches, within timeout.
func (c *Conn) writeFrame(nc net.Conn, opcode byte, payload []byte, timeout time.Duration) error {
	frame := append(appendFrameHeader(make([]byte, 0, 10+len(payload)), opcode, len(payload)), payload...)
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	c.wsDue = time.Now().Add(timeout)
	nc.SetWriteDeadline(c.wsDue)
	_, err := nc.Write(frame)
	return err
}
