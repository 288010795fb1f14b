package workloads

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/stacks"
)

// ClusterProviderName is the logical name of the explicit Kubernetes
// provider.
const ClusterProviderName = "cluster"

// stackRefs registers one StackReference per referenced stack, however
// many parts of the plan read it.
type stackRefs struct {
	ctx  *pulumi.Context
	refs map[string]*pulumi.StackReference
}

// get returns the reference to stack, registered under logicalName the
// first time it is asked for.
func (s *stackRefs) get(stack, logicalName string) (*pulumi.StackReference, error) {
	if ref, ok := s.refs[stack]; ok {
		return ref, nil
	}
	ref, err := pulumi.NewStackReference(s.ctx, logicalName, &pulumi.StackReferenceArgs{Name: pulumi.String(stack)})
	if err != nil {
		return nil, err
	}
	if s.refs == nil {
		s.refs = map[string]*pulumi.StackReference{}
	}
	s.refs[stack] = ref
	return ref, nil
}

// clusterProvider registers the explicit Kubernetes provider of a stack
// with a cluster block, and returns the option that gives it to every
// component (nil without one: the default provider, as before).
//
// pulumi.Providers puts it in the component's provider map, which the
// component's children inherit for the kubernetes package only (Providers
// and Provider in go/pulumi/resource.go of sdk/v3 v3.263.0), so the AWS
// resources of a component keep the default AWS provider.
func clusterProvider(ctx *pulumi.Context, cfg *stacks.Config, refs *stackRefs) (pulumi.ResourceOption, error) {
	cl := cfg.Cluster
	var kubeconfig pulumi.StringOutput
	switch {
	case cl.StackReference != "":
		ref, err := refs.get(cl.StackReference, cfg.Namespace+"-cluster")
		if err != nil {
			return nil, fmt.Errorf("cluster.stackReference %s: %w", cl.StackReference, err)
		}
		if err := refusePlainKubeconfig(ref, cfg); err != nil {
			return nil, err
		}
		// Secret whatever the other stack says: it holds credentials.
		kubeconfig = pulumi.ToSecret(ref.GetOutput(pulumi.String(cl.Outputs.Kubeconfig)).ApplyT(kubeconfigText)).(pulumi.StringOutput)
	case !cl.Kubeconfig.IsZero():
		kubeconfig = cl.Kubeconfig.Input().ToStringOutput()
	default:
		return nil, nil
	}
	// Rotated config and secrets are updated in place, as Pulumi.yaml sets
	// for the default provider: an explicit provider reads no stack config.
	args := &kubernetes.ProviderArgs{Kubeconfig: kubeconfig, EnableConfigMapMutable: pulumi.Bool(true), EnableSecretMutable: pulumi.Bool(true)}
	if id := cfg.ClusterIdentifier(); id != "" {
		args.ClusterIdentifier = pulumi.String(id)
	}
	p, err := kubernetes.NewProvider(ctx, ClusterProviderName, args)
	if err != nil {
		return nil, fmt.Errorf("cluster provider: %w", err)
	}
	return pulumi.Providers(p), nil
}

// refusePlainKubeconfig fails the run when the cluster stack exports its
// kubeconfig in plain text. Such an output is stored in plain text in the
// state of every stack that reads it (the StackReference's outputs are
// persisted as the other stack marks them), so marking it secret here
// would be too late: the fix belongs in the cluster stack, or the
// kubeconfig goes into this stack's secret config (`pulumi config set`
// reads a multi-line value from standard input: "Multi-line values may be
// set by piping a file to standard in", its CLI reference). GetOutputDetails waits
// for the read (sdk/v3 v3.263.0 go/pulumi/stack_reference.go: Value when
// plain, SecretValue when secret, neither when missing), during preview
// too, so `pulumi up` stops in its preview, before its update persists
// anything, and nothing but the reference is registered. `pulumi up
// --skip-preview` (and the Automation API's Up) has no such preview: its
// update saves the reference's outputs as read, plain text included,
// before the program refuses them; the deploy workflow keeps the preview.
func refusePlainKubeconfig(ref *pulumi.StackReference, cfg *stacks.Config) error {
	cl := cfg.Cluster
	out, err := ref.GetOutputDetails(cl.Outputs.Kubeconfig)
	if err != nil {
		return fmt.Errorf("cluster.stackReference %s: read output %q: %w", cl.StackReference, cl.Outputs.Kubeconfig, err)
	}
	if out.Value == nil {
		return nil // secret, or missing (kubeconfigText names that)
	}
	return fmt.Errorf("cluster.stackReference %s: its output %q is not a secret, so its credentials would be stored in plain text in the state of every stack that reads it; "+
		"fix: export it as a secret in that stack (Go: ctx.Export(%q, pulumi.ToSecret(kubeconfig)); TypeScript: export const %s = pulumi.secret(kubeconfig)) and run pulumi up there, "+
		"or drop cluster.stackReference and copy it into this stack's secret config: "+
		"pulumi stack output %s --show-secrets --stack %s | pulumi config set --secret --path cluster.kubeconfig --stack %s",
		cl.StackReference, cl.Outputs.Kubeconfig, cl.Outputs.Kubeconfig, cl.Outputs.Kubeconfig, cl.Outputs.Kubeconfig, cl.StackReference, cfg.Stack)
}

// kubeconfigText is the provider's kubeconfig input from a stack output:
// text as it is, an object (pulumi-eks exports the kubeconfig as one) as
// JSON, which the provider reads like YAML.
func kubeconfigText(v any) (string, error) {
	switch k := v.(type) {
	case string:
		return k, nil
	case nil:
		return "", fmt.Errorf("the cluster stack has no kubeconfig output (cluster.outputs.kubeconfig)")
	default:
		b, err := json.Marshal(k)
		if err != nil {
			return "", fmt.Errorf("encode the cluster stack's kubeconfig output: %w", err)
		}
		return string(b), nil
	}
}
