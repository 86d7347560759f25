package redisadapter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A hub holds what the adapters of one server's namespaces share, as
// Node's adapter shares its two Redis clients: one subscriber connection,
// which carries every namespace's channels, and one publisher goroutine,
// which sends in order, pipelining what has piled up.
//
// Node counts servers with PUBSUB NUMSUB on a namespace's request channel,
// that is, by the connections subscribed to it, so a server must hold
// exactly one subscription per namespace. A hub therefore serves a given
// namespace name once; when [New]'s adapter constructor is used by two
// servers in one process, the second gets a hub of its own.
type hub struct {
	client redis.UniversalClient
	cfg    *config
	log    *slog.Logger

	mu       sync.Mutex
	ps       *redis.PubSub
	patterns map[string]*adapter // K#N#* -> adapter
	channels map[string]*adapter // request and response channels -> adapter
	waiters  map[string][]chan struct{}
	names    map[string]bool // namespaces served; guarded by the factory's lock

	out     chan outMsg
	stop    chan struct{}
	stopped chan struct{} // closed when both goroutines have returned
	wg      sync.WaitGroup
}

// outMsg is a message waiting to be published.
type outMsg struct {
	channel string
	payload []byte
}

const (
	// publishQueue bounds the messages waiting for the publisher. Pub/sub
	// delivery is best effort anyway: past it, Broadcast fails at once
	// rather than stalling the caller while Redis is away.
	publishQueue = 16384
	// publishBatch is the most messages pipelined in one round trip.
	publishBatch = 256
	// healthInterval is how long the subscriber waits for a message before
	// it pings Redis, and then for the answer before it reconnects.
	healthInterval = 3 * time.Second
	// flushTimeout bounds how long closing the last adapter waits for the
	// messages still queued.
	flushTimeout = 2 * time.Second
)

var errClosed = errors.New("redisadapter: adapter closed")

// errQueueFull is returned when the publisher falls too far behind,
// typically because Redis is unreachable.
var errQueueFull = errors.New("redisadapter: publish queue full (is Redis reachable?)")

func newHub(client redis.UniversalClient, cfg *config) *hub {
	h := &hub{
		client:   client,
		cfg:      cfg,
		log:      cfg.logger,
		patterns: map[string]*adapter{},
		channels: map[string]*adapter{},
		waiters:  map[string][]chan struct{}{},
		names:    map[string]bool{},
		out:      make(chan outMsg, publishQueue),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	h.ps = client.Subscribe(context.Background())
	h.wg.Add(2)
	go h.receive()
	go h.publisher()
	go func() {
		h.wg.Wait()
		close(h.stopped)
	}()
	return h
}

// add subscribes a's channels and waits, up to the requests timeout, for
// Redis to confirm them. When Redis cannot be reached it returns anyway:
// the subscriber keeps trying, and subscribes when Redis is back.
func (h *hub) add(a *adapter) {
	pattern := a.channel + "*"
	subs := []string{a.requestChannel, a.responseChannel, a.specificResponseChannel}
	confirmed := make([]chan struct{}, 0, 2)
	h.mu.Lock()
	h.patterns[pattern] = a
	for _, c := range subs {
		h.channels[c] = a
	}
	for _, c := range []string{pattern, a.requestChannel} {
		w := make(chan struct{})
		h.waiters[c] = append(h.waiters[c], w)
		confirmed = append(confirmed, w)
	}
	ps := h.ps
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.requestsTimeout)
	defer cancel()
	// go-redis records the channels even when Redis cannot be reached,
	// and subscribes to them when it reconnects: make both calls.
	err := ps.PSubscribe(ctx, pattern)
	if err2 := ps.Subscribe(ctx, subs...); err == nil {
		err = err2
	}
	for _, w := range confirmed {
		if err != nil {
			break
		}
		select {
		case <-w:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		h.log.Warn("redisadapter: not subscribed yet; will retry while Redis is away",
			"nsp", a.ns.Name(), "err", err)
	}
}

// remove unsubscribes a's channels.
func (h *hub) remove(a *adapter) {
	pattern := a.channel + "*"
	subs := []string{a.requestChannel, a.responseChannel, a.specificResponseChannel}
	h.mu.Lock()
	delete(h.patterns, pattern)
	for _, c := range subs {
		delete(h.channels, c)
	}
	ps := h.ps
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ps.PUnsubscribe(ctx, pattern)
	ps.Unsubscribe(ctx, subs...)
}

// shutdown sends what is queued, closes the subscriber and waits for the
// hub's goroutines.
func (h *hub) shutdown() {
	close(h.stop)
	h.mu.Lock()
	h.ps.Close()
	h.mu.Unlock()
	<-h.stopped
}

// receive reads the subscriber connection and hands each message to its
// adapter, in order. go-redis reconnects and subscribes again after an
// error; a connection that stays silent through a ping is replaced.
func (h *hub) receive() {
	defer h.wg.Done()
	ctx := context.Background()
	failures := 0
	pinged := false
	for {
		h.mu.Lock()
		ps := h.ps
		h.mu.Unlock()
		msg, err := ps.ReceiveTimeout(ctx, healthInterval)
		if err != nil {
			select {
			case <-h.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if pinged {
					h.log.Warn("redisadapter: Redis did not answer a ping; reconnecting")
					h.replaceSubscriber()
					pinged = false
					continue
				}
				pinged = true
				pctx, cancel := context.WithTimeout(ctx, healthInterval)
				ps.Ping(pctx)
				cancel()
				continue
			}
			failures++
			if failures == 1 {
				h.log.Warn("redisadapter: subscriber connection lost; reconnecting", "err", err)
			}
			delay := min(50*time.Millisecond<<min(failures, 6), 2*time.Second)
			select {
			case <-h.stop:
				return
			case <-time.After(delay):
			}
			continue
		}
		pinged = false
		if failures > 0 {
			h.log.Info("redisadapter: subscriber connection restored")
			failures = 0
		}
		switch m := msg.(type) {
		case *redis.Message:
			h.dispatch(m)
		case *redis.Subscription:
			if m.Kind == "subscribe" || m.Kind == "psubscribe" {
				h.confirm(m.Channel)
			}
		}
	}
}

func (h *hub) confirm(channel string) {
	h.mu.Lock()
	ws := h.waiters[channel]
	delete(h.waiters, channel)
	h.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// replaceSubscriber swaps a connection that has gone silent for a new one,
// subscribed to the same channels.
func (h *hub) replaceSubscriber() {
	h.mu.Lock()
	select {
	case <-h.stop:
		h.mu.Unlock()
		return
	default:
	}
	old := h.ps
	h.ps = h.client.Subscribe(context.Background())
	ps := h.ps
	var patterns, channels []string
	for p := range h.patterns {
		patterns = append(patterns, p)
	}
	for c := range h.channels {
		channels = append(channels, c)
	}
	h.mu.Unlock()
	old.Close()
	ctx, cancel := context.WithTimeout(context.Background(), healthInterval)
	defer cancel()
	if len(patterns) > 0 {
		ps.PSubscribe(ctx, patterns...)
	}
	if len(channels) > 0 {
		ps.Subscribe(ctx, channels...)
	}
}

func (h *hub) dispatch(m *redis.Message) {
	h.mu.Lock()
	var a *adapter
	if m.Pattern != "" {
		a = h.patterns[m.Pattern]
	} else {
		a = h.channels[m.Channel]
	}
	h.mu.Unlock()
	if a == nil {
		return
	}
	payload := []byte(m.Payload)
	switch {
	case m.Pattern != "":
		a.onBroadcast(m.Channel, payload)
	case m.Channel == a.requestChannel:
		a.onRequest(payload)
	default:
		a.onResponse(payload)
	}
}

// publish queues a message. It fails at once when the queue is full.
func (h *hub) publish(channel string, payload []byte) error {
	select {
	case <-h.stop:
		return errClosed
	default:
	}
	select {
	case h.out <- outMsg{channel: channel, payload: payload}:
		return nil
	default:
		return errQueueFull
	}
}

// publisher sends the queued messages in order, pipelining those that
// piled up while the previous round trip was on its way.
func (h *hub) publisher() {
	defer h.wg.Done()
	batch := make([]outMsg, 0, publishBatch)
	failing := false
	send := func(ctx context.Context) {
		err := h.send(ctx, batch)
		switch {
		case err != nil && !failing:
			failing = true
			h.log.Warn("redisadapter: cannot publish; messages are lost until Redis is back", "err", err)
		case err == nil && failing:
			failing = false
			h.log.Info("redisadapter: publishing again")
		}
		clear(batch)
		batch = batch[:0]
	}
	for {
		select {
		case m := <-h.out:
			batch = append(batch, m)
		drain:
			for len(batch) < publishBatch {
				select {
				case m := <-h.out:
					batch = append(batch, m)
				default:
					break drain
				}
			}
			send(context.Background())
		case <-h.stop:
			// Send what is left, for a while.
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			defer cancel()
			for {
				select {
				case m := <-h.out:
					batch = append(batch, m)
					if len(batch) == publishBatch {
						send(ctx)
					}
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				send(ctx)
			}
			return
		}
	}
}

// send publishes batch, in one pipeline when there are several.
func (h *hub) send(ctx context.Context, batch []outMsg) error {
	if len(batch) == 1 {
		return h.client.Publish(ctx, batch[0].channel, batch[0].payload).Err()
	}
	pipe := h.client.Pipeline()
	for _, m := range batch {
		pipe.Publish(ctx, m.channel, m.payload)
	}
	_, err := pipe.Exec(ctx)
	return err
}
