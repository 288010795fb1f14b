package cache_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cirkelline/infra/cache"
)

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func Example() {
	// In a service: opts, err := cache.FromEnv() reads what the program
	// injects; here the cache runs on its in-memory backend.
	c := cache.New(cache.Options{})
	defer c.Close()
	ctx := context.Background()

	users := cache.Users[user](c) // 30 minutes, "user:" keys
	_ = users.Set(ctx, "42", user{ID: "42", Name: "Ada"})
	u, err := users.Get(ctx, "42")
	fmt.Println(u.Name, err)

	_, err = users.Get(ctx, "7")
	fmt.Println(err)
	// Output:
	// Ada <nil>
	// cache: miss
}

func ExampleCached() {
	c := cache.New(cache.Options{})
	defer c.Close()
	ctx := context.Background()
	loads := 0
	expensive := func(context.Context) (string, error) {
		loads++
		return "report", nil
	}
	for range 3 {
		v, _ := cache.Cached(ctx, c, "report:today", time.Minute, expensive)
		fmt.Println(v)
	}
	fmt.Println("loads:", loads)
	// Output:
	// report
	// report
	// report
	// loads: 1
}

func ExampleFromLookup() {
	env := map[string]string{
		cache.EnvURL:            "rediss://:token-from-the-secret@master.cirkelline.cache.amazonaws.com:6379/0",
		cache.EnvMaxConnections: "50",
		cache.EnvTLS:            "true",
	}
	opts, err := cache.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(opts.Addr, opts.DB, opts.PoolSize, opts.TLSConfig != nil, err)
	// Output: master.cirkelline.cache.amazonaws.com:6379 0 50 true <nil>
}

func ExampleLimit_String() {
	fmt.Println(cache.PerSecond(10))
	fmt.Println(cache.PerMinute(100))
	// Output:
	// 10 req/s
	// 100 req/min
}

func ExampleRateLimit() {
	c := cache.New(cache.Options{})
	defer c.Close()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	limit, err := cache.RateLimit(c, cache.PerMinute(2), cache.MiddlewareOptions{})
	if err != nil {
		log.Fatal(err) // an invalid limit (no Period, say) is refused here
	}
	limited := limit(api)
	for range 3 {
		w := httptest.NewRecorder()
		limited.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		fmt.Println(w.Code, w.Header().Get("X-RateLimit-Remaining"))
	}
	// Output:
	// 200 1
	// 200 0
	// 429 0
}

func ExampleCache_IncrRateLimit() {
	c := cache.New(cache.Options{})
	defer c.Close()
	ctx := context.Background()
	for range 3 {
		count, reset, _ := c.IncrRateLimit(ctx, "user:42", time.Minute)
		fmt.Println(count, reset <= time.Minute)
	}
	// Output:
	// 1 true
	// 2 true
	// 3 true
}
