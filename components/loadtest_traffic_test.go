package components_test

import (
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/cirkelline/infra/components"
)

// TestRunnerPolicyTraffic evaluates the runners' rendered NetworkPolicy
// with cyclonus's policy engine (github.com/mattfenwick/cyclonus v0.5.6
// pkg/matcher: BuildNetworkPolicies and Policy.IsTrafficAllowed, the model
// its conformance runs check CNIs against), since no CNI enforces
// policies here: a runner reaches DNS and its target's pods on their
// port, and nothing else: not the target's metrics port, not another
// service's pods, not the internet; with an ALB target, its subnets on
// the listener port only.
func TestRunnerPolicyTraffic(t *testing.T) {
	const ns = "shop"
	runner := map[string]string{}
	pod := func(labels map[string]string, namespace string) *matcher.TrafficPeer {
		return &matcher.TrafficPeer{IP: "10.9.0.1", Internal: &matcher.InternalPeer{
			Namespace: namespace, PodLabels: labels, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": namespace},
		}}
	}
	external := func(ip string) *matcher.TrafficPeer { return &matcher.TrafficPeer{IP: ip} }
	// The pods as the web service labels them (components.WebServiceLabels).
	api := components.WebServiceLabels(ns, "api")
	other := components.WebServiceLabels(ns, "other")
	dns := map[string]string{"k8s-app": "kube-dns"}
	type flow struct {
		what     string
		to       *matcher.TrafficPeer
		port     int
		protocol corev1.Protocol
		allowed  bool
	}
	cases := []struct {
		name   string
		mutate func(*components.LoadTestArgs)
		flows  []flow
	}{
		{"a service target", func(*components.LoadTestArgs) {}, []flow{
			{"DNS over UDP", pod(dns, "kube-system"), 53, corev1.ProtocolUDP, true},
			{"DNS over TCP", pod(dns, "kube-system"), 53, corev1.ProtocolTCP, true},
			{"the target's pods on their port", pod(api, ns), 8000, corev1.ProtocolTCP, true},
			{"the target's metrics port", pod(api, ns), 9090, corev1.ProtocolTCP, false},
			{"another service's pods", pod(other, ns), 8000, corev1.ProtocolTCP, false},
			{"a pod elsewhere on the same port", pod(api, "elsewhere"), 8000, corev1.ProtocolTCP, false},
			{"the internet on 443", external("93.184.216.34"), 443, corev1.ProtocolTCP, false},
			{"the internet on 80", external("93.184.216.34"), 80, corev1.ProtocolTCP, false},
			{"the node's metadata service", external("169.254.169.254"), 80, corev1.ProtocolTCP, false},
		}},
		{"an internal ALB target", func(a *components.LoadTestArgs) {
			a.Target = components.LoadTestEgress{CIDRs: []string{"10.0.0.0/22", "10.0.4.0/22"}, Port: 443}
		}, []flow{
			{"the ALB on 443", external("10.0.4.17"), 443, corev1.ProtocolTCP, true},
			{"the ALB on 80", external("10.0.4.17"), 80, corev1.ProtocolTCP, false},
			{"another VPC address on 443", external("10.0.16.5"), 443, corev1.ProtocolTCP, false},
			{"the service's pods directly", pod(api, ns), 8000, corev1.ProtocolTCP, false},
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			args := baseLoadTest()
			tt.mutate(&args)
			c, _, _ := renderLoadTest(t, args)
			var runners networkingv1.NetworkPolicy
			c.mustGet("kubernetes:networking.k8s.io/v1:NetworkPolicy", "loadtest-7-runners", &runners)
			runners.Namespace = ns
			for k, v := range runners.Spec.PodSelector.MatchLabels {
				runner[k] = v
			}
			policy := matcher.BuildNetworkPolicies(false, []*networkingv1.NetworkPolicy{&runners})
			for _, f := range tt.flows {
				result := policy.IsTrafficAllowed(&matcher.Traffic{
					Source: pod(runner, ns), Destination: f.to, ResolvedPort: f.port, Protocol: f.protocol,
				})
				if got := result.Egress.IsAllowed(); got != f.allowed {
					t.Errorf("a runner to %s (%d/%s): allowed %v, want %v", f.what, f.port, f.protocol, got, f.allowed)
				}
			}
		})
	}
}
