//go:build !unix

package sio

import (
	"net"
	"syscall"
)

// writeNowSupported: elsewhere than on Unix, a writer goroutine writes
// everything.
const writeNowSupported = false

func (c *Conn) tryWrite(net.Conn, syscall.RawConn, *frameScratch) bool { return false }
