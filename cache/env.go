package cache

import (
	"crypto/tls"
	"os"

	"github.com/cirkelline/infra/cache/redisenv"
)

// The env contract's variable names; see package redisenv, which holds the
// contract without a Redis client so the infrastructure program can write it.
const (
	EnvURL            = redisenv.EnvURL
	EnvDB             = redisenv.EnvDB
	EnvMaxConnections = redisenv.EnvMaxConnections
	EnvTLS            = redisenv.EnvTLS
)

// Env is redisenv.Env: the contract's variables as typed values.
type Env = redisenv.Env

// EnvError is redisenv.EnvError: a variable of the contract that FromLookup
// rejects, named in the message, never with the password.
type EnvError = redisenv.EnvError

// ErrNoRedis is returned by FromEnv when REDIS_URL is not set.
var ErrNoRedis = redisenv.ErrNoRedis

// ErrInvalidEnv is what every *EnvError matches with errors.Is.
var ErrInvalidEnv = redisenv.ErrInvalidEnv

// URL builds a REDIS_URL; the password is escaped into the userinfo.
func URL(tls bool, host string, port int, password string, db int) string {
	return redisenv.URL(tls, host, port, password, db)
}

// FromEnv reads the env contract from the process environment.
func FromEnv() (Options, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the env contract through lookup (os.LookupEnv, or a map
// in tests) into Options with every other field at its default.
func FromLookup(lookup func(string) (string, bool)) (Options, error) {
	cfg, err := redisenv.Parse(lookup)
	if err != nil {
		return Options{}, err
	}
	opts := Options{Addr: cfg.Addr, Username: cfg.Username, Password: cfg.Password, DB: cfg.DB, PoolSize: cfg.PoolSize}
	if cfg.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	}
	return opts, nil
}
