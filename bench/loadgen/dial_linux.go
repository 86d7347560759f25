package main

import "syscall"

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT: a socket bound to a
// source address gets its port at connect time, from the full 4-tuple, so
// the ephemeral ports of one source address are shared across destinations
// and sockets in TIME_WAIT can be reused.
const ipBindAddressNoPort = 24

func setNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
