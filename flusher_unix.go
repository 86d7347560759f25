//go:build unix

package sio

import (
	"net"
	"syscall"
)

// writeNowSupported: the kernel can be asked to take bytes without waiting.
const writeNowSupported = true

// maxWriteNow bounds what tryWrite gathers into one buffer to write.
const maxWriteNow = 8 << 10

// tryWrite writes what is left of sc's frames with one write(2), as far as
// the kernel takes them without waiting (net's descriptors are
// non-blocking), and reports whether all of it went. Frames too large to
// gather into one buffer are not tried. A failed write reports false and
// leaves the error to the writer goroutine, which meets it too and ends the
// session with the right reason. After a partial write, c.wsMu stays
// locked (sc.holding) until writeBuffers writes the rest: the caller must
// hand sc to a writer.
func (c *Conn) tryWrite(nc net.Conn, raw syscall.RawConn, sc *frameScratch) bool {
	size := 0
	for _, b := range sc.out {
		size += len(b)
	}
	if size > maxWriteNow || !c.wsMu.TryLock() { // TryLock: a control frame may be on its way
		return false
	}
	flat := sc.flat[:0]
	for _, b := range sc.out {
		flat = append(flat, b...)
	}
	sc.flat = flat
	c.renewDeadlineLocked(nc)
	if sc.writeFD == nil { // once per scratch, so that a write allocates nothing
		sc.writeFD = func(fd uintptr) bool {
			sc.wn, sc.werr = syscall.Write(int(fd), sc.flat)
			return true // never wait for the socket to drain
		}
	}
	err := raw.Write(sc.writeFD)
	n, werr := sc.wn, sc.werr
	sc.werr = nil
	if err != nil || werr != nil || n <= 0 {
		c.wsMu.Unlock()
		return false
	}
	sc.consume(n)
	if len(sc.out) > 0 {
		// A frame is half written: nothing may go between its halves, not
		// even a pong or a close frame. wsMu stays locked, and the writer
		// that takes sc over writes the rest before it unlocks.
		sc.holding = true
		return false
	}
	c.wsMu.Unlock()
	return true
}
