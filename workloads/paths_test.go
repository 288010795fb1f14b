package workloads_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/stacks"
)

// TestEveryProblemNamesASettableKey drives the checks with many broken
// stack files (FuzzLoad's seeds and corpus, and every settable key of
// every shipped stack set to values that break it) and resolves the path
// of every problem they report against the stack file's schema: a config
// key Pulumi.yaml declares, then the json tags of stacks.Config below it
// (as the loader decodes them), or else a key the stack file itself holds
// (a misspelt one, reported where the user wrote it). A problem about a
// derived name must name the key the user sets (issue 21:
// "redis.inCluster.name" for a namespace too long for its Redis).
func TestEveryProblemNamesASettableKey(t *testing.T) {
	project, err := workspace.LoadProject("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for key := range project.Config {
		declared[key] = true
	}
	inputs := brokenStackFiles(t, project)
	problems, unresolved := 0, map[string]string{}
	for _, in := range inputs {
		var found []*validate.FieldError
		t.Run(in.name, func(t *testing.T) { found = loadEnds(t, in.sc) })
		for _, p := range found {
			problems++
			if !settable(p.Path, declared) && !inSource(p.Path, in.sc.Values) {
				if _, seen := unresolved[p.Path]; !seen {
					unresolved[p.Path] = fmt.Sprintf("%s\n      from %s", p, in.name)
				}
			}
		}
	}
	if problems < 1000 {
		t.Errorf("only %d problems from %d broken stack files: the mutations no longer reach the checks", problems, len(inputs))
	}
	for _, path := range slices.Sorted(maps.Keys(unresolved)) {
		t.Errorf("%s: names no key a stack file sets:\n  %s", path, unresolved[path])
	}
	t.Logf("%d problems from %d broken stack files; %d paths unresolved", problems, len(inputs), len(unresolved))
}

type brokenInput struct {
	name string
	sc   *stackfile.StackConfig
}

// brokenStackFiles are FuzzLoad's seeds and corpus, and each shipped stack
// with one settable key set to a value that breaks it (mutations).
func brokenStackFiles(t *testing.T, project *workspace.Project) []brokenInput {
	t.Helper()
	var out []brokenInput
	add := func(name string, data []byte) {
		sc, err := stackfile.ParseStackConfig(project, "broken", data)
		if err != nil {
			return
		}
		out = append(out, brokenInput{name, sc})
	}
	files, _ := filepath.Glob("../Pulumi.*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range brokenVariants(t, data) {
			add(fmt.Sprintf("%s, broken variant %d", filepath.Base(file), i), v)
		}
		sc, err := stackfile.ParseStackConfig(project, "broken", data)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mutations(reflect.TypeFor[stacks.Config](), "") {
			for _, v := range m.values {
				values, ok := setValue(sc.Values, sc.Project, m.path, v)
				if !ok {
					continue
				}
				c := *sc
				c.Values = values
				out = append(out, brokenInput{fmt.Sprintf("%s with %s: %s", filepath.Base(file), m.path, jsonText(v)), &c})
			}
		}
	}
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzLoad/*")
	for _, file := range corpus {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// "go test fuzz v1\n[]byte(<Go string>)\n"
		_, lit, _ := strings.Cut(string(b), "[]byte(")
		data, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		add(file, []byte(data))
	}
	return out
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

type mutation struct {
	path   string
	values []any
}

// mutations are, for every settable field below path of type t, values
// that break it: empty, malformed, too long (names that grow past a
// Kubernetes limit once suffixed), zero, negative, huge, the wrong kind.
func mutations(t reflect.Type, path string) []mutation {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[stacks.Secret]() {
		return []mutation{{path, []any{"", "short", "has space/and@"}}}
	}
	if t.Kind() != reflect.Struct && reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return []mutation{{path, []any{"", "-1s", "forever", 0}}} // durations
	}
	switch t.Kind() {
	case reflect.Struct:
		var out []mutation
		for i := range t.NumField() {
			f := t.Field(i)
			name := jsonTag(f)
			if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
				out = append(out, mutations(f.Type, path)...)
				continue
			}
			if name == "" {
				continue
			}
			out = append(out, mutations(f.Type, validate.Join(path, name))...)
		}
		return out
	case reflect.Slice:
		out := []mutation{{path, []any{[]any{}, []any{nil}, "x"}}}
		return append(out, mutations(t.Elem(), validate.Index(path, 0))...)
	case reflect.Map:
		return []mutation{{path, []any{map[string]any{}, map[string]any{"Bad Key!": "v"}, map[string]any{"a": nil}, "x"}}}
	case reflect.String:
		return []mutation{{path, []any{"", "Bad_Value!", strings.Repeat("a", 40), strings.Repeat("a", 54), strings.Repeat("a", 58), strings.Repeat("a", 63), strings.Repeat("a", 300), 1}}}
	case reflect.Bool:
		return []mutation{{path, []any{true, false, "yes"}}}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return []mutation{{path, []any{0, -1, 1, 100000, 1.5, "x"}}}
	case reflect.Float32, reflect.Float64:
		return []mutation{{path, []any{0, -1, 0.5, 2, 1e9, "x"}}}
	}
	return nil
}

func jsonTag(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// setValue sets path (e.g. "services[0].hpa.maxReplicas") to v in a copy
// of a stack's values, creating mappings on the way; ok is false when the
// path runs through a list element the stack does not have.
func setValue(values map[string]string, project, path string, v any) (map[string]string, bool) {
	tokens := tokenize(path)
	key := project + ":" + tokens[0].name
	out := maps.Clone(values)
	if len(tokens) == 1 {
		if s, ok := v.(string); ok {
			out[key] = s
		} else {
			out[key] = jsonText2(v)
		}
		return out, true
	}
	var root any = map[string]any{}
	if raw, ok := values[key]; ok {
		if err := json.Unmarshal([]byte(raw), &root); err != nil {
			return nil, false
		}
	} else if tokens[1].index >= 0 {
		return nil, false
	}
	var set func(node any, rest []step) (any, bool)
	set = func(node any, rest []step) (any, bool) {
		if len(rest) == 0 {
			return v, true
		}
		tk := rest[0]
		if tk.index >= 0 {
			list, ok := node.([]any)
			if !ok || tk.index >= len(list) {
				return nil, false
			}
			e, ok := set(list[tk.index], rest[1:])
			list[tk.index] = e
			return list, ok
		}
		m, ok := node.(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		e, ok := set(m[tk.name], rest[1:])
		m[tk.name] = e
		return m, ok
	}
	root, ok := set(root, tokens[1:])
	if !ok {
		return nil, false
	}
	out[key] = jsonText2(root)
	return out, true
}

func jsonText2(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// step is one step of a path: a field or map key (name), or a list
// index (index >= 0).
type step struct {
	name  string
	index int
}

func tokenize(path string) []step {
	var out []step
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		out = append(out, step{name: name, index: -1})
		for rest != "" {
			n, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(n)
			if err != nil {
				// Not an index: part of a name (a map key with "[").
				out[len(out)-1].name += "[" + rest
				break
			}
			out = append(out, step{index: i})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

// settable reports whether path names a key of the stack file's schema: a
// top-level key Pulumi.yaml declares, and below it the fields of
// stacks.Config by their json tags (embedded structs flattened, as the
// loader decodes them), list elements by index and map entries by key.
func settable(path string, declared map[string]bool) bool {
	tokens := tokenize(path)
	if tokens[0].index >= 0 || !declared[tokens[0].name] {
		return false
	}
	f, ok := fieldByTag(reflect.TypeFor[stacks.Config](), tokens[0].name)
	return ok && resolves(f, tokens[1:])
}

func fieldByTag(t reflect.Type, name string) (reflect.Type, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			if ft, ok := fieldByTag(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if jsonTag(f) == name {
			return f.Type, true
		}
	}
	return nil, false
}

func resolves(t reflect.Type, rest []step) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if len(rest) == 0 {
		return true
	}
	tk := rest[0]
	switch t.Kind() {
	case reflect.Slice:
		return tk.index >= 0 && resolves(t.Elem(), rest[1:])
	case reflect.Map:
		// A key may hold dots (annotation keys): try each split.
		for n := 1; n <= len(rest); n++ {
			if rest[n-1].index >= 0 {
				break
			}
			if resolves(t.Elem(), rest[n:]) {
				return true
			}
		}
		return false
	case reflect.Struct:
		if tk.index >= 0 {
			return false
		}
		f, ok := fieldByTag(t, tk.name)
		return ok && resolves(f, rest[1:])
	}
	return false
}

// inSource reports whether path names a key the stack file itself holds
// (a full "project:key", or a path into one), as unknown keys are
// reported where the user wrote them.
func inSource(path string, values map[string]string) bool {
	if _, ok := values[path]; ok {
		return true
	}
	tokens := tokenize(path)
	for full, raw := range values {
		_, key, _ := strings.Cut(full, ":")
		if key != tokens[0].name || len(tokens) == 1 {
			continue
		}
		var v any
		if json.Unmarshal([]byte(raw), &v) == nil && present(v, tokens[1:]) {
			return true
		}
	}
	return false
}

func present(v any, rest []step) bool {
	if len(rest) == 0 {
		return true
	}
	switch x := v.(type) {
	case []any:
		return rest[0].index >= 0 && rest[0].index < len(x) && present(x[rest[0].index], rest[1:])
	case map[string]any:
		for n := 1; n <= len(rest); n++ {
			if rest[n-1].index >= 0 {
				break
			}
			var names []string
			for _, tk := range rest[:n] {
				names = append(names, tk.name)
			}
			if e, ok := x[strings.Join(names, ".")]; ok && present(e, rest[n:]) {
				return true
			}
		}
	}
	return false
}
