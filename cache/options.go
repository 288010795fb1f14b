package cache

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Cache. The zero value of every field means its default.
type Options struct {
	// Addr is Redis's host:port. Empty: no Redis, memory only.
	Addr string
	// Username and Password for AUTH (ElastiCache's AUTH token is the password).
	Username, Password string
	// DB is the logical database. Default 0.
	DB int
	// TLSConfig turns on TLS (rediss://, ElastiCache in-transit encryption). Default: none.
	TLSConfig *tls.Config
	// PoolSize is the connection pool size (REDIS_MAX_CONNECTIONS). Default 50.
	PoolSize int
	// DialTimeout for a new connection, tried once (the circuit breaker, not
	// go-redis's retries, handles failures): the longest a call waits for a
	// Redis that has just become unreachable. Default 2 s.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout per command: how slow Redis may be before
	// the call counts as an outage and goes to memory. A caller's context
	// deadline shorter than these ends the call earlier, with the caller's
	// error, and is not an outage. Default 500 ms each.
	ReadTimeout, WriteTimeout time.Duration
	// Prefix is prepended to every key. Default "cirkelline:".
	Prefix string
	// DefaultTTL applies when a call passes ttl 0 (a negative ttl is
	// ErrInvalidTTL). Default 5 minutes.
	DefaultTTL time.Duration
	// LocalSize is how many items the in-memory fallback holds. Default 1000.
	// Up to 10 × LocalSize keys set or deleted during an outage are
	// remembered and deleted from Redis before calls return to it.
	LocalSize int
	// LocalMaxBytes bounds the in-memory fallback's keys and values in bytes
	// (the least recently used go first). A single value larger than this is
	// not kept in memory at all: it lives only in Redis, and is a miss during
	// an outage. Default 32 MiB.
	LocalMaxBytes int64
	// ProbeInterval is how often an open circuit pings Redis to return to
	// it; a recovered Redis is used again within one interval (plus up to
	// 1 s after a long outage, when go-redis redials on its own). Default 5 s.
	ProbeInterval time.Duration
	// Logger receives the outage and recovery warnings. Default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, is where the cache registers its Prometheus
	// metrics (the Metric* names; prometheus.DefaultRegisterer, or a
	// service's own registry). Caches given one registry share the series;
	// wrap it (prometheus.WrapRegistererWith) to tell them apart. When a
	// name is taken by a collector of another shape the cache logs an
	// error and runs without metrics (MetricsErr). Default nil: no
	// metrics, and no cost on any call.
	Metrics prometheus.Registerer
}

func (o *Options) init() {
	if o.PoolSize == 0 {
		o.PoolSize = 50
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 500 * time.Millisecond
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 500 * time.Millisecond
	}
	if o.Prefix == "" {
		o.Prefix = "cirkelline:"
	}
	if o.DefaultTTL == 0 {
		o.DefaultTTL = 5 * time.Minute
	}
	if o.LocalSize == 0 {
		o.LocalSize = 1000
	}
	if o.LocalMaxBytes == 0 {
		o.LocalMaxBytes = 32 << 20
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// redacted is Options without its methods, so printing it does not recurse.
type redacted Options

func (o Options) redacted() redacted {
	r := redacted(o)
	if r.Password != "" {
		r.Password = "xxxxx"
	}
	return r
}

// String prints the options with the password hidden.
func (o Options) String() string { return fmt.Sprintf("%+v", o.redacted()) }

// GoString is String for %#v.
func (o Options) GoString() string { return "cache.Options" + o.String() }

// Format hides the password whatever the verb (%v, %+v, %s, %#v, ...).
func (o Options) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, o.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), o.redacted())
}

// LogValue hides the password from slog, whatever the handler (a JSON
// handler would otherwise print every exported field).
func (o Options) LogValue() slog.Value {
	password := ""
	if o.Password != "" {
		password = "xxxxx"
	}
	return slog.GroupValue(
		slog.String("addr", o.Addr), slog.String("username", o.Username), slog.String("password", password),
		slog.Int("db", o.DB), slog.Bool("tls", o.TLSConfig != nil), slog.Int("pool_size", o.PoolSize),
		slog.Duration("dial_timeout", o.DialTimeout), slog.Duration("read_timeout", o.ReadTimeout),
		slog.Duration("write_timeout", o.WriteTimeout), slog.String("prefix", o.Prefix),
		slog.Duration("default_ttl", o.DefaultTTL), slog.Int("local_size", o.LocalSize),
		slog.Int64("local_max_bytes", o.LocalMaxBytes), slog.Duration("probe_interval", o.ProbeInterval),
	)
}
