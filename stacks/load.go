package stacks

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/cirkelline/infra/internal/validate"
)

// ErrInvalidConfig is wrapped by every error Load returns for bad config.
var ErrInvalidConfig = validate.ErrInvalid

// ConfigError is every problem Load found in one stack's config.
type ConfigError struct {
	Stack    string
	Problems []error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s: %d problem(s) in config, nothing was deployed:", e.Stack, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (e *ConfigError) Unwrap() []error { return e.Problems }

func configError(stack string, errs *validate.Errors) error {
	return &ConfigError{Stack: stack, Problems: errs.List()}
}

// LoadOption changes how Load treats its source.
type LoadOption func(*loadOptions)

type loadOptions struct {
	offlineSecrets *[]string
	checks         []func(*Config, *validate.Errors)
}

// Check adds a check that runs once the config is decoded, after the
// stack file's own validation; its problems are reported with the others.
// The composition layer passes the components' checks this way, so stacks
// need not know how components are wired.
func Check(check func(*Config, *validate.Errors)) LoadOption {
	return func(o *loadOptions) { o.checks = append(o.checks, check) }
}

// OfflineSecrets is for rendering without the stack's secrets: secret values
// are not available (render shows them as "[secret]"), so their content is
// not checked, and a required secret that is not set at all is replaced by
// "[secret]" and its key appended to missing. `pulumi up` never uses it.
func OfflineSecrets(missing *[]string) LoadOption {
	return func(o *loadOptions) { o.offlineSecrets = missing }
}

// Load reads the stack's config from src, applies Defaults, and validates
// it. Every problem is reported at once, each with its field path, value
// and fix; nothing is returned unless all of it is valid.
func Load(src Source, project, stack string, opts ...LoadOption) (*Config, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	cfg := Defaults()
	cfg.Project, cfg.Stack = project, stack
	var errs validate.Errors
	// Unknown keys are reported and skipped; a value of the wrong type stops
	// here, since checking the rest against defaults would only confuse.
	if !decodeKeys(&errs, src, &cfg) {
		return nil, configError(stack, &errs)
	}
	cfg.validateUnusedRedis(&errs) // before resolveNames fills in the defaults
	cfg.specDefaults()
	cfg.resolveNames()
	readSecrets(&errs, src, &cfg, o)
	readRedisToken(&errs, src, &cfg, o)
	readKubeconfig(&errs, src, &cfg)
	errs.Merge(cfg.validate(o.offlineSecrets == nil))
	for _, check := range o.checks {
		check(&cfg, &errs)
	}
	if errs.Len() > 0 {
		return nil, configError(stack, &errs)
	}
	return &cfg, nil
}

// Keys lists the project's config keys (without the project prefix), in
// declaration order; secret keys come from app.secretEnv instead.
func Keys() []string {
	t := reflect.TypeFor[Config]()
	var keys []string
	for i := range t.NumField() {
		if name := jsonName(t.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// topLevelFields maps each config key (the json tag) to its field index.
func topLevelFields() map[string]int {
	t := reflect.TypeFor[Config]()
	fields := map[string]int{}
	for i := range t.NumField() {
		if name := jsonName(t.Field(i)); name != "" {
			fields[name] = i
		}
	}
	return fields
}

// decodeKeys decodes each "<project>:<key>" onto the defaults in cfg,
// rejecting keys that are not config fields or secrets named by app.secretEnv.
func decodeKeys(errs *validate.Errors, src Source, cfg *Config) (decoded bool) {
	decoded = true
	prefix := cfg.Project + ":"
	fields := topLevelFields()
	// app and loadtest name the secret keys that may exist, so decode them first.
	namesSecrets := []string{"app", "loadtest"}
	for _, key := range namesSecrets {
		if raw, ok := src.Get(prefix + key); ok {
			decoded = decodeField(errs, key, raw, src.IsSecret(prefix+key), reflect.ValueOf(cfg).Elem().Field(fields[key])) && decoded
		}
	}
	secretKeys := map[string]bool{}
	for _, env := range cfg.secretEnvs() {
		for _, key := range env.keys {
			secretKeys[key] = true
		}
	}
	for _, full := range src.Keys() {
		key, ok := strings.CutPrefix(full, prefix)
		if !ok {
			misspeltProject(errs, full, cfg.Project)
			continue
		}
		if slices.Contains(namesSecrets, key) || secretKeys[key] {
			continue
		}
		i, known := fields[key]
		if !known {
			valid := append(slices.Sorted(maps.Keys(fields)), slices.Sorted(maps.Keys(secretKeys))...)
			errs.Add(full, nil, "is not a config key of this project", suggest(key, valid)+
				" (check Pulumi.<stack>.yaml; a secret key must first be named in app.secretEnv, or in loadtest.secretEnv with loadtest.enabled)")
			continue
		}
		raw, _ := src.Get(full)
		decoded = decodeField(errs, key, raw, src.IsSecret(full), reflect.ValueOf(cfg).Elem().Field(i)) && decoded
	}
	return decoded
}

// misspeltProject reports a key whose namespace is within two edits of the
// project's name ("cirkeline:networkPolicy"): Pulumi would hand it to no one,
// and the block of settings it holds would silently not apply. Other
// namespaces (kubernetes:, aws:, a provider's) are not this program's,
// and are left alone.
func misspeltProject(errs *validate.Errors, full, project string) {
	ns, key, ok := strings.Cut(full, ":")
	// At most two edits, fewer for a short name: "app" is not a typo of "aws".
	if !ok || ns == project || levenshtein(strings.ToLower(ns), strings.ToLower(project)) > min(2, len(project)/4) {
		return
	}
	errs.Add(full, nil, fmt.Sprintf("is in the namespace %q, which is not this project's, so nothing reads it", ns),
		fmt.Sprintf("did you mean %q? (rename the key in Pulumi.<stack>.yaml)", project+":"+key))
}

// decodeField decodes one config value onto dst (which holds the default).
// Scalars arrive as plain text, objects and arrays as JSON. Unknown keys are
// reported (with their path and the nearest valid key) and skipped; it
// returns false when the value could not be decoded at all.
func decodeField(errs *validate.Errors, path, raw string, secret bool, dst reflect.Value) bool {
	if dst.Kind() == reflect.String {
		dst.SetString(raw)
		return true
	}
	if strings.TrimSpace(raw) == "" {
		// "services:" with nothing after it.
		errs.Add(path, nil, "is empty", "write a value ("+kindName(dst.Type())+"), or remove the key to use the default")
		return false
	}
	var generic any
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		var shown any = raw
		if secret {
			shown = nil // never echo secret config
		}
		errs.Add(path, shown, "is not valid structured config ("+err.Error()+")", "write it as a YAML mapping or list in the stack file")
		return false
	}
	before := errs.Len()
	checkKeys(errs, path, generic, dst.Type())
	if err := json.Unmarshal([]byte(raw), dst.Addr().Interface()); err != nil {
		if errs.Len() > before {
			return false // checkKeys named it, with its full path
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := path
			if te.Field != "" {
				field = validate.Join(path, te.Field)
			}
			errs.Add(field, te.Value, fmt.Sprintf("has the wrong type: want %s", kindName(te.Type)), "write a "+kindName(te.Type))
			return false
		}
		errs.Add(path, nil, err.Error(), "")
		return false
	}
	return true
}

// UnmarshalJSON starts each services entry from DefaultService. Unknown
// keys are checked by Load (checkKeys), which reports them with their path.
func (s *ServiceConfig) UnmarshalJSON(b []byte) error {
	type plain ServiceConfig // without this method, to avoid recursion
	p := plain(DefaultService())
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = ServiceConfig(p)
	return nil
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "mapping"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// checkKeys walks a decoded JSON value beside the Go type it will decode
// into and reports every key the type does not have (with its full path and
// the nearest valid key) and every value of the wrong type.
func checkKeys(errs *validate.Errors, path string, v any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null: the default
	}
	if t == reflect.TypeFor[Secret]() {
		if _, ok := v.(string); !ok {
			errs.Add(path, nil, "has the wrong type: want a string", "set it with pulumi config set --secret --path "+path+" <value>")
		}
		return // never echo a secret's value
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) || t.Kind() != reflect.Struct && reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		// A value with its own format (a duration, an event written as
		// text): let it judge, at this path.
		raw, _ := json.Marshal(v)
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			errs.Add(path, v, err.Error(), "")
		}
		return
	}
	if !jsonKindFits(v, t) {
		errs.Add(path, v, fmt.Sprintf("has the wrong type: want %s", kindName(t)), "write a "+kindName(t))
		return
	}
	if n, ok := v.(float64); ok && isInt(t) && reflect.Zero(t).OverflowInt(int64(n)) {
		largest := int64(1)<<(t.Bits()-1) - 1
		var shown any = v
		if math.Abs(n) < 1<<62 {
			shown = int64(n) // 3000000000, not 3e+09
		}
		errs.Add(path, shown, fmt.Sprintf("is too large: at most %d fits", largest), fmt.Sprintf("write a whole number between %d and %d", -largest-1, largest))
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return // a type error; json reports it
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			ft, ok := fields[k]
			if !ok {
				errs.Add(validate.Join(path, k), nil, "is not a known field", suggest(k, slices.Sorted(maps.Keys(fields))))
				continue
			}
			checkKeys(errs, validate.Join(path, k), obj[k], ft)
		}
	case reflect.Slice:
		if list, ok := v.([]any); ok {
			for i, e := range list {
				checkKeys(errs, validate.Index(path, i), e, t.Elem())
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(obj)) {
				checkKeys(errs, validate.Key(path, k), obj[k], t.Elem())
			}
		}
	}
}

// collectFields maps json names to field types, flattening embedded structs
// as encoding/json does.
func collectFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			collectFields(f.Type, fields)
			continue
		}
		if name := jsonName(f); name != "" {
			fields[name] = f.Type
		}
	}
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// jsonKindFits reports whether a decoded JSON value can decode into t.
func jsonKindFits(v any, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(float64)
		return ok && n == math.Trunc(n)
	case reflect.Float32, reflect.Float64:
		_, ok := v.(float64)
		return ok
	case reflect.Bool:
		_, ok := v.(bool)
		return ok
	case reflect.String:
		_, ok := v.(string)
		return ok
	case reflect.Slice:
		_, ok := v.([]any)
		return ok
	case reflect.Map, reflect.Struct:
		_, ok := v.(map[string]any)
		return ok
	}
	return true
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// suggest names the closest valid key, or lists them all.
func suggest(key string, valid []string) string {
	best, bestDist := "", 3
	for _, v := range valid {
		if d := levenshtein(strings.ToLower(key), strings.ToLower(v)); d < bestDist {
			best, bestDist = v, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "valid keys: " + strings.Join(valid, ", ")
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// readSecrets resolves app.secretEnv from secret config. A key that is
// missing, or set without --secret, is an error that gives the command to run.
// secretEnv is one map of environment variables to secret config keys.
type secretEnv struct {
	path string
	keys map[string]string
	into *map[string]Secret
}

// secretEnvs are the maps that name secret config keys: the app's, and the
// load test's when it is enabled.
func (c *Config) secretEnvs() []secretEnv {
	envs := []secretEnv{{"app.secretEnv", c.App.SecretEnv, &c.Secrets}}
	if c.LoadTest.Enabled {
		envs = append(envs, secretEnv{"loadtest.secretEnv", c.LoadTest.secretEnvOrDefault(), &c.LoadTestSecrets})
	}
	return envs
}

func readSecrets(errs *validate.Errors, src Source, cfg *Config, o loadOptions) {
	for _, env := range cfg.secretEnvs() {
		*env.into = readSecretEnv(errs, src, cfg, o, env)
	}
}

func readSecretEnv(errs *validate.Errors, src Source, cfg *Config, o loadOptions, env secretEnv) map[string]Secret {
	secrets := map[string]Secret{}
	for _, name := range slices.Sorted(maps.Keys(env.keys)) {
		key := env.keys[name]
		if key == "" {
			continue // dropped default
		}
		path := validate.Key(env.path, name)
		full := cfg.Project + ":" + key
		fix := fmt.Sprintf("run: pulumi config set --secret %s <value> --stack %s", key, cfg.Stack)
		v, ok := src.Get(full)
		switch {
		case !ok && o.offlineSecrets != nil:
			*o.offlineSecrets = append(*o.offlineSecrets, full)
			secrets[name] = NewSecret(Redacted)
		case !ok:
			errs.Add(path, nil, fmt.Sprintf("secret config %q is not set", full), fix)
		case !src.IsSecret(full):
			errs.Add(path, nil, fmt.Sprintf("%q is stored in plain text in Pulumi.%s.yaml", full, cfg.Stack),
				fix+" (it replaces the plain value with an encrypted one; rotate the value, it was in plain text)")
		case v == "":
			errs.Add(path, nil, fmt.Sprintf("secret config %q is empty", full), fix)
		default:
			secrets[name] = NewSecret(v)
		}
	}
	return secrets
}

// readKubeconfig checks that cluster.kubeconfig, when set, came from secret
// config: it holds the cluster's credentials.
func readKubeconfig(errs *validate.Errors, src Source, cfg *Config) {
	if !cfg.Cluster.Kubeconfig.IsZero() && !src.IsSecret(cfg.Project+":cluster") {
		errs.Add("cluster.kubeconfig", nil, fmt.Sprintf("is stored in plain text in Pulumi.%s.yaml", cfg.Stack),
			fmt.Sprintf(`run: pulumi config set --secret --path cluster.kubeconfig "$(cat kubeconfig)" --stack %s (it encrypts the value; rotate the credentials, they were in plain text)`, cfg.Stack))
	}
}

// readRedisToken checks that redis.authToken, when set, came from secret
// config, and stands in for it offline when it is missing.
func readRedisToken(errs *validate.Errors, src Source, cfg *Config, o loadOptions) {
	full := cfg.Project + ":redis"
	switch {
	case !cfg.Redis.AuthToken.IsZero() && !src.IsSecret(full):
		errs.Add("redis.authToken", nil, fmt.Sprintf("is stored in plain text in Pulumi.%s.yaml", cfg.Stack),
			fmt.Sprintf("run: pulumi config set --secret --path redis.authToken <token> --stack %s (it encrypts the value; rotate it, it was in plain text)", cfg.Stack))
	case cfg.Redis.AuthToken.IsZero() && cfg.Redis.needsToken() && o.offlineSecrets != nil:
		// Only where `pulumi up` would require one: a stand-in token where
		// none is needed would fail checks (AUTH without TLS) that up passes.
		*o.offlineSecrets = append(*o.offlineSecrets, full+".authToken")
		cfg.Redis.AuthToken = NewSecret(Redacted)
	}
}
