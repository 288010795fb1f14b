//go:build engine

package engine

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/workloads"
)

// passphrase encrypts the test stacks' secrets (the passphrase secrets
// provider reads PULUMI_CONFIG_PASSPHRASE).
const passphrase = "engine-lifecycle-test"

// opTimeout bounds one engine operation; the provider's own await timeouts
// are longer (10 minutes for a Deployment), so a hang fails here first.
const opTimeout = 8 * time.Minute

// ctxSource is the stacks.Source the inline program reads: the keys are the
// stack's config as the workspace holds it (`pulumi config --json`, which
// lists every key the engine passes the program), values and secrecy come
// from the engine through the pulumi.Context, as EnvSource reads them from
// the Go language host's environment under `pulumi up`.
type ctxSource struct {
	ctx  *pulumi.Context
	keys []string
}

func (s ctxSource) Keys() []string                { return s.keys }
func (s ctxSource) Get(key string) (string, bool) { return s.ctx.GetConfig(key) }
func (s ctxSource) IsSecret(key string) bool      { return s.ctx.IsConfigSecret(key) }

// appProgram is main.go's program (workloads.Program) as an inline program
// of stack: Load → Deploy → Export over the engine's config.
func appProgram(stack *auto.Stack) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := stack.GetAllConfig(context.Background())
		if err != nil {
			return fmt.Errorf("list the stack's config keys: %w", err)
		}
		return workloads.Program(ctxSource{ctx: ctx, keys: slices.Sorted(maps.Keys(cfg))})(ctx)
	}
}

// stackOptions say which stack to open where.
type stackOptions struct {
	// Stack is the stack's name; with Project "" it is one of the
	// repository's stacks: Pulumi.yaml and Pulumi.<Stack>.yaml are copied
	// into a temporary work directory, and the program is workloads.Program.
	Stack string
	// Project and Program make a fixture stack of another project instead.
	Project string
	Program pulumi.RunFunc
	// Backend is the file backend's folder (shared by the stacks of one
	// lifecycle, so stack references resolve).
	Backend string
	// Env is added to the engine's environment (KUBECONFIG).
	Env map[string]string
}

// openStack creates a stack in a new LocalWorkspace, the engine and plugin
// from hack/engine/build.sh, in a private PULUMI_HOME whose plugins are
// that build's, with automatic plugin downloads disabled.
func openStack(t *testing.T, o stackOptions) *auto.Stack {
	t.Helper()
	ctx := context.Background()
	workdir := t.TempDir()
	home := t.TempDir()
	if err := os.Symlink(filepath.Join(engineDir, "home", "plugins"), filepath.Join(home, "plugins")); err != nil {
		t.Fatal(err)
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: engineDir})
	if err != nil {
		t.Fatalf("the engine's CLI: %v", err)
	}
	env := map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + o.Backend,
		"PULUMI_CONFIG_PASSPHRASE": passphrase,
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		// Fail instead of downloading a plugin the build did not install
		// (sdk/go/common/env: DisableAutomaticPluginAcquisition).
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		// Keep the engine's own files out of the user's home.
		"PULUMI_HOME": home,
	}
	maps.Copy(env, o.Env)
	opts := []auto.LocalWorkspaceOption{
		auto.WorkDir(workdir), auto.Pulumi(cmd), auto.PulumiHome(home),
		auto.EnvVars(env), auto.SecretsProvider("passphrase"),
	}
	if o.Project == "" {
		for _, f := range []string{"Pulumi.yaml", "Pulumi." + o.Stack + ".yaml"} {
			b, err := os.ReadFile(filepath.Join(repoRoot(), f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(workdir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		opts = append(opts, auto.Project(workspace.Project{Name: tokens.PackageName(o.Project), Runtime: workspace.NewProjectRuntimeInfo("go", nil)}))
	}
	ws, err := auto.NewLocalWorkspace(ctx, opts...)
	if err != nil {
		t.Fatalf("workspace: %v", err)
	}
	s, err := auto.NewStack(ctx, o.Stack, ws)
	if err != nil {
		t.Fatalf("create stack %s: %v", o.Stack, err)
	}
	if o.Program != nil {
		ws.SetProgram(o.Program)
	} else {
		ws.SetProgram(appProgram(&s))
	}
	return &s
}

// setSecret sets a secret as `pulumi config set --secret [--path]` would;
// key is without the project ("jwtSecret", "redis.authToken").
func setSecret(t *testing.T, s *auto.Stack, key, value string) {
	t.Helper()
	if err := s.SetConfigWithOptions(context.Background(), key, auto.ConfigValue{Value: value, Secret: true}, &auto.ConfigOptions{Path: strings.Contains(key, ".")}); err != nil {
		t.Fatalf("config set --secret %s: %v", key, err)
	}
}

// setPath sets a plain value as `pulumi config set --path` would.
func setPath(t *testing.T, s *auto.Stack, key, value string) {
	t.Helper()
	if err := s.SetConfigWithOptions(context.Background(), key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true}); err != nil {
		t.Fatalf("config set --path %s: %v", key, err)
	}
}

func removePath(t *testing.T, s *auto.Stack, key string) {
	t.Helper()
	if err := s.RemoveConfigWithOptions(context.Background(), key, &auto.ConfigOptions{Path: true}); err != nil {
		t.Fatalf("config rm --path %s: %v", key, err)
	}
}

// run is one engine operation: its events, each with the time it arrived
// (the events come over gRPC as the engine emits them; the engine's own
// Timestamp is in whole seconds), and its progress output for failures.
type run struct {
	events   []events.EngineEvent
	at       []time.Time
	began    time.Time
	ended    time.Time
	progress bytes.Buffer
	err      error
}

// collect starts receiving events; the Automation API closes the channel
// when the operation's event stream ends (eventsServer.StreamEvents).
func (r *run) collect() (chan events.EngineEvent, func()) {
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	r.began = time.Now()
	go func() {
		defer close(done)
		for e := range ch {
			r.events = append(r.events, e)
			r.at = append(r.at, time.Now())
		}
	}()
	return ch, func() { <-done }
}

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

func up(s *auto.Stack, opts ...optup.Option) *run {
	r := &run{}
	ch, wait := r.collect()
	ctx, cancel := opContext()
	defer cancel()
	_, r.err = s.Up(ctx, append(opts, optup.EventStreams(ch), optup.ProgressStreams(&r.progress), optup.ErrorProgressStreams(&r.progress))...)
	r.ended = time.Now()
	wait()
	return r
}

func preview(s *auto.Stack, opts ...optpreview.Option) *run {
	r := &run{}
	ch, wait := r.collect()
	ctx, cancel := opContext()
	defer cancel()
	_, r.err = s.Preview(ctx, append(opts, optpreview.EventStreams(ch), optpreview.ProgressStreams(&r.progress), optpreview.ErrorProgressStreams(&r.progress))...)
	r.ended = time.Now()
	wait()
	return r
}

func refresh(s *auto.Stack) *run {
	r := &run{}
	ch, wait := r.collect()
	ctx, cancel := opContext()
	defer cancel()
	_, r.err = s.Refresh(ctx, optrefresh.EventStreams(ch), optrefresh.ProgressStreams(&r.progress), optrefresh.ErrorProgressStreams(&r.progress))
	r.ended = time.Now()
	wait()
	return r
}

func destroy(s *auto.Stack) *run {
	r := &run{}
	ch, wait := r.collect()
	ctx, cancel := opContext()
	defer cancel()
	_, r.err = s.Destroy(ctx, optdestroy.EventStreams(ch), optdestroy.ProgressStreams(&r.progress), optdestroy.ErrorProgressStreams(&r.progress))
	r.ended = time.Now()
	wait()
	return r
}

// must fails the test when the operation failed, with its progress output.
func (r *run) must(t *testing.T, what string) *run {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v\n%s", what, r.err, r.progress.String())
	}
	return r
}

// steps are the engine's resource steps (ResourcePreEvent), in order.
func (r *run) steps() []apitype.StepEventMetadata {
	var out []apitype.StepEventMetadata
	for _, e := range r.events {
		if e.ResourcePreEvent != nil {
			out = append(out, e.ResourcePreEvent.Metadata)
		}
	}
	return out
}

// changes are the steps that do something ("update Deployment
// ns/name"), sorted; unchanged resources (same) and reads of other stacks'
// outputs (a StackReference is read on every run) are left out.
func (r *run) changes() []string {
	var out []string
	for _, m := range r.steps() {
		// A refresh steps every resource (op refresh); it found drift only
		// where the step carries a diff.
		if m.Op == apitype.OpSame || stackReferenceRead(m) || (m.Op == apitype.OpRefresh && len(m.Diffs) == 0 && len(m.DetailedDiff) == 0) {
			continue
		}
		out = append(out, string(m.Op)+" "+describe(m))
	}
	slices.Sort(out)
	return out
}

// stackReferenceRead is the engine reading another stack's outputs (a
// StackReference is a read resource: read, or read-replacement when it
// names another stack), which changes nothing.
func stackReferenceRead(m apitype.StepEventMetadata) bool {
	return m.Type == "pulumi:pulumi:StackReference" && (m.Op == apitype.OpRead || m.Op == apitype.OpReadReplacement)
}

// errors are the engine's error diagnostics (DiagnosticEvent, severity
// error), the messages a user is shown.
func (r *run) errors() []string {
	var out []string
	for _, e := range r.events {
		if d := e.DiagnosticEvent; d != nil && d.Severity == "error" {
			out = append(out, d.Message)
		}
	}
	return out
}

// describe names a step's resource: a Kubernetes object by kind,
// namespace and name (as render lists it), anything else by type and
// logical name.
func describe(m apitype.StepEventMetadata) string {
	if k, ok := objectKey(m); ok {
		return k.String()
	}
	return m.Type + " " + urnName(m.URN)
}

// key identifies a Kubernetes object as render lists it.
type key struct{ Kind, Namespace, Name string }

func (k key) String() string {
	if k.Namespace == "" {
		return k.Kind + " " + k.Name
	}
	return k.Kind + " " + k.Namespace + "/" + k.Name
}

// objectKey reads kind and metadata from a step's state: the new one's
// outputs or inputs, or for a delete the old one's.
func objectKey(m apitype.StepEventMetadata) (key, bool) {
	if !strings.HasPrefix(m.Type, "kubernetes:") {
		return key{}, false
	}
	for _, st := range []*apitype.StepEventStateMetadata{m.New, m.Old} {
		if st == nil {
			continue
		}
		for _, props := range []map[string]any{st.Outputs, st.Inputs} {
			kind, _ := props["kind"].(string)
			meta, _ := props["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			ns, _ := meta["namespace"].(string)
			if kind != "" && name != "" {
				return key{kind, ns, name}, true
			}
		}
	}
	return key{}, false
}

func urnName(urn string) string { return urn[strings.LastIndex(urn, "::")+2:] }
