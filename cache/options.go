package cache

import (
	"crypto/tls"
	"log/slog"
	"time"
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
	// ReadTimeout and WriteTimeout per command. Default 500 ms each.
	ReadTimeout, WriteTimeout time.Duration
	// Prefix is prepended to every key. Default "cirkelline:".
	Prefix string
	// DefaultTTL applies when a call passes ttl 0. Default 5 minutes.
	DefaultTTL time.Duration
	// LocalSize is how many items the in-memory fallback holds. Default 1000.
	// Up to 10 × LocalSize keys set or deleted during an outage are
	// remembered and deleted from Redis before calls return to it.
	LocalSize int
	// ProbeInterval is how often an open circuit pings Redis to return to
	// it; a recovered Redis is used again within one interval (plus up to
	// 1 s after a long outage, when go-redis redials on its own). Default 5 s.
	ProbeInterval time.Duration
	// Logger receives the outage and recovery warnings. Default slog.Default().
	Logger *slog.Logger
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
	if o.ProbeInterval == 0 {
		o.ProbeInterval = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}
