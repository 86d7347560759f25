package sio

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
// It may be called from a handler of the same socket: a handler that runs
// on the connection's reader hands the reading on before it waits, so the
// reply is read.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	if reservedEvents[event] {
		return Args{}, errReservedEmit(event)
	}
	type reply struct {
		args Args
		ok   bool
	}
	ch := make(chan reply, 1)
	id := s.ns.ackIDs.Add(1) - 1
	if !s.registerAck(id, func(a Args, ok bool) { ch <- reply{a, ok} }) {
		if s.Connected() {
			return Args{}, ErrTooManyAcks
		}
		return Args{}, ErrClosed
	}
	defer s.unregisterAck(id)

	s.notifyOutgoing(event, args)
	enc, err := encodeEvent(s.ns.name, id, true, event, args)
	if err != nil {
		return Args{}, err
	}
	if err := s.client.send(enc); err != nil {
		return Args{}, err
	}
	s.client.conn.releaseReader()
	select {
	case r := <-ch:
		if !r.ok {
			return Args{}, ErrClosed
		}
		return r.args, nil
	case <-ctx.Done():
		return Args{}, fmt.Errorf("sio: no acknowledgement of %q: %w", event, ctx.Err())
	}
}

// registerAck records f as the receiver of the acknowledgement id; f gets
// the reply, or ok=false if the socket disconnects first. It reports false
// if the socket is not connected.
func (s *Socket) registerAck(id uint64, f func(a Args, ok bool)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != socketConnected || len(s.acks) >= s.client.srv.cfg.maxPendingAcks {
		return false
	}
	if s.acks == nil {
		s.acks = map[uint64]func(Args, bool){}
	}
	s.acks[id] = f
	return true
}

// ErrTooManyAcks is returned by [Socket.EmitWithAck] when the socket already
// has as many unanswered acknowledgements as [WithMaxPendingAcks] allows.
var ErrTooManyAcks = errors.New("sio: too many acknowledgements pending")

func (s *Socket) unregisterAck(id uint64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

// resolveAck completes the pending call with the given id. A reply to no
// pending call (late, or never asked for) is dropped, as in Node.
func (s *Socket) resolveAck(id uint64, args Args) {
	s.mu.Lock()
	f := s.acks[id]
	delete(s.acks, id)
	s.mu.Unlock()
	if f != nil {
		f(args, true)
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

// AckReply is one client's acknowledgement of a broadcast.
type AckReply struct {
	// SocketID is the id of the socket that answered. It is empty for a
	// reply relayed from another server by an adapter that does not say.
	SocketID string
	Args     Args
}

// AckTimeoutError reports the receivers of a broadcast that had not
// acknowledged it when the context ended, and other servers that were not
// heard from. It wraps the context's error.
type AckTimeoutError struct {
	// Missing are the ids of this server's sockets that did not answer
	// (disconnected ones included).
	Missing []string
	// MissingRemote counts the sockets of other servers that were sent
	// the event and did not answer (their servers do not say which). The
	// sockets of a server that did not even say how many it sent the
	// event to (a dead one, say) are not counted: Err says so instead.
	MissingRemote int
	// Err is the context's error, [ErrClosed] when the missing sockets
	// disconnected, or the adapter's error when some other servers could
	// not be asked or did not answer; that one wraps the context's error
	// when the deadline is what ended the wait.
	Err error
}

// Error says how many sockets did not answer, and why.
func (e *AckTimeoutError) Error() string {
	if n := len(e.Missing) + e.MissingRemote; n > 0 {
		return fmt.Sprintf("sio: %d sockets did not acknowledge the broadcast: %v", n, e.Err)
	}
	return fmt.Sprintf("sio: acknowledgements of the broadcast incomplete: %v", e.Err)
}

// Unwrap returns [AckTimeoutError.Err].
func (e *AckTimeoutError) Unwrap() error { return e.Err }

// EmitWithAck broadcasts an event that asks every receiver for an
// acknowledgement, and gathers the replies until each receiver has answered
// or ctx is done. The packet is encoded once for all local receivers. When
// some did not answer in time, it returns the replies received with an
// [*AckTimeoutError] saying who is missing: this server's sockets by id,
// other servers' as a count, and other servers that did not answer at
// all through the adapter's error. Give ctx a deadline. The target may not
// be volatile.
func (b Broadcast) EmitWithAck(ctx context.Context, event string, args ...any) ([]AckReply, error) {
	if reservedEvents[event] {
		return nil, errReservedEmit(event)
	}
	if b.ns.match != nil {
		return nil, errors.New("sio: acknowledgements cannot be gathered on a dynamic namespace template")
	}
	local, err := b.sendWithAck(event, args)
	if err != nil {
		return nil, err
	}
	defer local.release()
	pending := local.pending

	// Other servers report how many of their sockets were sent the event,
	// then relay each reply.
	var (
		remoteMu       sync.Mutex
		remoteExpected int
		remoteReplies  []AckReply
		remoteWake     = make(chan struct{}, 1)
		remoteDone     chan error
		remoteErr      error // the adapter's: some servers were not heard
	)
	wake := func() {
		select {
		case remoteWake <- struct{}{}:
		default:
		}
	}
	if a := b.remote(); a != nil {
		remoteDone = make(chan error, 1)
		go func() {
			remoteDone <- a.BroadcastWithAck(ctx, b.target(), event, args,
				func(n int) { remoteMu.Lock(); remoteExpected += n; remoteMu.Unlock(); wake() },
				func(sid string, r Args) {
					remoteMu.Lock()
					remoteReplies = append(remoteReplies, AckReply{sid, r})
					remoteMu.Unlock()
					wake()
				})
		}()
	}

	var out []AckReply
	var missing []string
	remoteFinished := remoteDone == nil
	remoteState := func() (expected, got int) {
		remoteMu.Lock()
		defer remoteMu.Unlock()
		return remoteExpected, len(remoteReplies)
	}
	for {
		if exp, got := remoteState(); len(pending) == 0 && remoteFinished && got >= exp {
			break
		}
		select {
		case r := <-local.replies:
			delete(pending, r.sid)
			if r.ok {
				out = append(out, AckReply{SocketID: r.sid, Args: r.args})
			} else {
				missing = append(missing, r.sid)
			}
			continue
		case remoteErr = <-remoteDone:
			remoteFinished = true
			remoteDone = nil
			continue
		case <-remoteWake:
			continue
		case <-ctx.Done():
		}
		break
	}
	if remoteDone != nil {
		remoteErr = <-remoteDone // the adapter honours ctx: it returns now
	}
	remoteMu.Lock()
	out = append(out, remoteReplies...)
	missingRemote := max(remoteExpected-len(remoteReplies), 0)
	remoteMu.Unlock()
	for sid := range pending {
		missing = append(missing, sid)
	}
	if len(missing) > 0 || missingRemote > 0 || remoteErr != nil {
		err := remoteErr // it says which servers did not answer
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = ErrClosed // no time ran out: the missing ones disconnected
		}
		return out, &AckTimeoutError{Missing: missing, MissingRemote: missingRemote, Err: err}
	}
	return out, nil
}

// EmitWithAckFunc is [Broadcast.EmitWithAck] for a caller that takes the
// replies as they come, as an adapter does when it relays them to the
// server that asked. It sends the event to the target's sockets on this
// server only, so the target must be local ([Broadcast.Local]); it calls
// count once with the number of sockets the event was sent to, then ack
// once for each reply, all on the calling goroutine. It returns nil when
// every one of those sockets has answered or disconnected, and ctx.Err()
// when ctx is done first. The packet is encoded once for all receivers.
func (b Broadcast) EmitWithAckFunc(ctx context.Context, event string, args []any,
	count func(n int), ack func(socketID string, reply Args)) error {
	if !b.local {
		return errors.New("sio: EmitWithAckFunc needs a local target")
	}
	if reservedEvents[event] {
		return errReservedEmit(event)
	}
	local, err := b.sendWithAck(event, args)
	if err != nil {
		return err
	}
	defer local.release()
	pending := local.pending
	count(len(pending))
	for len(pending) > 0 {
		select {
		case r := <-local.replies:
			delete(pending, r.sid)
			if r.ok {
				ack(r.sid, r.args)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// localAck is a broadcast with acknowledgements in flight to this server's
// sockets: the replies arrive on replies, one per socket in pending.
type localAck struct {
	id      uint64
	replies chan localReply
	pending map[string]*Socket
}

type localReply struct {
	sid  string
	args Args
	ok   bool // false: the socket disconnected first
}

// sendWithAck encodes the event once, with a new acknowledgement id, and
// sends it to every local socket of the target that can take one more
// pending acknowledgement.
func (b Broadcast) sendWithAck(event string, args []any) (*localAck, error) {
	id := b.ns.ackIDs.Add(1) - 1
	enc, err := encodeEvent(b.ns.name, id, true, event, args)
	if err != nil {
		return nil, err
	}
	targets := b.targets(nil)
	l := &localAck{
		id:      id,
		replies: make(chan localReply, len(targets)),
		pending: make(map[string]*Socket, len(targets)),
	}
	for _, s := range targets {
		if !s.registerAck(id, func(a Args, ok bool) { l.replies <- localReply{s.id, a, ok} }) {
			continue
		}
		if s.client.send(enc) != nil {
			s.unregisterAck(id)
			continue
		}
		l.pending[s.id] = s
	}
	return l, nil
}

// release forgets the acknowledgements still awaited.
func (l *localAck) release() {
	for _, s := range l.pending {
		s.unregisterAck(l.id)
	}
}
