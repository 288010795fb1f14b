package components

import (
	"fmt"
	"net/netip"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/monitoring"
)

// EgressRule allows traffic from the services to some CIDRs on some TCP ports.
type EgressRule struct {
	// Name documents the rule, e.g. "postgres". Required.
	Name string `json:"name"`
	// CIDRs the traffic may go to. Required.
	CIDRs []string `json:"cidrs"`
	// Ports (TCP) the traffic may go to. Required.
	Ports []int32 `json:"ports"`
}

// PolicyService is one service the policies open up.
type PolicyService struct {
	// Name of the service (its selector labels are derived from it).
	Name string
	// Port the container listens on.
	Port int32
	// UsesRedis opens egress to the stack's Redis.
	UsesRedis bool
	// Scrape, when set, lets the stack's Prometheus reach the metrics port
	// (monitoring.ScrapeIngresses), whatever IngressCIDRs say.
	Scrape *monitoring.ScrapeIngress
}

// NetworkPoliciesArgs configures the namespace's NetworkPolicies: deny
// everything, then allow only what the services need.
type NetworkPoliciesArgs struct {
	// Namespace to create them in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// Services whose ports are opened to ingress.
	Services []PolicyService
	// IngressCIDRs may reach the service ports. Default: anywhere (the ALB in
	// ip target mode connects from the VPC's addresses).
	IngressCIDRs []string
	// HTTPSEgressCIDRs the services may reach on 443. Default "0.0.0.0/0".
	HTTPSEgressCIDRs []string
	// RedisCIDRs and RedisPort: where services that use Redis may connect.
	// Default "0.0.0.0/0" and 6379 (ElastiCache lives outside the cluster).
	RedisCIDRs []string
	RedisPort  int32
	// RedisPodSelector, when set, allows Redis egress to those pods (an
	// in-cluster Redis) instead of RedisCIDRs.
	RedisPodSelector map[string]string
	// ExtraEgress adds egress rules, e.g. to the database.
	ExtraEgress []EgressRule
	// AllowFromPods, when set, also admits pods with these labels (the
	// load-test runners) when IngressCIDRs restricts ingress.
	AllowFromPods map[string]string
}

// NetworkPolicies is a default-deny policy plus one allow policy per service.
type NetworkPolicies struct {
	pulumi.ResourceState
}

// AnyIPv4 is every IPv4 address, for egress to hosts outside the cluster
// whose addresses are not known here (AWS endpoints, ElastiCache).
const AnyIPv4 = "0.0.0.0/0"

// WithDefaults fills every unset field with its documented default.
// NewNetworkPolicies applies it before validating.
func (a NetworkPoliciesArgs) WithDefaults() NetworkPoliciesArgs {
	if len(a.HTTPSEgressCIDRs) == 0 {
		a.HTTPSEgressCIDRs = []string{AnyIPv4}
	}
	if len(a.RedisCIDRs) == 0 {
		a.RedisCIDRs = []string{AnyIPv4}
	}
	if a.RedisPort == 0 {
		a.RedisPort = RedisPort
	}
	return a
}

// Validate reports every problem with the args, with field paths under path.
func (a NetworkPoliciesArgs) Validate(path string) error {
	var errs validate.Errors
	cidrs := func(field string, list []string) {
		for i, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				errs.Add(validate.Index(validate.Join(path, field), i), c, "is not a CIDR", `write it as e.g. "10.0.0.0/16"`)
			}
		}
	}
	cidrs("ingressCidrs", a.IngressCIDRs)
	cidrs("httpsEgressCidrs", a.HTTPSEgressCIDRs)
	cidrs("redisCidrs", a.RedisCIDRs)
	for i, r := range a.ExtraEgress {
		rp := validate.Index(validate.Join(path, "extraEgress"), i)
		validate.DNSLabel(&errs, validate.Join(rp, "name"), r.Name, 40)
		if len(r.CIDRs) == 0 {
			errs.Add(validate.Join(rp, "cidrs"), nil, "must list at least one CIDR", "")
		}
		cidrs(validate.Join(fmt.Sprintf("extraEgress[%d]", i), "cidrs"), r.CIDRs)
		if len(r.Ports) == 0 {
			errs.Add(validate.Join(rp, "ports"), nil, "must list at least one port", "")
		}
		for j, p := range r.Ports {
			if p < 1 || p > 65535 {
				errs.Add(validate.Index(validate.Join(rp, "ports"), j), p, "must be between 1 and 65535", "")
			}
		}
	}
	return errs.Err()
}

func peers(cidrs []string) networkingv1.NetworkPolicyPeerArray {
	var out networkingv1.NetworkPolicyPeerArray
	for _, c := range cidrs {
		out = append(out, networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(c)}})
	}
	return out
}

func tcpPorts(ports ...int32) networkingv1.NetworkPolicyPortArray {
	var out networkingv1.NetworkPolicyPortArray
	for _, p := range ports {
		out = append(out, networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(int(p))})
	}
	return out
}

// dnsEgress allows DNS to the cluster's resolver (kube-dns/CoreDNS in kube-system).
func dnsEgress() networkingv1.NetworkPolicyEgressRuleArgs {
	return networkingv1.NetworkPolicyEgressRuleArgs{
		To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
			NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String("kube-system")}},
			PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"k8s-app": pulumi.String("kube-dns")}},
		}},
		Ports: networkingv1.NetworkPolicyPortArray{
			networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)},
			networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(53)},
		},
	}
}

// servicePolicySpec opens a service's port and the egress it needs.
func servicePolicySpec(a NetworkPoliciesArgs, s PolicyService) *networkingv1.NetworkPolicySpecArgs {
	egress := networkingv1.NetworkPolicyEgressRuleArray{
		dnsEgress(),
		networkingv1.NetworkPolicyEgressRuleArgs{To: peers(a.HTTPSEgressCIDRs), Ports: tcpPorts(443)},
	}
	if s.UsesRedis {
		to := peers(a.RedisCIDRs)
		if a.RedisPodSelector != nil {
			to = networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
				PodSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(a.RedisPodSelector)},
			}}
		}
		egress = append(egress, networkingv1.NetworkPolicyEgressRuleArgs{To: to, Ports: tcpPorts(a.RedisPort)})
	}
	for _, r := range a.ExtraEgress {
		egress = append(egress, networkingv1.NetworkPolicyEgressRuleArgs{To: peers(r.CIDRs), Ports: tcpPorts(r.Ports...)})
	}
	ingress := networkingv1.NetworkPolicyIngressRuleArgs{Ports: tcpPorts(s.Port)}
	if len(a.IngressCIDRs) > 0 {
		from := peers(a.IngressCIDRs)
		if a.AllowFromPods != nil {
			from = append(from, networkingv1.NetworkPolicyPeerArgs{
				PodSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(a.AllowFromPods)},
			})
		}
		ingress.From = from
	}
	ingresses := networkingv1.NetworkPolicyIngressRuleArray{ingress}
	if sc := s.Scrape; sc != nil {
		// One peer with both selectors: pods with these labels in that
		// namespace (not either of them; k8s.io/api networking/v1
		// NetworkPolicyPeer: "If namespaceSelector is also set, then the
		// NetworkPolicyPeer as a whole selects the Pods matching
		// PodSelector in the Namespaces selected by NamespaceSelector").
		ingresses = append(ingresses, networkingv1.NetworkPolicyIngressRuleArgs{
			From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(sc.NamespaceLabels)},
				PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: stringMap(sc.PodLabels)},
			}},
			Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String(sc.Protocol), Port: pulumi.String(sc.Port)}},
		})
	}
	return &networkingv1.NetworkPolicySpecArgs{
		PodSelector: metav1.LabelSelectorArgs{MatchLabels: stringMap(SelectorLabels(a.PartOf, s.Name))},
		PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		Ingress:     ingresses,
		Egress:      egress,
	}
}

// NewNetworkPolicies registers a NetworkPolicies component.
func NewNetworkPolicies(ctx *pulumi.Context, name string, args NetworkPoliciesArgs, opts ...pulumi.ResourceOption) (*NetworkPolicies, error) {
	args = args.WithDefaults()
	if err := args.Validate("networkPolicy"); err != nil {
		return nil, fmt.Errorf("network policies %s: %w", name, err)
	}
	comp := &NetworkPolicies{}
	if err := ctx.RegisterComponentResource("cirkelline:components:NetworkPolicies", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register network policies %s: %w", name, err)
	}
	objs := buildNetworkPolicies(args)
	if _, err := networkingv1.NewNetworkPolicy(ctx, name+"-default-deny", objs.defaultDeny, pulumi.Parent(comp)); err != nil {
		return nil, fmt.Errorf("network policies %s: default deny: %w", name, err)
	}
	for i, s := range args.Services {
		if _, err := networkingv1.NewNetworkPolicy(ctx, name+"-"+s.Name, objs.allow[i], pulumi.Parent(comp)); err != nil {
			return nil, fmt.Errorf("network policies %s: %s: %w", name, s.Name, err)
		}
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{}); err != nil {
		return nil, fmt.Errorf("network policies %s outputs: %w", name, err)
	}
	return comp, nil
}

// networkPoliciesObjects are the namespace's NetworkPolicies, as
// buildNetworkPolicies builds them: allow[i] is the policy of Services[i].
type networkPoliciesObjects struct {
	defaultDeny *networkingv1.NetworkPolicyArgs
	allow       []*networkingv1.NetworkPolicyArgs
}

// buildNetworkPolicies builds every NetworkPolicy from defaulted, valid
// args; NewNetworkPolicies only registers them.
func buildNetworkPolicies(a NetworkPoliciesArgs) networkPoliciesObjects {
	meta := func(objName string) *metav1.ObjectMetaArgs {
		return objectMeta(objName, a.Namespace, stringMap(Labels(a.PartOf, objName, "network-policy")), nil)
	}
	objs := networkPoliciesObjects{defaultDeny: &networkingv1.NetworkPolicyArgs{
		Metadata: meta("default-deny"),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		},
	}}
	for _, s := range a.Services {
		objs.allow = append(objs.allow, &networkingv1.NetworkPolicyArgs{Metadata: meta(s.Name + "-allow"), Spec: servicePolicySpec(a, s)})
	}
	return objs
}
