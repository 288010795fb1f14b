package cache_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cirkelline/infra/cache"
)

func TestRateLimitMiddleware(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c, _ := b.open(t)
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			h := mustRateLimit(t, c, cache.PerMinute(3), cache.MiddlewareOptions{TrustedProxyHeader: "X-Forwarded-For"})(ok)
			do := func(remote, xff string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodGet, "/api", nil)
				r.RemoteAddr = remote
				if xff != "" {
					r.Header.Set("X-Forwarded-For", xff)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			for i, want := range []string{"2", "1", "0"} {
				w := do("10.0.0.9:5555", "203.0.113.7")
				if w.Code != http.StatusNoContent || w.Header().Get("X-RateLimit-Remaining") != want || w.Header().Get("X-RateLimit-Limit") != "3" {
					t.Fatalf("request %d: %d remaining %q", i+1, w.Code, w.Header().Get("X-RateLimit-Remaining"))
				}
			}
			w := do("10.0.0.9:5555", "203.0.113.7")
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || w.Header().Get("X-RateLimit-Reset") == "" {
				t.Errorf("4th request: %d, headers %v", w.Code, w.Header())
			}
			// The ALB appends the address it saw: only the last entry counts,
			// so a client cannot pick its bucket by sending its own header.
			if w := do("10.0.0.9:5555", "198.51.100.1, 203.0.113.8"); w.Code != http.StatusNoContent {
				t.Errorf("another client behind the proxy: %d", w.Code)
			}
		})
	}
}

func TestMiddlewaresCountApart(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c, _ := b.open(t)
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
			login := mustRateLimit(t, c, cache.PerSecond(1), cache.MiddlewareOptions{})(ok)
			api := mustRateLimit(t, c, cache.PerMinute(100), cache.MiddlewareOptions{})(ok)
			do := func(h http.Handler) int {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				return w.Code
			}
			for range 3 {
				if code := do(api); code != http.StatusOK {
					t.Fatalf("api: %d", code)
				}
			}
			if code := do(login); code != http.StatusOK {
				t.Errorf("login after 3 api requests: %d; the two limits must not share a counter", code)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := cache.ClientIP(r, ""); got != "192.0.2.1" {
		t.Errorf("without a trusted header the header must be ignored, got %s", got)
	}
	if got := cache.ClientIP(r, "X-Forwarded-For"); got != "198.51.100.1" {
		t.Errorf("trusted header: %s", got)
	}
	r.Header.Set("X-Forwarded-For", "not-an-ip")
	if got := cache.ClientIP(r, "X-Forwarded-For"); got != "192.0.2.1" {
		t.Errorf("a malformed header falls back to the remote address, got %s", got)
	}
}

func mustRateLimit(t *testing.T, c *cache.Cache, limit cache.Limit, opts cache.MiddlewareOptions) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := cache.RateLimit(c, limit, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}
