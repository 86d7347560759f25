package sio

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Transport names an Engine.IO transport, as it appears in the transport
// query parameter.
type Transport string

// The transports of Engine.IO v4 that sio serves.
const (
	TransportPolling   Transport = "polling"
	TransportWebSocket Transport = "websocket"
)

// An Option configures a [Server] or an [Engine]. Options are applied once,
// by [New] or [NewEngine]; nothing can change the configuration afterwards.
// Each option's documentation states its default, which is the default of the
// Node.js reference server unless it says otherwise.
type Option func(*config) error

// config holds every setting, defaults included; see defaultConfig.
type config struct {
	pingInterval   time.Duration
	pingTimeout    time.Duration
	maxPayload     int
	upgradeTimeout time.Duration
	writeTimeout   time.Duration
	sendQueueLimit int
	transports     []Transport
	allowUpgrades  bool
	origins        []string
	allowRequest   func(*http.Request) error
	cookie         *http.Cookie
	logger         *slog.Logger

	// Socket.IO layer.
	connectTimeout   time.Duration
	maxAttachments   int
	maxPendingEvents int
	maxNamespaces    int
	maxPendingAcks   int
	maxHandshakes    int
	shutdownNotify   bool
	newAdapter       func(*Namespace) (Adapter, error)
}

func defaultConfig() config {
	return config{
		pingInterval:     25 * time.Second,
		pingTimeout:      20 * time.Second,
		maxPayload:       1_000_000,
		upgradeTimeout:   10 * time.Second,
		writeTimeout:     10 * time.Second,
		sendQueueLimit:   8 << 20,
		transports:       []Transport{TransportPolling, TransportWebSocket},
		allowUpgrades:    true,
		connectTimeout:   45 * time.Second,
		maxAttachments:   64,
		maxPendingEvents: 256,
		maxNamespaces:    64,
		maxPendingAcks:   1024,
		maxHandshakes:    1024,
		shutdownNotify:   true,
	}
}

// newConfig applies opts over the defaults. An invalid option is a
// programming error and panics with the option's message, the way
// [regexp.MustCompile] does: a server must never start half-configured.
func newConfig(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			panic("sio: " + err.Error())
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s must be positive, got %v", name, d)
	}
	return nil
}

// WithPingInterval sets how often the server sends a ping to each client.
// Default 25s. It must be positive.
func WithPingInterval(d time.Duration) Option {
	return func(c *config) error {
		c.pingInterval = d
		return positive("ping interval", d)
	}
}

// WithPingTimeout sets how long the server waits for the pong that answers
// a ping before it closes the connection with [ReasonPingTimeout]. A client
// that vanishes is therefore detected within ping interval + ping timeout.
// Default 20s. It must be positive.
func WithPingTimeout(d time.Duration) Option {
	return func(c *config) error {
		c.pingTimeout = d
		return positive("ping timeout", d)
	}
}

// WithMaxPayload sets the largest payload, in bytes, that a client may send
// in one long-polling POST body or one WebSocket frame (Node's
// maxHttpBufferSize). A larger one closes that connection. The value is also
// announced to the client in the handshake, and clients size their polling
// batches by it. Default 1,000,000. It must be at least 1024.
func WithMaxPayload(n int) Option {
	return func(c *config) error {
		c.maxPayload = n
		if n < 1024 {
			return fmt.Errorf("max payload must be at least 1024 bytes, got %d", n)
		}
		return nil
	}
}

// WithUpgradeTimeout sets how long a client may take to complete an upgrade
// from long-polling to WebSocket. When it runs out, the WebSocket is closed
// and the session carries on over long-polling. Default 10s.
func WithUpgradeTimeout(d time.Duration) Option {
	return func(c *config) error {
		c.upgradeTimeout = d
		return positive("upgrade timeout", d)
	}
}

// WithWriteTimeout bounds each write to a client: a batch of WebSocket
// frames, or the response to a long-polling GET once it has something to
// send. A write that takes longer closes the connection with
// [ReasonTransportError]; on WebSocket, where the deadline is renewed only
// once half of it is spent, that may be after half the timeout already.
// Default 10s. (Node has no such limit.)
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) error {
		c.writeTimeout = d
		return positive("write timeout", d)
	}
}

// WithSendQueueLimit bounds the bytes queued for one client and not yet
// handed to its transport. A client that reads too slowly to stay under it
// is disconnected with [ReasonSlowClient], so one slow reader can never
// grow the server's memory without bound: with the batch its transport is
// busy writing, it holds at most about twice the limit. Volatile emits are
// dropped instead. Default 8 MiB. (Node has no such limit.)
func WithSendQueueLimit(bytes int) Option {
	return func(c *config) error {
		c.sendQueueLimit = bytes
		if bytes < 1024 {
			return fmt.Errorf("send queue limit must be at least 1024 bytes, got %d", bytes)
		}
		return nil
	}
}

// WithTransports sets the transports a client may use, from
// [TransportPolling] and [TransportWebSocket]. A client asking for another
// one gets HTTP 400 "Transport unknown". Default: both.
func WithTransports(ts ...Transport) Option {
	return func(c *config) error {
		if len(ts) == 0 {
			return errors.New("at least one transport is required")
		}
		for _, t := range ts {
			if t != TransportPolling && t != TransportWebSocket {
				return fmt.Errorf("unknown transport %q", t)
			}
		}
		c.transports = append([]Transport(nil), ts...)
		return nil
	}
}

// WithAllowUpgrades sets whether a session opened over long-polling may
// upgrade to WebSocket. Default true.
func WithAllowUpgrades(allow bool) Option {
	return func(c *config) error {
		c.allowUpgrades = allow
		return nil
	}
}

// WithDisconnectOnShutdown sets what [Server.Shutdown] tells each client.
//
// With true, the default, every socket is sent a Socket.IO DISCONNECT
// packet for its namespace, after what was already queued for it, then the
// connection is closed. socket.io-client then reports the reason
// "io server disconnect" and does not reconnect by itself: the application
// decides, and may call socket.connect() in its "disconnect" handler.
//
// With false, only the connection is closed (an Engine.IO close packet,
// after what was queued), as Node's io.close() does: socket.io-client
// reports "transport close" and reconnects by itself with its usual
// back-off, to the server's successor in a rolling restart behind a load
// balancer. The chat example (example/) uses false, so that its pages
// reconnect by themselves when it restarts.
//
// Either way, server-side disconnection handlers get [ReasonServerShutdown].
// It has no effect on an [Engine] used alone.
func WithDisconnectOnShutdown(disconnect bool) Option {
	return func(c *config) error {
		c.shutdownNotify = disconnect
		return nil
	}
}

// WithAllowedOrigins lists the origins other than the server's own that
// browsers may connect from, such as "https://app.example.com". It governs
// both the CORS headers of long-polling and the Origin check of WebSocket
// handshakes. A request whose Origin header is neither the server's own
// (same scheme-less host as the request) nor listed is refused with HTTP 403.
// Requests without an Origin header, as non-browser clients send them, are
// not affected.
//
// The single value "*" allows every origin. Do that only for a server that
// does not rely on cookies or other ambient credentials: any web page could
// then talk to it on behalf of its visitors (cross-site request forgery).
//
// Default: none, so only same-origin pages may connect.
func WithAllowedOrigins(origins ...string) Option {
	return func(c *config) error {
		for _, o := range origins {
			if o == "" {
				return errors.New("empty origin")
			}
		}
		c.origins = append([]string(nil), origins...)
		return nil
	}
}

// WithAllowRequest sets a hook called with the HTTP request of every new
// session's handshake, before anything is allocated for it (Node's
// allowRequest). A non-nil error refuses the handshake with HTTP 403 and a
// body whose message is the error's text. Later requests of the same session
// are not passed to it. Default: none.
func WithAllowRequest(hook func(*http.Request) error) Option {
	return func(c *config) error {
		c.allowRequest = hook
		return nil
	}
}

// WithCookie makes the handshake response set a cookie holding the session
// id, which load balancers can use for sticky sessions. The given cookie is
// the template: its Value is replaced by the session id. Name defaults to
// "io", Path to "/" and SameSite to Lax, as in Node. The cookie is always
// HttpOnly: no script needs the session id, and none should be able to read
// it. Default: no cookie.
func WithCookie(template http.Cookie) Option {
	return func(c *config) error {
		if template.Name == "" {
			template.Name = "io"
		}
		if template.Path == "" {
			template.Path = "/"
		}
		if template.SameSite == 0 {
			template.SameSite = http.SameSiteLaxMode
		}
		template.HttpOnly = true
		c.cookie = &template
		return nil
	}
}

// WithLogger sets the logger. The server logs the normal life of connections
// at Debug and only what needs attention (a recovered panic, a failed write
// it did not expect) above that. Default: [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithConnectTimeout sets how long a new connection may stay without joining
// any namespace before it is closed. Default 45s. It has no effect on an
// [Engine].
func WithConnectTimeout(d time.Duration) Option {
	return func(c *config) error {
		c.connectTimeout = d
		return positive("connect timeout", d)
	}
}

func atLeast(name string, n, min int) error {
	if n < min {
		return fmt.Errorf("%s must be at least %d, got %d", name, min, n)
	}
	return nil
}

// WithMaxAttachments bounds the binary attachments one Socket.IO packet
// from a client may announce; a packet announcing more closes the
// connection with [ReasonParseError]. Default 64. (Node has no such limit.)
func WithMaxAttachments(n int) Option {
	return func(c *config) error {
		c.maxAttachments = n
		return atLeast("max attachments", n, 0)
	}
}

// WithMaxPendingEvents bounds the events of one socket that wait for its
// handlers. When a client sends faster than its handlers keep up, the
// server stops reading from it until they catch up, so memory stays
// bounded and nothing is dropped. Default 256.
func WithMaxPendingEvents(n int) Option {
	return func(c *config) error {
		c.maxPendingEvents = n
		return atLeast("max pending events", n, 1)
	}
}

// WithMaxNamespaces bounds the namespaces one connection may join at once;
// a CONNECT beyond it is refused with a connect_error "Too many
// namespaces". Default 64. (Node has no such limit.)
func WithMaxNamespaces(n int) Option {
	return func(c *config) error {
		c.maxNamespaces = n
		return atLeast("max namespaces", n, 1)
	}
}

// WithMaxPendingAcks bounds the acknowledgements the server awaits from one
// socket ([Socket.EmitWithAck] calls, and broadcasts with acknowledgements,
// not yet answered). A call beyond it fails at once with [ErrTooManyAcks].
// Default 1024. (Node has no such limit.)
func WithMaxPendingAcks(n int) Option {
	return func(c *config) error {
		c.maxPendingAcks = n
		return atLeast("max pending acks", n, 1)
	}
}

// WithMaxConcurrentHandshakes bounds the new sessions being opened at once:
// handshake requests that have passed the origin and protocol checks and
// are in the [WithAllowRequest] hook or being set up. A handshake beyond it
// is refused at once with HTTP 503, a Retry-After header and the JSON body
// {"code":6,"message":"Too many concurrent handshakes"}; socket.io-client
// treats that as a failed attempt and retries after its reconnection
// delay. It keeps a slow hook (one that asks a remote service) or a burst
// of reconnections from piling up goroutines without bound. Requests of
// open sessions are not counted. Default 1024. (Node has no such limit.)
func WithMaxConcurrentHandshakes(n int) Option {
	return func(c *config) error {
		c.maxHandshakes = n
		return atLeast("max concurrent handshakes", n, 1)
	}
}
