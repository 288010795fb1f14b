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
		// Secret whatever the other stack says: it holds credentials.
		kubeconfig = pulumi.ToSecret(ref.GetOutput(pulumi.String(cl.Outputs.Kubeconfig)).ApplyT(kubeconfigText)).(pulumi.StringOutput)
	case !cl.Kubeconfig.IsZero():
		kubeconfig = cl.Kubeconfig.Input().ToStringOutput()
	default:
		return nil, nil
	}
	p, err := kubernetes.NewProvider(ctx, ClusterProviderName, &kubernetes.ProviderArgs{Kubeconfig: kubeconfig})
	if err != nil {
		return nil, fmt.Errorf("cluster provider: %w", err)
	}
	return pulumi.Providers(p), nil
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
