package workloads_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/workloads"
)

// FuzzLoad: no stack file makes the program panic. Every input that is a
// stack file at all (YAML Pulumi reads) ends in a plan, or in problems
// that each name a field; never in a panic. The seeds are the shipped
// stacks and broken variants of them (brokenVariants), and
// testdata/fuzz/FuzzLoad holds the inputs that once crashed it.
//
// CI runs it for a few seconds (.ci/run); for longer, by hand:
//
//	go test ./workloads -run '^$' -fuzz '^FuzzLoad$' -fuzztime 30m
//
// A crash is written to testdata/fuzz/FuzzLoad/<hash>: fix it and commit
// the file, which plain `go test` then replays every time.
func FuzzLoad(f *testing.F) {
	project, err := workspace.LoadProject("../Pulumi.yaml")
	if err != nil {
		f.Fatal(err)
	}
	files, _ := filepath.Glob("../Pulumi.*.yaml")
	if len(files) == 0 {
		f.Fatal("no stack files found")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		for _, v := range brokenVariants(f, data) {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		sc, err := stackfile.ParseStackConfig(project, "fuzz", file)
		if err != nil {
			return // not a stack file: the Pulumi CLI refuses it before the program runs
		}
		loadEnds(t, sc)
	})
}

// loadEnds loads a stack config as `pulumi up` does and as render does
// (secrets stood in for), and fails unless each ends in a plan or in
// problems with field paths; a panic fails the test by itself. It returns
// the problems of both.
func loadEnds(t *testing.T, sc *stackfile.StackConfig) []*validate.FieldError {
	t.Helper()
	var found []*validate.FieldError
	for _, offline := range []bool{false, true} {
		src := stacks.MapSource{Values: sc.Values, Secrets: sc.SecretKeys}
		var opts []stacks.LoadOption
		var missing []string
		if offline {
			opts = append(opts, stacks.OfflineSecrets(&missing))
		}
		plan, err := workloads.Load(src, sc.Project, sc.Stack, opts...)
		switch {
		case err == nil && plan != nil:
			// What render and up do with a plan, besides registering it.
			_ = plan.Warnings()
			_ = plan.CapacityNote()
			_ = plan.Config.CapacityReport()
			_ = workloads.LoadTestTargetURL(plan.Config)
		case err != nil && plan == nil:
			var cfgErr *stacks.ConfigError
			if !errors.As(err, &cfgErr) || len(cfgErr.Problems) == 0 {
				t.Fatalf("want problems in a *stacks.ConfigError, got %T: %v", err, err)
			}
			for _, p := range cfgErr.Problems {
				var fe *validate.FieldError
				if !errors.As(p, &fe) || fe.Path == "" {
					t.Fatalf("a problem without a field path: %v", p)
				}
				found = append(found, fe)
			}
		default:
			t.Fatalf("want a plan or problems, got plan %v and error %v", plan != nil, err)
		}
	}
	return found
}

// brokenVariants are a stack file with one thing broken each, as a new
// user might write it: the panic of issue 21 (an ingress target without
// a host), missing and empty blocks, nulls where pointers default,
// derived names that grow too long, and values of the wrong kind.
func brokenVariants(tb testing.TB, data []byte) [][]byte {
	tb.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		tb.Fatal(err)
	}
	mutations := []map[string]any{
		// Issue 21: loadtest.target.ingress with ingress.hosts: [].
		{"cirkelline:ingress.hosts": []any{}, "cirkelline:loadtest.enabled": true, "cirkelline:loadtest.allowProduction": true, "cirkelline:loadtest.target": map[string]any{"ingress": true}},
		{"cirkelline:ingress.enabled": false, "cirkelline:loadtest.enabled": true, "cirkelline:loadtest.target": map[string]any{"ingress": true}},
		{"cirkelline:loadtest.enabled": true, "cirkelline:loadtest.target": map[string]any{"service": "nope"}},
		{"cirkelline:loadtest.enabled": true, "cirkelline:loadtest.shape": "million-users"},
		{"cirkelline:loadtest.enabled": true, "cirkelline:loadtest.stages": []any{}},
		{"cirkelline:loadtest.enabled": true, "cirkelline:loadtest.vusPerRunner": -1},
		{"cirkelline:services": []any{}},
		{"cirkelline:services": nil},
		{"cirkelline:services": []any{map[string]any{}}},
		{"cirkelline:services": []any{map[string]any{"name": "a", "image": "a:1", "hpa": map[string]any{"minReplicas": 5, "maxReplicas": 2, "scaleUp": map[string]any{"selectPolicy": "Min", "periodSeconds": 0}}}}},
		{"cirkelline:ingress.routes": []any{}},
		{"cirkelline:ingress.deletionProtection": nil},
		{"cirkelline:ingress.accessLogs": nil},
		{"cirkelline:redis.mode": "in-cluster"},
		{"cirkelline:redis.mode": "elasticache", "cirkelline:redis.elasticache": map[string]any{"numCacheClusters": nil, "automaticFailover": nil, "multiAz": nil, "snapshotRetentionDays": nil, "protect": nil}},
		{"cirkelline:namespace": strings.Repeat("n", 63)},
		{"cirkelline:namespace": strings.Repeat("n", 58), "cirkelline:redis.mode": "in-cluster"},
		{"cirkelline:namespace": ""},
		{"cirkelline:cluster.capacity": map[string]any{"node": map[string]any{"cpu": "0", "memory": "1Gi"}, "nodes": 1}},
		{"cirkelline:cluster.karpenter": map[string]any{"enabled": true}},
		{"cirkelline:cluster.headroom": map[string]any{"enabled": true}, "cirkelline:services": []any{map[string]any{"name": "a", "image": "a:1", "hpa": map[string]any{"disabled": true}}}},
		{"cirkelline:monitoring.enabled": true, "cirkelline:loadtest.thresholds": map[string]any{"http_req_duration": []any{}}},
		// Counts the capacity plan would pack pod by pod (it hung).
		{"cirkelline:cluster.capacity": map[string]any{"node": map[string]any{"cpu": "4", "memory": "16Gi"}, "nodes": 3}, "cirkelline:services": []any{map[string]any{"name": "a", "image": "a:1", "hpa": map[string]any{"maxReplicas": 20000000}}}},
		{"cirkelline:cluster.capacity": map[string]any{"node": map[string]any{"cpu": "4", "memory": "16Gi"}, "autoscaled": true}, "cirkelline:loadtest.enabled": true, "cirkelline:loadtest.allowProduction": true, "cirkelline:loadtest.vusPerRunner": 1, "cirkelline:loadtest.stages": []any{map[string]any{"duration": "1m", "target": 1000000000}}},
		{"cirkelline:app": "DEBUG"},
		{"cirkelline:environment": map[string]any{}},
	}
	var out [][]byte
	for _, m := range mutations {
		cfg := map[string]any{}
		if c, ok := doc["config"].(map[string]any); ok {
			cfg = deepCopy(c).(map[string]any)
		}
		for path, v := range m {
			setPath(cfg, strings.Split(path, "."), v)
		}
		b, err := yaml.Marshal(map[string]any{"config": cfg})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// setPath sets a dotted path in nested mappings, creating them (and
// replacing a value that is not a mapping).
func setPath(m map[string]any, path []string, v any) {
	if len(path) == 1 {
		m[path[0]] = v
		return
	}
	next, ok := m[path[0]].(map[string]any)
	if !ok {
		next = map[string]any{}
		m[path[0]] = next
	}
	setPath(next, path[1:], v)
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}
