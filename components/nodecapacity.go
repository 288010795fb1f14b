package components

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/internal/validate"
)

// NodeCapacityArgs configures a NodeCapacity component: what makes room
// for a stack's worst case. At least one of Karpenter and Headroom.
type NodeCapacityArgs struct {
	// Namespace of the headroom Deployment (the stack's). Required with
	// Headroom; its plain name is Headroom.Namespace.
	Namespace pulumi.StringInput
	// Plan is the stack's capacity plan: the NodePool's limits come from
	// it. Required with Karpenter.
	Plan *capacity.Plan
	// Karpenter, when set, registers a karpenter.sh/v1 NodePool and a
	// karpenter.k8s.aws/v1 EC2NodeClass (cluster-scoped; the cluster must
	// run Karpenter, whose CRDs are capacity.CRDs).
	Karpenter *capacity.KarpenterArgs
	// Headroom, when set, registers the pause pods' PriorityClass
	// (cluster-scoped) and Deployment.
	Headroom *capacity.HeadroomArgs
}

// NodeCapacity is a Karpenter NodePool and EC2NodeClass and/or headroom
// pause pods under a negative PriorityClass.
type NodeCapacity struct {
	pulumi.ResourceState
}

// Validate reports every problem with the args, with field paths under
// path (the capacity package's own paths under it).
func (a NodeCapacityArgs) Validate(path string) error {
	var errs validate.Errors
	if a.Karpenter == nil && a.Headroom == nil {
		errs.Add(path, nil, "has neither Karpenter nor Headroom", "pass at least one")
	}
	if a.Karpenter != nil {
		if a.Plan == nil {
			errs.Add(validate.Join(path, "plan"), nil, "is required with Karpenter", "pass the capacity plan the NodePool's limits come from")
		}
		errs.Merge(validate.Under(path, a.Karpenter.WithDefaults().Validate()))
	}
	if a.Headroom != nil {
		errs.Merge(validate.Under(path, a.Headroom.WithDefaults().Validate()))
	}
	return errs.Err()
}

// NewNodeCapacity registers a NodeCapacity component.
func NewNodeCapacity(ctx *pulumi.Context, name string, args NodeCapacityArgs, opts ...pulumi.ResourceOption) (*NodeCapacity, error) {
	if err := args.Validate("cluster"); err != nil {
		return nil, fmt.Errorf("node capacity %s: %w", name, err)
	}
	comp := &NodeCapacity{}
	if err := ctx.RegisterComponentResource("cirkelline:components:NodeCapacity", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register node capacity %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	if args.Karpenter != nil {
		class, err := capacity.EC2NodeClass(*args.Karpenter)
		if err != nil {
			return nil, fmt.Errorf("node capacity %s: EC2NodeClass: %w", name, err)
		}
		ec2, err := registerObject(ctx, name+"-nodeclass", class.GetAPIVersion(), class.GetKind(), objectMetaOf(class.Object), class.Object, nil, parent)
		if err != nil {
			return nil, fmt.Errorf("node capacity %s: EC2NodeClass: %w", name, err)
		}
		pool, err := capacity.NodePool(*args.Plan, *args.Karpenter)
		if err != nil {
			return nil, fmt.Errorf("node capacity %s: NodePool: %w", name, err)
		}
		// The pool names its class: create the class first.
		if _, err := registerObject(ctx, name+"-nodepool", pool.GetAPIVersion(), pool.GetKind(), objectMetaOf(pool.Object), pool.Object, nil,
			parent, pulumi.DependsOn([]pulumi.Resource{ec2})); err != nil {
			return nil, fmt.Errorf("node capacity %s: NodePool: %w", name, err)
		}
	}
	if args.Headroom != nil {
		pc, dep, err := capacity.Headroom(*args.Headroom)
		if err != nil {
			return nil, fmt.Errorf("node capacity %s: headroom: %w", name, err)
		}
		class, err := registerObject(ctx, name+"-headroom", "scheduling.k8s.io/v1", "PriorityClass", pc.ObjectMeta, pc, nil, parent)
		if err != nil {
			return nil, fmt.Errorf("node capacity %s: priority class: %w", name, err)
		}
		// Pause pods wait for room by design: pulumi up must not wait for
		// them (pulumi-kubernetes skips its await for objects with this
		// annotation, provider/pkg/await/await.go, SkipAwaitLogic).
		if dep.Annotations == nil {
			dep.Annotations = map[string]string{}
		}
		dep.Annotations[SkipAwaitAnnotation] = "true"
		if _, err := registerObject(ctx, name+"-headroom", "apps/v1", "Deployment", dep.ObjectMeta, dep, args.Namespace,
			parent, pulumi.DependsOn([]pulumi.Resource{class})); err != nil {
			return nil, fmt.Errorf("node capacity %s: headroom deployment: %w", name, err)
		}
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{}); err != nil {
		return nil, fmt.Errorf("node capacity %s outputs: %w", name, err)
	}
	return comp, nil
}
