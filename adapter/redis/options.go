package redisadapter

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// An Option configures the adapter made by [New], or an [Emitter]. Each
// states its default, which is Node's @socket.io/redis-adapter default.
type Option func(*config) error

type config struct {
	key             string
	requestsTimeout time.Duration
	specificChannel bool
	logger          *slog.Logger
}

func newConfig(opts []Option) config {
	c := config{key: "socket.io", requestsTimeout: 5 * time.Second}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			panic("redisadapter: " + err.Error())
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// WithKey sets the prefix of every channel name (Node's key option). Every
// server and emitter of a cluster must use the same one. Default
// "socket.io". It must not be empty.
func WithKey(key string) Option {
	return func(c *config) error {
		if key == "" {
			return errors.New("empty key")
		}
		c.key = key
		return nil
	}
}

// WithRequestsTimeout sets how long a request to the other servers
// (fetching sockets, a server-side emit with replies) waits for their
// answers, and how long a broadcast with acknowledgements waits when its
// context has no deadline. Default 5s. It must be positive.
func WithRequestsTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("requests timeout must be positive, got %v", d)
		}
		c.requestsTimeout = d
		return nil
	}
}

// WithPublishOnSpecificResponseChannel makes this server answer a request
// on the requester's own response channel (K-response#N#uid#) rather than
// the shared one (K-response#N#), which saves every other server from
// reading every answer (Node's publishOnSpecificResponseChannel). Servers
// listen on both, so servers with and without it can be mixed, but Node
// servers older than adapter 7.2 do not listen on the specific one.
// Default off.
func WithPublishOnSpecificResponseChannel(on bool) Option {
	return func(c *config) error {
		c.specificChannel = on
		return nil
	}
}

// WithLogger sets where the adapter reports what it cannot tell a caller:
// Redis connection trouble, messages it cannot read. Default
// [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	}
}
