package sio

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket. Each packet travels in a frame of its own: text packets as
// text frames (type digit, then data), binary messages as binary frames.
// A connection has exactly two goroutines: the handler's, which reads, and
// one writer, which drains the session's queue and is the only one to write
// data frames.

// runWebSocket serves an open session over ws until it ends. It returns only
// once the writer has returned too.
// The caller has counted it in e.handlers.
func (e *Engine) runWebSocket(c *Conn, ws *websocket.Conn) {
	ws.SetReadLimit(int64(e.cfg.maxPayload))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ws)
	}()
	c.readLoop(ws)
	<-writerDone
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
	defer e.handlers.Done()
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

// writeLoop drains the session's queue onto ws until the session ends.
func (c *Conn) writeLoop(ws *websocket.Conn) {
	for {
		c.mu.Lock()
		if c.state == stateClosed {
			c.mu.Unlock()
			return
		}
		batch := c.takeLocked()
		c.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-c.writeWake:
			case <-c.done:
			}
			continue
		}
		for _, p := range batch {
			if err := c.writeFrame(ws, p); err != nil {
				reason := ReasonTransportClose // the peer closed; the reader may say so first
				if !errorsIsClosed(err) {
					c.log.Debug("websocket write failed", "err", err)
					reason = ReasonTransportError
				}
				c.closeWith(reason, 0)
				return
			}
			if p.typ == packetClose {
				c.finish()
				return
			}
		}
	}
}

func (c *Conn) writeFrame(ws *websocket.Conn, p packet) error {
	ws.SetWriteDeadline(time.Now().Add(c.e.cfg.writeTimeout))
	if p.binary {
		return ws.WriteMessage(websocket.BinaryMessage, p.data)
	}
	w, err := ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	w.Write([]byte{byte(p.typ)})
	w.Write(p.data)
	return w.Close()
}
