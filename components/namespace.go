package components

import (
	"fmt"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
)

// PodSecurityLevel is a Pod Security Standards level.
type PodSecurityLevel string

// The Pod Security Standards levels.
const (
	PodSecurityRestricted PodSecurityLevel = "restricted"
	PodSecurityBaseline   PodSecurityLevel = "baseline"
	PodSecurityPrivileged PodSecurityLevel = "privileged"
)

// NamespaceArgs configures a Namespace.
type NamespaceArgs struct {
	// Name of the namespace. Required; it is explicit because every DNS name in it depends on it.
	Name string
	// PodSecurity is the enforced Pod Security Standards level; audit and warn
	// are always "restricted", so a relaxed namespace still reports violations.
	// Default "restricted".
	PodSecurity PodSecurityLevel
	// Labels added to the namespace.
	Labels map[string]string
	// PodReadinessGate labels the namespace for the AWS Load Balancer
	// Controller's pod readiness gate (PodReadinessGateLabel): its webhook
	// then adds a readiness gate to each new pod behind an ALB target group
	// (target-type ip only), and the pod counts as ready only once the
	// target is healthy, so a rolling update never leaves the target group
	// with only initial or draining targets. Default false; the stacks set
	// it when they have an ingress.
	PodReadinessGate bool
}

// PodReadinessGateLabel and its value turn on the pod readiness gate
// injection in a namespace (AWS Load Balancer Controller docs,
// deploy/pod_readiness_gate: "apply the label
// elbv2.k8s.aws/pod-readiness-gate-inject: enabled to the pod namespace";
// "this only works with target-type: ip", which AlbIngress uses).
const (
	PodReadinessGateLabel   = "elbv2.k8s.aws/pod-readiness-gate-inject"
	PodReadinessGateEnabled = "enabled"
)

// Namespace is a Kubernetes namespace with Pod Security Standards labels.
type Namespace struct {
	pulumi.ResourceState

	// Name is the namespace's name, resolved once it exists (use it as an
	// input so children wait for the namespace).
	Name pulumi.StringOutput `pulumi:"name"`
}

// WithDefaults fills every unset field with its documented default.
// NewNamespace applies it before validating.
func (a NamespaceArgs) WithDefaults() NamespaceArgs {
	if a.PodSecurity == "" {
		a.PodSecurity = PodSecurityRestricted
	}
	return a
}

// Validate reports every problem with the args, with field paths under path.
func (a NamespaceArgs) Validate(path string) error {
	var errs validate.Errors
	validate.DNSLabel(&errs, validate.Join(path, "name"), a.Name, 63)
	if isSystemNamespace(a.Name) {
		errs.Add(validate.Join(path, "name"), a.Name, "is a namespace of the cluster itself: the stack would enforce restricted Pod Security and a default-deny NetworkPolicy on it, and pulumi destroy would delete it",
			`use a namespace this stack owns, e.g. "cirkelline"`)
	}
	validate.OneOf(&errs, validate.Join(path, "podSecurity"), a.PodSecurity, PodSecurityRestricted, PodSecurityBaseline, PodSecurityPrivileged)
	return errs.Err()
}

// isSystemNamespace reports the cluster's own namespaces: Kubernetes starts
// with default, kube-system, kube-public and kube-node-lease, and reserves
// the "kube-" prefix for system namespaces (kubernetes.io, Concepts >
// Namespaces: "Avoid creating namespaces with the prefix kube-"; the names
// are metav1.NamespaceSystem, metav1.NamespacePublic and
// corev1.NamespaceNodeLease).
func isSystemNamespace(ns string) bool {
	return ns == "default" || strings.HasPrefix(ns, "kube-")
}

// namespaceLabels are the Pod Security admission labels, the readiness
// gate's when asked, plus the caller's.
func namespaceLabels(a NamespaceArgs) map[string]string {
	labels := a.Labels
	if a.PodReadinessGate {
		labels = merged(labels, map[string]string{PodReadinessGateLabel: PodReadinessGateEnabled})
	}
	return merged(labels, map[string]string{
		"pod-security.kubernetes.io/enforce": string(a.PodSecurity),
		"pod-security.kubernetes.io/audit":   string(PodSecurityRestricted),
		"pod-security.kubernetes.io/warn":    string(PodSecurityRestricted),
		LabelName:                            a.Name,
		LabelManagedBy:                       "pulumi",
	})
}

// NewNamespace registers a Namespace component.
func NewNamespace(ctx *pulumi.Context, name string, args NamespaceArgs, opts ...pulumi.ResourceOption) (*Namespace, error) {
	args = args.WithDefaults()
	if err := args.Validate("namespace"); err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	comp := &Namespace{}
	if err := ctx.RegisterComponentResource("cirkelline:components:Namespace", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register namespace %s: %w", name, err)
	}
	ns, err := corev1.NewNamespace(ctx, name, buildNamespace(args), pulumi.Parent(comp))
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	comp.Name = ns.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"name": comp.Name}); err != nil {
		return nil, fmt.Errorf("namespace %s outputs: %w", name, err)
	}
	return comp, nil
}

// buildNamespace builds the Namespace from defaulted, valid args;
// NewNamespace only registers it.
func buildNamespace(a NamespaceArgs) *corev1.NamespaceArgs {
	return &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name), Labels: stringMap(namespaceLabels(a))},
	}
}
