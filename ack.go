package sio

import (
	"context"
	"fmt"
)

// Acknowledgements from the server's side: the server emits an event with
// an id, and the client's reply (an ACK packet with that id) completes the
// waiting call. Each pending call owns a one-slot channel in the socket's
// table, removed when the call returns, whatever the outcome.

// EmitWithAck emits an event, as [Socket.Emit] does, and waits for the
// client's acknowledgement, which it returns. It gives up when ctx is done,
// returning an error that wraps ctx.Err() (so errors.Is(err,
// context.DeadlineExceeded) tells a timeout), or when the socket
// disconnects, returning [ErrClosed].
//
// It may be called from a handler of the same socket: handlers do not run
// on the connection's reader, which keeps reading the reply.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	if reservedEvents[event] {
		return Args{}, errReservedEmit(event)
	}
	ch := make(chan Args, 1)
	s.mu.Lock()
	if s.state != socketConnected {
		s.mu.Unlock()
		return Args{}, ErrClosed
	}
	id := s.nextAck
	s.nextAck++
	s.acks[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
	}()

	s.notifyOutgoing(event, args)
	enc, err := encodeEvent(s.ns.name, id, true, event, args)
	if err != nil {
		return Args{}, err
	}
	if err := s.client.send(enc); err != nil {
		return Args{}, err
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return Args{}, ErrClosed
		}
		return a, nil
	case <-ctx.Done():
		return Args{}, fmt.Errorf("sio: no acknowledgement of %q: %w", event, ctx.Err())
	}
}

// resolveAck completes the pending call with the given id. A reply to no
// pending call (late, or never asked for) is dropped, as in Node.
func (s *Socket) resolveAck(id uint64, args Args) {
	s.mu.Lock()
	ch := s.acks[id]
	delete(s.acks, id)
	s.mu.Unlock()
	if ch != nil {
		ch <- args
	}
}

// Call emits an event to the socket with [Socket.EmitWithAck] and decodes
// the first argument of the client's acknowledgement into an R.
func Call[R any](ctx context.Context, s *Socket, event string, args ...any) (R, error) {
	var r R
	a, err := s.EmitWithAck(ctx, event, args...)
	if err != nil {
		return r, err
	}
	if err := a.Decode(0, &r); err != nil {
		return r, fmt.Errorf("sio: acknowledgement of %q: %w", event, err)
	}
	return r, nil
}
