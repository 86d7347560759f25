package sio

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// HTTP long-polling. A session has no goroutine of its own on this
// transport: a GET waits, in its request's goroutine, until the session's
// queue has something, then writes all of it as one payload; a POST
// dispatches its packets, in its request's goroutine, before it answers.

// setPollHeaders sets what Node's polling transport sends with every answer.
func setPollHeaders(h http.Header, contentType string, n int) {
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(n))
	h.Set("Cache-Control", "no-store")
}

// servePoll answers a long-polling GET once the session has something to
// send: queued packets, or a noop when an upgrade or the end of the session
// releases the request.
func (c *Conn) servePoll(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.state == stateClosed {
		// The session ended after the engine looked it up (a ping
		// timeout that fired just now): it is as gone as if unknown.
		c.mu.Unlock()
		httpError(w, codeUnknownSID, "")
		return
	}
	if c.transport != TransportPolling {
		c.mu.Unlock()
		httpError(w, codeBadRequest, "")
		return
	}
	if c.polling {
		// A second GET while one waits breaks the protocol: the first
		// is answered with a close packet, the second refused.
		c.mu.Unlock()
		c.closeWith(ReasonTransportError, 0)
		httpError(w, codeBadRequest, "")
		return
	}
	c.polling = true
	probed := c.upgrade == upgradeProbed
	c.mu.Unlock()

	// A poll may wait longer than the server's WriteTimeout: lift the
	// deadline while waiting, and set ours once there is something to
	// write. Not every ResponseWriter supports deadlines; then the
	// server's own settings apply.
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})

	var (
		batch    []packet
		closing  bool // the session ends once batch is written
		split    bool // batch is what came before the final packet
		released = r.Context().Done()
		// A GET that arrives while an upgrade is being probed gets a
		// noop after a short wait, as in Node, which checks every 100 ms;
		// if the upgrade completes first, it is refused instead.
		probeWait <-chan time.Time
	)
	if probed {
		t := time.NewTimer(100 * time.Millisecond)
		defer t.Stop()
		probeWait = t.C
	}
	for {
		c.mu.Lock()
		switch {
		case c.state == stateClosed && c.reason != ReasonTransportClose:
			// The session ended on the server's side while this GET
			// waited: tell the client.
			batch = []packet{{typ: packetClose}}
		case c.state == stateClosed:
			// The client closed the session itself.
			batch = []packet{{typ: packetNoop}}
		case c.transport != TransportPolling:
			// The upgrade completed while this GET waited, which a client
			// that follows the protocol never lets happen: it pauses
			// polling before it sends the upgrade packet.
			c.polling = false
			c.mu.Unlock()
			httpError(w, codeBadRequest, "")
			return
		case c.upgrade == upgradeProbed && probeWait == nil:
			// Released for an upgrade: a noop lets the client pause
			// polling. Packets still queued are left for the WebSocket.
			batch = []packet{{typ: packetNoop}}
		case len(c.queue) > 1 && c.state == stateClosing && c.queue[len(c.queue)-1].typ == packetClose &&
			c.upgrade != upgradeProbed:
			// Messages first, the close packet alone on the next GET, as
			// Node sends them: engine.io-client acts on a close packet at
			// once, but socket.io-client handles the packets before it in
			// the same payload a tick later, on a socket already closed,
			// and so would lose them (a DISCONNECT included).
			final := c.queue[len(c.queue)-1]
			batch = c.takeLocked()
			batch = batch[:len(batch)-1]
			c.queue = append(c.queue, final)
			split = true
		case len(c.queue) > 0 && c.upgrade != upgradeProbed:
			batch = c.takeLocked()
			closing = c.state == stateClosing
		}
		if batch != nil {
			c.polling = false
			break
		}
		c.mu.Unlock()
		select {
		case <-c.pollWake:
		case <-c.done:
		case <-probeWait:
			probeWait = nil
		case <-released:
			c.mu.Lock()
			c.polling = false
			c.mu.Unlock()
			c.closeWith(ReasonTransportClose, 0)
			return
		}
	}
	// Encode while the batch is still ours: takeLocked reuses it.
	body := appendPayload(make([]byte, 0, payloadLen(batch)), batch)
	c.mu.Unlock()

	rc.SetWriteDeadline(time.Now().Add(c.e.cfg.writeTimeout))
	setPollHeaders(w.Header(), "text/plain; charset=UTF-8", len(body))
	_, err := w.Write(body)
	switch {
	case closing:
		c.finish()
	case err != nil:
		c.closeWith(ReasonTransportError, 0)
	case split:
		// The client polls again as soon as it has read this: the final
		// packet waits for that GET, not for a whole ping timeout.
		c.mu.Lock()
		if c.state == stateClosing {
			c.closeTimer.Stop()
			c.closeTimer = time.AfterFunc(nextPollWait, c.finish)
		}
		c.mu.Unlock()
	}
}

// servePost reads a long-polling POST, dispatches its packets in order, and
// then answers "ok", so whatever the handlers queued in reply is ready for
// the next GET.
func (c *Conn) servePost(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.transport != TransportPolling {
		// Refused without touching the session, which is on WebSocket now:
		// whoever sends this, it is not the client.
		c.mu.Unlock()
		httpError(w, codeBadRequest, "")
		return
	}
	c.mu.Unlock()
	if r.Header.Get("Content-Type") == "application/octet-stream" {
		// Engine.IO v4 sends binary as base64 text; v3 binary payloads
		// are not spoken here.
		c.closeWith(ReasonTransportError, 0)
		httpError(w, codeBadRequest, "")
		return
	}
	c.mu.Lock()
	if c.transport != TransportPolling {
		c.mu.Unlock()
		httpError(w, codeBadRequest, "")
		return
	}
	if c.posting {
		c.mu.Unlock()
		c.closeWith(ReasonTransportError, 0)
		httpError(w, codeBadRequest, "")
		return
	}
	c.posting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.posting = false
		c.mu.Unlock()
	}()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(c.e.cfg.maxPayload)))
	if err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			c.log().Debug("long-polling body over the max payload", "max", c.e.cfg.maxPayload)
			c.closeWith(ReasonTransportError, 0)
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		c.closeWith(ReasonTransportClose, 0)
		return
	}
	packets, err := decodePayload(body)
	if err != nil {
		c.log().Debug("bad long-polling payload", "err", err)
		c.closeWith(ReasonParseError, 0)
		httpError(w, codeBadRequest, "")
		return
	}
	for _, p := range packets {
		if !c.isOpen() {
			break
		}
		c.handlePacket(p)
	}
	setPollHeaders(w.Header(), "text/html", 2)
	io.WriteString(w, "ok")
}
