package cache_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cirkelline/infra/cache"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestFromLookup(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{
			cache.EnvURL: "rediss://:s3cr3t%40x@master.redis.cache.amazonaws.com:6379/0",
			cache.EnvDB:  "2", cache.EnvMaxConnections: "20", cache.EnvTLS: "true",
		}
	}
	opts, err := cache.FromLookup(lookup(base()))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Addr != "master.redis.cache.amazonaws.com:6379" || opts.Password != "s3cr3t@x" || opts.DB != 2 || opts.PoolSize != 20 ||
		opts.TLSConfig == nil || opts.TLSConfig.ServerName != "master.redis.cache.amazonaws.com" {
		t.Errorf("options %+v", opts)
	}

	plain := map[string]string{cache.EnvURL: "redis://cirkelline-redis:6379\n"}
	if opts, err := cache.FromLookup(lookup(plain)); err != nil || opts.TLSConfig != nil || opts.DB != 0 || opts.PoolSize != 0 {
		t.Errorf("plain url: %+v %v (pool size 0 means the default 50)", opts, err)
	}
	if _, err := cache.FromLookup(lookup(map[string]string{})); err != cache.ErrNoRedis {
		t.Errorf("no REDIS_URL: %v, want ErrNoRedis", err)
	}

	bad := []struct {
		name  string
		set   map[string]string
		wants []string
	}{
		{"malformed url", map[string]string{cache.EnvURL: "http://:pw@host"}, []string{"REDIS_URL", "rediss://", "xxxxx"}},
		{"unparsable url keeps its password hidden", map[string]string{cache.EnvURL: "redis://:s3cr3t@host:badport/0"}, []string{"REDIS_URL", "redis://xxxxx@host:badport/0"}},
		{"url without port", map[string]string{cache.EnvURL: "redis://host"}, []string{"REDIS_URL"}},
		{"url db out of range", map[string]string{cache.EnvURL: "redis://host:6379/16", cache.EnvDB: ""}, []string{"REDIS_URL path", "16 is out of range 0–15"}},
		{"db out of range", map[string]string{cache.EnvDB: "16"}, []string{"REDIS_DB", "16 is out of range 0–15"}},
		{"db not a number", map[string]string{cache.EnvDB: "zero"}, []string{"REDIS_DB", `"zero"`}},
		{"pool size not a number", map[string]string{cache.EnvMaxConnections: "fifty"}, []string{"REDIS_MAX_CONNECTIONS", `"fifty"`}},
		{"pool size zero", map[string]string{cache.EnvMaxConnections: "0"}, []string{"REDIS_MAX_CONNECTIONS", "out of range"}},
		{"tls not a bool", map[string]string{cache.EnvTLS: "yes please"}, []string{"REDIS_TLS"}},
		{"tls off with rediss", map[string]string{cache.EnvTLS: "false"}, []string{"REDIS_TLS: is false but REDIS_URL uses rediss://"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			env := base()
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := cache.FromLookup(lookup(env))
			if err == nil {
				t.Fatal("want an error")
			}
			var envErr *cache.EnvError
			if !errors.Is(err, cache.ErrInvalidEnv) || !errors.As(err, &envErr) || !strings.HasPrefix(envErr.Var, "REDIS_") {
				t.Errorf("error %v: want an *EnvError naming the variable, matching ErrInvalidEnv", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestURLRoundTrip(t *testing.T) {
	raw := cache.URL(true, "redis.internal", 6380, `p@ss/w:rd`, 4)
	opts, err := cache.FromLookup(lookup(map[string]string{cache.EnvURL: raw}))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Addr != "redis.internal:6380" || opts.Password != `p@ss/w:rd` || opts.DB != 4 || opts.TLSConfig == nil {
		t.Errorf("%s -> %+v", raw, opts)
	}
}

// TestEnvContractReachesTLSAuthRedis feeds the URL the program writes
// (cache.URL, as workloads/redis.go builds it for ElastiCache) through
// FromLookup into a TLS + requirepass server: the password travels in the
// URL's userinfo, the DB in REDIS_DB.
func TestEnvContractReachesTLSAuthRedis(t *testing.T) {
	srv := startTLSRedis(t, "token/with:odd@chars")
	port, _ := strconv.Atoi(srv.Addr()[strings.LastIndex(srv.Addr(), ":")+1:])
	env := map[string]string{
		cache.EnvURL: cache.URL(true, "localhost", port, srv.Password, 0),
		cache.EnvDB:  "3", cache.EnvMaxConnections: "5", cache.EnvTLS: "true",
	}
	opts, err := cache.FromLookup(lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	opts.TLSConfig.RootCAs = srv.TLS.RootCAs // the test CA; ElastiCache's chains to the system roots
	c := cache.New(opts)
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "contract", "ok", time.Minute); err != nil || !c.UsingRedis() {
		t.Fatalf("set: %v, using Redis %v", err, c.UsingRedis())
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: srv.Password, TLSConfig: srv.TLS, DB: 3})
	defer raw.Close()
	if v, err := raw.Get(ctx, "cirkelline:contract").Result(); err != nil || v != `"ok"` {
		t.Errorf("value in DB 3 = %q, %v", v, err)
	}
}

// TestMalformedURLsNeverLeakThePassword: wherever an unescaped character
// moves the password (the path, the query, the fragment, the user name),
// the URL is refused and the error does not show it; ports outside
// 1–65535 are refused too.
func TestMalformedURLsNeverLeakThePassword(t *testing.T) {
	for _, raw := range []string{
		"redis://:s3cr3t#x@host:6379",
		"redis://:s3cr3t?x@host:6379",
		"redis://:s3cr3t/x@host:6379",
		"redis://:1234/s3cr3t@host:6379",
		"redis://s3cr3t@host",
		"redis://s3cr3t@host:6379",
		"rediss://s3cr3t@host:6379/0",
		"redis://host:6379?password=s3cr3t",
		"redis://host:6379/0#s3cr3t",
		"redis://:s3cr3t@host:0",
		"redis://:s3cr3t@host:99999",
		"redis://:s3cr3t@:6379",
		"s3cr3t",
	} {
		_, err := cache.FromLookup(lookup(map[string]string{cache.EnvURL: raw}))
		var envErr *cache.EnvError
		if !errors.As(err, &envErr) || envErr.Var != cache.EnvURL {
			t.Errorf("%s: %v, want an *EnvError for REDIS_URL", strings.ReplaceAll(raw, "s3cr3t", "SECRET"), err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error leaks the password: %v", err)
		}
	}
}
