// Package redisenv is the env contract between the infrastructure program
// and the cache library: the REDIS_* variable names, the writer (Env.Vars,
// URL) and the parser (Parse). It imports nothing but the standard library,
// so the Pulumi program writes the contract without linking a Redis client;
// services read it through cache.FromEnv.
package redisenv

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// The env contract between the infrastructure program and the cache library.
// The program (workloads/redis.go) writes exactly these variables into the
// pods of every service that sets `redis: true`, and Parse reads them:
//
//	REDIS_URL              redis://[:password@]host:port[/db], or rediss:// for TLS.
//	                       The password travels only inside the URL (a Kubernetes Secret).
//	                       Required; without it Parse returns ErrNoRedis and the cache
//	                       runs on its in-memory fallback alone.
//	REDIS_DB               logical database, 0–15; overrides the URL's /db. Default 0.
//	REDIS_MAX_CONNECTIONS  connection pool size, 1–10000. Default 50 (the seed's).
//	REDIS_TLS              "true" or "false". Default: true for rediss://, else false;
//	                       "false" with rediss:// is an error, "true" upgrades redis://.
const (
	EnvURL            = "REDIS_URL"
	EnvDB             = "REDIS_DB"
	EnvMaxConnections = "REDIS_MAX_CONNECTIONS"
	EnvTLS            = "REDIS_TLS"
)

// Env is the contract's variables as typed values, so the program can write
// them and the library read them from one definition.
type Env struct {
	// URL is REDIS_URL.
	URL string
	// DB is REDIS_DB.
	DB int
	// MaxConnections is REDIS_MAX_CONNECTIONS.
	MaxConnections int
	// TLS is REDIS_TLS.
	TLS bool
}

// Vars returns the env as the program writes it: REDIS_URL (secret) and the
// three plain variables.
func (e Env) Vars() (secret, plain map[string]string) {
	return map[string]string{EnvURL: e.URL}, map[string]string{
		EnvDB: strconv.Itoa(e.DB), EnvMaxConnections: strconv.Itoa(e.MaxConnections), EnvTLS: strconv.FormatBool(e.TLS),
	}
}

// URL builds a REDIS_URL; the password is escaped into the userinfo.
func URL(tls bool, host string, port int, password string, db int) string {
	u := url.URL{Scheme: "redis", Host: fmt.Sprintf("%s:%d", host, port), Path: "/" + strconv.Itoa(db)}
	if tls {
		u.Scheme = "rediss"
	}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}

// ErrNoRedis is returned by Parse when REDIS_URL is not set.
var ErrNoRedis = errors.New("cache: " + EnvURL + " is not set")

// ErrInvalidEnv is what every *EnvError matches with errors.Is: a variable
// of the contract is set but wrong.
var ErrInvalidEnv = errors.New("cache: invalid Redis env")

// EnvError is a variable of the contract that Parse rejects. Its message
// names the variable and never holds the password.
type EnvError struct {
	// Var is the variable, e.g. EnvDB ("REDIS_URL path" for the URL's /db).
	Var string
	// Reason says what is wrong and what is wanted.
	Reason string
}

func (e *EnvError) Error() string { return "cache: " + e.Var + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidEnv) true.
func (e *EnvError) Unwrap() error { return ErrInvalidEnv }

// Config is what the contract says about the Redis to use.
type Config struct {
	// Addr is host:port.
	Addr string
	// Username and Password from the URL's userinfo.
	Username, Password string
	// DB from REDIS_DB, else the URL's /db; 0 when neither is set.
	DB int
	// PoolSize from REDIS_MAX_CONNECTIONS; 0 when unset (the library's default).
	PoolSize int
	// TLS is on for rediss:// or REDIS_TLS=true.
	TLS bool
	// ServerName is the host to verify the TLS certificate against.
	ServerName string
}

// FromEnv reads the contract from the process environment.
func FromEnv() (Config, error) { return Parse(os.LookupEnv) }

// Parse reads the contract through lookup (os.LookupEnv, or a map in tests).
// Errors are *EnvError naming the variable; the URL in a message never
// shows its userinfo, query or fragment, wherever the password ended up.
func Parse(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	raw, ok := lookup(EnvURL)
	raw = strings.TrimSpace(raw) // a Secret made from a file often ends in a newline
	if !ok || raw == "" {
		return cfg, ErrNoRedis
	}
	u, err := parseURL(raw)
	if err != nil {
		return cfg, err
	}
	cfg.Addr = u.Host
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	cfg.TLS = u.Scheme == "rediss"
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		if cfg.DB, err = parseRange(EnvURL+" path", p, 0, 15); err != nil {
			return cfg, err
		}
	}
	if v, ok := lookup(EnvDB); ok && v != "" {
		if cfg.DB, err = parseRange(EnvDB, v, 0, 15); err != nil {
			return cfg, err
		}
	}
	if v, ok := lookup(EnvMaxConnections); ok && v != "" {
		if cfg.PoolSize, err = parseRange(EnvMaxConnections, v, 1, 10000); err != nil {
			return cfg, err
		}
	}
	if v, ok := lookup(EnvTLS); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, &EnvError{EnvTLS, fmt.Sprintf("want true or false, got %q", v)}
		}
		if !b && cfg.TLS {
			return cfg, &EnvError{EnvTLS, fmt.Sprintf("is false but %s uses rediss:// (TLS); make them agree", EnvURL)}
		}
		cfg.TLS = cfg.TLS || b
	}
	if cfg.TLS {
		cfg.ServerName = u.Hostname()
	}
	return cfg, nil
}

// parseURL checks REDIS_URL's shape before and after url.Parse, so that a
// password that is not percent-escaped is an error, never a silent change
// of host, port or path (url.Parse takes an unescaped '/', '?' or '#' in
// it as the start of the path, query or fragment).
func parseURL(raw string) (*url.URL, error) {
	const want = "want redis://[:password@]host:port[/db] or rediss://... (the password percent-escaped, as redisenv.URL writes it)"
	shape := redactURL(raw)
	bad := func(problem string) error {
		return &EnvError{EnvURL, fmt.Sprintf("%s: %s, got %q", problem, want, shape)}
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != "redis" && scheme != "rediss") {
		return nil, bad("scheme must be redis or rediss")
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 && strings.ContainsAny(rest[:at], "/?#") {
		return nil, bad("the password holds an unescaped '/', '?' or '#'")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad("malformed")
	}
	switch {
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, bad("a query or fragment is not part of the contract (the password goes in the userinfo)")
	case u.User != nil && !hasPassword(u.User):
		return nil, bad("a user name without a password: an AUTH token goes after a colon, redis://:TOKEN@host:port")
	case u.Hostname() == "":
		return nil, bad("no host")
	case u.Port() == "":
		return nil, bad("no port")
	}
	if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
		return nil, bad(fmt.Sprintf("port %s is out of range 1–65535", u.Port()))
	}
	if strings.Count(u.Path, "/") > 1 {
		return nil, bad("the path is only the database number")
	}
	return u, nil
}

func hasPassword(u *url.Userinfo) bool { _, ok := u.Password(); return ok }

func parseRange(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, &EnvError{name, fmt.Sprintf("want a whole number, got %q", v)}
	}
	if n < lo || n > hi {
		return 0, &EnvError{name, fmt.Sprintf("%d is out of range %d–%d", n, lo, hi)}
	}
	return n, nil
}

// redactURL is raw for error messages: the userinfo (up to the last '@',
// wherever the password's unescaped characters put the URL's other parts)
// becomes xxxxx, and a query or fragment is cut to "?xxxxx".
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	} else {
		scheme += "://"
	}
	user := ""
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, rest = "xxxxx@", rest[at+1:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i] + "?xxxxx"
	}
	if scheme == "" && user == "" && rest == raw {
		return "xxxxx" // not a URL at all: it may be the token itself
	}
	return scheme + user + rest
}
