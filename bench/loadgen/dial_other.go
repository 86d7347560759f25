//go:build !linux

package main

import "syscall"

func setNoPort(network, address string, c syscall.RawConn) error { return nil }
