package sio

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket. Each packet travels in a frame of its own: text packets as
// text frames (type digit, then data), binary messages as binary frames.
//
// A connection's reader is a goroutine of its own, started when the
// handshake is over, so that the HTTP handler returns and the request is
// not kept. Its writer exists only while the session's queue has
// something: it frames everything queued at once and hands it to the
// kernel in one writev, so a busy connection costs one system call per
// batch rather than per packet, and an idle one costs no writer goroutine.
// Frames are written by hand (server frames are unmasked and sio asks for
// no compression), under wsMu, which the few control frames (pong, close)
// take too.

// runWebSocket starts serving an open session over ws and returns. The
// caller has counted it in e.handlers; the reader marks it done once the
// session has ended and its last writer has returned.
func (e *Engine) runWebSocket(c *Conn, ws *websocket.Conn) {
	ws.SetReadLimit(int64(e.cfg.maxPayload))
	ws.SetPingHandler(func(data string) error {
		return c.writeControl(ws, opPong, []byte(data))
	})
	ws.SetCloseHandler(func(code int, text string) error {
		c.writeControl(ws, opClose, closePayload(websocket.CloseNormalClosure))
		return nil
	})
	go func() {
		defer e.handlers.Done()
		c.readLoop(ws)
		c.writers.Wait()
	}()
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
	if err == nil && c.probe(ws) {
		handedOff = true
		e.runWebSocket(c, ws)
		return
	}
	if ws != nil {
		ws.Close()
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

// probe runs the upgrade handshake on ws. It reports whether the session
// now uses ws.
func (c *Conn) probe(ws *websocket.Conn) bool {
	e := c.e
	stop := context.AfterFunc(c.ctx, func() { ws.Close() })
	defer stop()
	ws.SetReadLimit(int64(e.cfg.maxPayload))
	ws.SetReadDeadline(time.Now().Add(e.cfg.upgradeTimeout))
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil || mt != websocket.TextMessage {
			return false
		}
		p, err := decodePacket(data)
		if err != nil {
			return false
		}
		switch {
		case p.typ == packetPing && string(p.data) == "probe":
			ws.SetWriteDeadline(time.Now().Add(e.cfg.writeTimeout))
			if ws.WriteMessage(websocket.TextMessage, []byte("3probe")) != nil {
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
			c.ws = ws
			select { // release a waiting GET, which answers a noop
			case c.pollWake <- struct{}{}:
			default:
			}
			c.wakeLocked()
			c.mu.Unlock()
			ws.SetReadDeadline(time.Time{})
			c.log.Debug("engine.io session upgraded to websocket")
			return true
		default:
			return false
		}
	}
}

// readLoop reads frames until the connection fails or the session ends.
func (c *Conn) readLoop(ws *websocket.Conn) {
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			reason := ReasonTransportClose
			if errors.Is(err, websocket.ErrReadLimit) {
				reason = ReasonTransportError
			}
			if !errorsIsClosed(err) {
				c.log.Debug("websocket read failed", "err", err)
			}
			c.closeWith(reason, 0)
			return
		}
		if mt == websocket.BinaryMessage {
			c.dispatch(Message{Data: data, Binary: true})
			continue
		}
		p, err := decodePacket(data)
		if err != nil {
			c.log.Debug("bad websocket packet", "err", err)
			c.closeWith(ReasonParseError, 0)
			return
		}
		c.handlePacket(p)
	}
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

func closePayload(code int) []byte { return []byte{byte(code >> 8), byte(code)} }

// startWriterLocked starts a writer for the queue, unless one is running.
// It needs c.mu.
func (c *Conn) startWriterLocked() {
	if c.writing || c.ws == nil || c.state == stateClosed {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.flush(c.ws)
}

// flush writes the queue to ws until it is empty, then returns.
func (c *Conn) flush(ws *websocket.Conn) {
	defer c.writers.Done()
	sc := scratchPool.Get().(*frameScratch)
	defer scratchPool.Put(sc)
	for {
		c.mu.Lock()
		batch := c.takeLocked()
		if len(batch) == 0 || c.state == stateClosed {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		closing, err := c.writeFrames(ws, sc, batch)
		if err != nil {
			reason := ReasonTransportClose // the peer closed; the reader may say so first
			if !errorsIsClosed(err) {
				c.log.Debug("websocket write failed", "err", err)
				reason = ReasonTransportError
			}
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			c.closeWith(reason, 0)
			return
		}
		if closing {
			c.finish()
			return
		}
	}
}

// frameScratch is a writer's working memory, pooled so that an idle
// connection holds none.
type frameScratch struct {
	hdr  []byte
	ends []int
	bufs net.Buffers
}

var scratchPool = sync.Pool{New: func() any { return new(frameScratch) }}

// writeFrames writes a batch of packets in one writev, and reports whether
// it ended with a close packet.
func (c *Conn) writeFrames(ws *websocket.Conn, sc *frameScratch, batch []packet) (closing bool, err error) {
	hdr, ends := sc.hdr[:0], sc.ends[:0]
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
	all := bufs // WriteTo consumes bufs
	c.wsMu.Lock()
	nc := ws.NetConn()
	nc.SetWriteDeadline(time.Now().Add(c.e.cfg.writeTimeout))
	_, err = bufs.WriteTo(nc)
	c.wsMu.Unlock()
	clear(all)
	sc.hdr, sc.ends, sc.bufs = hdr[:0], ends[:0], all[:0]
	return closing, err
}

// writeControl writes one control frame, between batches.
func (c *Conn) writeControl(ws *websocket.Conn, opcode byte, payload []byte) error {
	frame := append(appendFrameHeader(make([]byte, 0, 4+len(payload)), opcode, len(payload)), payload...)
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	nc := ws.NetConn()
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := nc.Write(frame)
	return err
}
