package sio

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Rooms group the sockets of a namespace. Every socket is in the room named
// by its own id, so a socket id works as a room wherever a room does.
// A namespace keeps rooms -> sockets under its lock; a socket keeps the
// names of its rooms under its lock, in a slice rather than a set: a socket
// is in a few rooms, which a slice holds in a fraction of a small map's
// memory and searches as fast. The namespace lock is taken first.
//
// The room of a socket's own id is not stored: the namespace's socket
// table already answers for it (a map entry and a set per socket less,
// which ten thousand connections notice). Other sockets may still join a
// room named by a socket's id, as in Node; those are stored as any room.

// Join adds the socket to the given rooms. Joining a room it is in already
// does nothing. A socket that is not connected joins nothing.
func (s *Socket) Join(rooms ...string) {
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != socketConnected {
		return
	}
	for _, r := range rooms {
		ns.joinLocked(s, r)
	}
}

// Leave removes the socket from the given rooms.
func (s *Socket) Leave(rooms ...string) {
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rooms {
		ns.leaveLocked(s, r)
	}
}

// Rooms returns the rooms the socket is in, its own id's room included, in
// no particular order.
func (s *Socket) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.rooms)+1)
	if !s.leftOwnRoom {
		out = append(out, s.id)
	}
	return append(out, s.rooms...)
}

// In reports whether the socket is in room.
func (s *Socket) In(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inLocked(room)
}

// inLocked reports whether s is in room. It needs s.mu or s.ns.mu.
func (s *Socket) inLocked(room string) bool {
	if room == s.id {
		return !s.leftOwnRoom
	}
	return slices.Contains(s.rooms, room)
}

// membersLocked calls f for each socket in room. It needs ns.mu.
func (ns *Namespace) membersLocked(room string, f func(*Socket)) {
	for s := range ns.rooms[room] {
		f(s)
	}
	if s := ns.sockets[room]; s != nil && !s.leftOwnRoom {
		f(s)
	}
}

// joinLocked needs ns.mu and s.mu.
func (ns *Namespace) joinLocked(s *Socket, room string) {
	if room == s.id {
		s.leftOwnRoom = false
		return
	}
	if slices.Contains(s.rooms, room) {
		return
	}
	s.rooms = append(s.rooms, room)
	members := ns.rooms[room]
	if members == nil {
		members = map[*Socket]struct{}{}
		ns.rooms[room] = members
	}
	members[s] = struct{}{}
}

// leaveLocked needs ns.mu and s.mu.
func (ns *Namespace) leaveLocked(s *Socket, room string) {
	if room == s.id {
		s.leftOwnRoom = true
		return
	}
	i := slices.Index(s.rooms, room)
	if i < 0 {
		return
	}
	last := len(s.rooms) - 1
	s.rooms[i] = s.rooms[last]
	s.rooms[last] = ""
	s.rooms = s.rooms[:last]
	members := ns.rooms[room]
	delete(members, s)
	if len(members) == 0 {
		delete(ns.rooms, room)
	}
}

// add registers a newly connected socket, in the room of its id.
func (ns *Namespace) add(s *Socket) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	ns.sockets[s.id] = s
}

// remove takes a disconnected socket out of the namespace and every room.
func (ns *Namespace) remove(s *Socket) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.rooms) > 0 {
		ns.leaveLocked(s, s.rooms[len(s.rooms)-1])
	}
	s.leftOwnRoom = true
	delete(ns.sockets, s.id)
}

// Broadcast is a target audience within a namespace: all its sockets, or
// those in some rooms, minus those in others. It is an immutable value:
// each method returns a new one, so a Broadcast can be kept, shared between
// goroutines and refined freely.
//
//	ns.To("room1", "room2").Except("banned").Emit("news", item)
type Broadcast struct {
	ns       *Namespace
	rooms    []string
	except   []string
	volatile bool
	local    bool // this server's sockets only
}

// To returns a target of the sockets of the namespace in any of the rooms
// (their union, each socket once).
func (ns *Namespace) To(rooms ...string) Broadcast {
	return Broadcast{ns: ns}.To(rooms...)
}

// Except returns a target of every socket of the namespace except those in
// the rooms.
func (ns *Namespace) Except(rooms ...string) Broadcast {
	return Broadcast{ns: ns}.Except(rooms...)
}

// Emit sends an event to every socket of the namespace.
func (ns *Namespace) Emit(event string, args ...any) error {
	return Broadcast{ns: ns}.Emit(event, args...)
}

// EmitWithAck sends an event to every socket of the namespace and gathers
// their acknowledgements; see [Broadcast.EmitWithAck].
func (ns *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]AckReply, error) {
	return Broadcast{ns: ns}.EmitWithAck(ctx, event, args...)
}

// FetchSockets returns every socket of the namespace, on every server.
func (ns *Namespace) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	return Broadcast{ns: ns}.FetchSockets(ctx)
}

// Volatile returns a target of every socket of the namespace, for packets
// that may be lost; see [Broadcast.Volatile].
func (ns *Namespace) Volatile() Broadcast { return Broadcast{ns: ns, volatile: true} }

// Local returns a target of every socket of the namespace on this server.
func (ns *Namespace) Local() Broadcast { return Broadcast{ns: ns, local: true} }

// To returns a target of the sockets in the given rooms of the socket's
// namespace, the socket itself excluded.
func (s *Socket) To(rooms ...string) Broadcast {
	return Broadcast{ns: s.ns, except: []string{s.id}}.To(rooms...)
}

// Broadcast returns a target of every socket of the socket's namespace but
// itself.
func (s *Socket) Broadcast() Broadcast {
	return Broadcast{ns: s.ns, except: []string{s.id}}
}

// To adds rooms to the target: the sockets in any of them.
func (b Broadcast) To(rooms ...string) Broadcast {
	b.rooms = append(slices.Clip(b.rooms), rooms...)
	return b
}

// Except removes from the target the sockets in any of the rooms.
func (b Broadcast) Except(rooms ...string) Broadcast {
	b.except = append(slices.Clip(b.except), rooms...)
	return b
}

// Volatile returns the same target for packets that may be lost: a socket
// whose send queue is full misses the packet instead of being disconnected.
func (b Broadcast) Volatile() Broadcast {
	b.volatile = true
	return b
}

// Sockets returns the connected sockets of the target on this server.
func (b Broadcast) Sockets() []*Socket {
	return b.targets(nil)
}

// targets appends the connected sockets of the target to dst. A socket
// the server has disconnected is left out at once, although it stays in
// its rooms until its disconnection handlers have run.
func (b Broadcast) targets(dst []*Socket) []*Socket {
	if b.ns.match != nil { // a template: the same target in each child
		for _, child := range b.ns.childList() {
			c := b
			c.ns = child
			dst = c.targets(dst)
		}
		return dst
	}
	ns := b.ns
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	excluded := func(s *Socket) bool {
		if !s.Connected() { // s.mu after ns.mu, as documented above
			return true
		}
		for _, r := range b.except {
			if s.inLocked(r) {
				return true
			}
		}
		return false
	}
	if len(b.rooms) == 0 {
		for _, s := range ns.sockets {
			if !excluded(s) {
				dst = append(dst, s)
			}
		}
		return dst
	}
	if len(b.rooms) == 1 {
		ns.membersLocked(b.rooms[0], func(s *Socket) {
			if !excluded(s) {
				dst = append(dst, s)
			}
		})
		return dst
	}
	seen := seenPool.Get().(map[*Socket]struct{})
	for _, r := range b.rooms {
		ns.membersLocked(r, func(s *Socket) {
			if _, dup := seen[s]; dup || excluded(s) {
				return
			}
			seen[s] = struct{}{}
			dst = append(dst, s)
		})
	}
	if len(seen) <= maxPooledSet { // clearing a set costs its capacity
		clear(seen)
		seenPool.Put(seen)
	}
	return dst
}

// seenPool recycles the sets that broadcasts to several rooms count each
// socket once with, so that their allocations do not grow with the number
// of receivers.
var seenPool = sync.Pool{New: func() any { return map[*Socket]struct{}{} }}

// maxPooledSet bounds the sets kept in seenPool: one broadcast to a crowd
// must not make every later one clear a set that large.
const maxPooledSet = 4096

// Emit sends an event to every socket of the target, on every server of a
// cluster unless the target is local. The packet is encoded once, and
// handed to each local socket's queue without waiting for any network.
// A socket whose queue is full is disconnected with [ReasonSlowClient],
// unless the target is volatile.
func (b Broadcast) Emit(event string, args ...any) error {
	if reservedEvents[event] {
		return errReservedEmit(event)
	}
	if b.ns.match != nil { // a template: each child has its own packet
		var errs []error
		for _, child := range b.ns.childList() {
			c := b
			c.ns = child
			errs = append(errs, c.Emit(event, args...))
		}
		return errors.Join(errs...)
	}
	enc, err := encodeEvent(b.ns.name, 0, false, event, args)
	if err != nil {
		return err
	}
	buf := targetPool.Get().(*[]*Socket)
	targets := b.targets((*buf)[:0])
	for _, s := range targets { // connected when targets looked; a later disconnect races as it would anyway
		s.client.conn.sendMessages(enc, b.volatile)
	}
	clear(targets)
	*buf = targets[:0]
	targetPool.Put(buf)
	if a := b.remote(); a != nil {
		return a.Broadcast(context.Background(), b.target(), event, args)
	}
	return nil
}

// targetPool recycles the slices broadcasts collect their sockets in.
var targetPool = sync.Pool{New: func() any { return new([]*Socket) }}

// childList returns the namespaces created from a template so far.
func (ns *Namespace) childList() []*Namespace {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return slices.Clone(ns.children)
}
