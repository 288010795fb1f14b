// Package render is the offline `render` subcommand: it reads a stack file,
// runs the program against mocks (internal/mockrun) and writes every manifest
// the stack would apply, with a summary a reviewer reads.
package render

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/stacks"
)

// Program builds the Pulumi program for a config source; main.go's program
// is passed in, so render runs exactly what `pulumi up` runs.
type Program func(src stacks.Source, opts ...stacks.LoadOption) pulumi.RunFunc

// Options configure one render.
type Options struct {
	// Dir holds Pulumi.yaml and the stack files. Default ".".
	Dir string
	// Stack to render. Required.
	Stack string
	// Out is the output directory, or "-" for one YAML stream on Stdout.
	// Default "rendered/<stack>".
	Out string
	// RequireSecrets fails, as `pulumi up` would, when a required secret is
	// not set in the stack file. By default it is rendered as [secret] and
	// listed in the summary.
	RequireSecrets bool
	Stdout, Stderr io.Writer
}

// Result is what one render produced.
type Result struct {
	Config         *stackfile.StackConfig
	Objects        []mockrun.Object
	MissingSecrets []string
	// Resources are every registration, with its dependencies.
	Resources []mockrun.Resource
	// Notes are printed after the summary (the load test's capacity table).
	Notes string
	// AwaitChain is the chain of objects `pulumi up` waits through that
	// sets its wall time (CriticalPath).
	AwaitChain []Await
	// Dashboards are the Grafana dashboards the stack ships (file name to
	// JSON), taken from its dashboard ConfigMap, for a manual import.
	Dashboards map[string][]byte
}

// Stack renders one stack in memory; nothing is written.
func Stack(opts Options, program Program) (*Result, error) {
	if opts.Dir == "" {
		opts.Dir = "."
	}
	sc, err := stackfile.LoadStackConfig(opts.Dir, opts.Stack)
	if err != nil {
		return nil, err
	}
	src := stacks.MapSource{Values: sc.Values, Secrets: sc.SecretKeys}
	var missing []string
	var loadOpts []stacks.LoadOption
	if !opts.RequireSecrets {
		loadOpts = append(loadOpts, stacks.OfflineSecrets(&missing))
	}
	var ignored []string
	cfg, err := stacks.Load(src, sc.Project, sc.Stack, stacks.OfflineSecrets(&ignored))
	if err != nil {
		// The program's own load reports every problem, the plan's too
		// (each component's checks); it fails before registering anything.
		if _, perr := mockrun.CaptureWithStackOutputs(sc.Project, sc.Stack, sc.Values, sc.SecretKeys, nil, program(src, loadOpts...)); perr != nil {
			return nil, perr
		}
		return nil, err
	}
	refs := stackReferenceStandIns(cfg)
	resources, err := mockrun.CaptureWithStackOutputs(sc.Project, sc.Stack, sc.Values, sc.SecretKeys, refs, program(src, loadOpts...))
	if err != nil {
		return nil, err
	}
	objs, err := mockrun.Objects(resources)
	if err != nil {
		return nil, err
	}
	res := &Result{Config: sc, Objects: objs, MissingSecrets: missing, Resources: resources, AwaitChain: NewGraph(resources).CriticalPath()}
	if cfg.Monitoring.Enabled {
		if res.Dashboards, err = dashboards(objs, cfg.DashboardNamespace(), cfg.DashboardConfigMapName()); err != nil {
			return nil, err
		}
	}
	if report := cfg.CapacityReport(); report != "" {
		res.Notes = "load test capacity (" + string(cfg.LoadTest.Shape) + ", " + fmt.Sprint(cfg.LoadTest.Flow) + "):\n" + report
	}
	return res, nil
}

// stackReferenceStandIns names the outputs the stack reads from other
// stacks, e.g. "[vpcId of cirkelline/eks-cluster/staging]", since their real
// values cannot be read offline.
func stackReferenceStandIns(cfg *stacks.Config) map[string]resource.PropertyMap {
	out := map[string]resource.PropertyMap{}
	standIn := func(stack, key string) resource.PropertyValue {
		return resource.NewStringProperty(fmt.Sprintf("[%s of %s]", key, stack))
	}
	outputs := func(stack string) resource.PropertyMap {
		if out[stack] == nil {
			out[stack] = resource.PropertyMap{}
		}
		return out[stack]
	}
	if e := cfg.Redis.ElastiCache; cfg.Redis.Mode == stacks.RedisElastiCache && e.StackReference != "" {
		o := outputs(e.StackReference)
		o[resource.PropertyKey(e.StackOutputs.VpcID)] = standIn(e.StackReference, e.StackOutputs.VpcID)
		o[resource.PropertyKey(e.StackOutputs.PrivateSubnetIDs)] = resource.NewArrayProperty([]resource.PropertyValue{standIn(e.StackReference, e.StackOutputs.PrivateSubnetIDs)})
		o[resource.PropertyKey(e.StackOutputs.ClusterSecurityGroupID)] = standIn(e.StackReference, e.StackOutputs.ClusterSecurityGroupID)
	}
	if cl := cfg.Cluster; cl.StackReference != "" {
		// A secret in the other stack: it stays [secret] in the render.
		outputs(cl.StackReference)[resource.PropertyKey(cl.Outputs.Kubeconfig)] = resource.MakeSecret(standIn(cl.StackReference, cl.Outputs.Kubeconfig))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Run renders a stack and writes it to opts.Out, then prints a summary.
// On any error nothing is written.
func Run(opts Options, program Program) error {
	res, err := Stack(opts, program)
	if err != nil {
		return err
	}
	if opts.Out == "-" {
		// Only Kubernetes objects, in apply order, so the stream can be piped
		// to kubectl; cloud resources are listed in the files output.
		first := true
		for _, o := range res.Objects {
			if o.Cloud {
				continue
			}
			if !first {
				fmt.Fprintln(opts.Stdout, "---")
			}
			first = false
			fmt.Fprintf(opts.Stdout, "# %s\n", o.File)
			if _, err := opts.Stdout.Write(o.Body); err != nil {
				return err
			}
		}
		return nil
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join(opts.Dir, "rendered", opts.Stack)
	}
	if err := WriteResult(out, res); err != nil {
		return err
	}
	Summary(opts.Stdout, out, res)
	return nil
}

// WriteResult writes everything a render shows a reviewer into dir: the
// manifests, the dashboards' JSON and the resources' URNs.
func WriteResult(dir string, res *Result) error {
	if err := Write(dir, res.Objects); err != nil {
		return err
	}
	if err := WriteDashboards(filepath.Join(dir, DashboardsDir), res.Dashboards); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, mockrun.URNsFile), mockrun.FormatURNs(mockrun.URNs(res.Resources)), 0o644)
}

// Write replaces the rendered files in dir with objs. Only *.yaml files in
// dir and dir/cloud are removed, so a mistaken --out cannot wipe a tree.
func Write(dir string, objs []mockrun.Object) error {
	for _, d := range []string{dir, filepath.Join(dir, "cloud")} {
		if err := removeStale(d, "*.yaml"); err != nil {
			return err
		}
	}
	for _, o := range objs {
		path := filepath.Join(dir, filepath.FromSlash(o.File))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, o.Body, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// Summary prints one line per object and what still needs doing.
func Summary(w io.Writer, dir string, res *Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAMESPACE\tNAME\tFILE")
	for _, o := range res.Objects {
		ns := o.Namespace
		if ns == "" {
			ns = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Kind, ns, o.Name, o.File)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nrendered %d objects of stack %s to %s\n", len(res.Objects), res.Config.Stack, dir)
	fmt.Fprintf(w, "\npulumi up's wall time is set by: %s\n", FormatChain(res.AwaitChain))
	if len(res.Dashboards) > 0 {
		fmt.Fprintf(w, "\nGrafana dashboards (also in their ConfigMap; import by hand under Dashboards > New > Import):\n")
		for _, f := range slices.Sorted(maps.Keys(res.Dashboards)) {
			fmt.Fprintf(w, "  %s\n", filepath.Join(dir, DashboardsDir, f))
		}
	}
	if res.Notes != "" {
		fmt.Fprintf(w, "\n%s", res.Notes)
	}
	if len(res.MissingSecrets) > 0 {
		fmt.Fprintf(w, "\nsecrets not set in Pulumi.%s.yaml (shown as [secret]; `pulumi up` will refuse until they are):\n", res.Config.Stack)
		for _, k := range res.MissingSecrets {
			key := strings.TrimPrefix(k, res.Config.Project+":")
			path := ""
			if strings.Contains(key, ".") {
				path = "--path "
			}
			fmt.Fprintf(w, "  pulumi config set --secret %s%s <value> --stack %s\n", path, key, res.Config.Stack)
		}
	}
}

// DashboardsDir is where Run writes the dashboards' JSON, under the output
// directory.
const DashboardsDir = "dashboards"

// dashboards reads the dashboard ConfigMap namespace/name among objs: its
// data, file name to JSON.
func dashboards(objs []mockrun.Object, namespace, name string) (map[string][]byte, error) {
	for _, o := range objs {
		if o.Kind != "ConfigMap" || o.Namespace != namespace || o.Name != name {
			continue
		}
		var cm struct {
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal(o.Body, &cm); err != nil {
			return nil, fmt.Errorf("read dashboard ConfigMap %s/%s: %w", namespace, name, err)
		}
		out := map[string][]byte{}
		for f, v := range cm.Data {
			out[f] = []byte(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("monitoring is enabled but no dashboard ConfigMap %s/%s was rendered", namespace, name)
}

// WriteDashboards replaces the *.json files in dir with files.
func WriteDashboards(dir string, files map[string][]byte) error {
	if err := removeStale(dir, "*.json"); err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range slices.Sorted(maps.Keys(files)) {
		if filepath.Base(f) != f {
			return fmt.Errorf("dashboard file name %q is not a plain file name", f)
		}
		if err := os.WriteFile(filepath.Join(dir, f), files[f], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f, err)
		}
	}
	return nil
}

// removeStale removes the files of dir matching pattern, and nothing else.
func removeStale(dir, pattern string) error {
	stale, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return err
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove stale %s: %w", f, err)
		}
	}
	return nil
}
