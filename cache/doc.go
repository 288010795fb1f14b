// Package cache is the Redis cache services deployed by this project use:
// get/set with TTL and JSON values under a key prefix, typed caches with the
// seed's TTLs (sessions 1 h, users 30 min, generic 5 min), get-or-load with
// singleflight (Cached), and fixed-window rate limiting with net/http
// middleware.
//
// When Redis is unreachable or too slow every call goes to an in-process
// LRU (1000 items and 32 MiB by default) instead; the caller never sees the
// error. Redis's answer about one call (ErrRejected) and the caller's own
// ended context are that call's error, not an outage. A circuit
// breaker keeps an outage from costing a dial timeout per call, a
// background probe returns to Redis when it answers again, after deleting
// from Redis the keys changed in memory meanwhile (so a session deleted
// during the outage does not come back), and each transition is logged
// once as a warning. Rate limits count per process during an outage.
//
// Configuration comes from the env contract the infrastructure program
// injects (see EnvURL); FromEnv reads it.
package cache
