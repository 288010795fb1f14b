package components_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/monitoring"
)

func monitoringArgs() components.MonitoringArgs {
	return components.MonitoringArgs{
		Namespace: pulumi.String("shop"),
		Watch: monitoring.Args{
			Stack: "staging", Namespace: "shop",
			Services: []monitoring.Service{
				{Name: "server", Selector: map[string]string{"app": "server", "tier": "web"}, PodSelector: map[string]string{"app": "server"}, HPA: "server-hpa"},
				{Name: "client", Selector: map[string]string{"app": "client", "tier": "web"}, PodSelector: map[string]string{"app": "client"}},
			},
			Prometheus: monitoring.Prometheus{SelectorLabels: map[string]string{"release": "kps"}},
			Thresholds: monitoring.Thresholds{LatencyP95: 2 * time.Second},
			Labels:     map[string]string{"app.kubernetes.io/part-of": "shop"},
		},
		Dashboard: components.DashboardConfigMapArgs{Name: "shop-dashboard"},
	}
}

// TestMonitoring registers what the monitoring package builds, unchanged:
// the registered ServiceMonitors and PrometheusRule decode strictly into
// prometheus-operator's types and equal the library's objects, and the
// dashboard ConfigMap carries the sidecar label and the dashboard JSON.
func TestMonitoring(t *testing.T) {
	args := monitoringArgs()
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewMonitoring(ctx, "shop", args)
		return err
	})
	c.checkParenting("cirkelline:components:Monitoring")
	want, err := monitoring.ServiceMonitors(args.Watch)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		var got monv1.ServiceMonitor
		c.mustGet("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", w.Name, &got)
		if got.Namespace != "shop" || !reflect.DeepEqual(got.Labels, w.Labels) || !reflect.DeepEqual(got.Spec, w.Spec) {
			t.Errorf("ServiceMonitor %s registered as\n%+v\nwant\n%+v", w.Name, got, w)
		}
	}
	wantRule, err := monitoring.PrometheusRule(args.Watch)
	if err != nil {
		t.Fatal(err)
	}
	var rule monv1.PrometheusRule
	c.mustGet("kubernetes:monitoring.coreos.com/v1:PrometheusRule", monitoring.RuleName("staging"), &rule)
	if !reflect.DeepEqual(rule.Spec, wantRule.Spec) || rule.Labels["release"] != "kps" {
		t.Errorf("PrometheusRule registered as %+v, want %+v", rule, wantRule)
	}
	var cm corev1.ConfigMap
	c.mustGet("kubernetes:core/v1:ConfigMap", "shop-dashboard", &cm)
	if cm.Labels[monitoring.DefaultSidecarLabel] != monitoring.DefaultSidecarLabelValue || cm.Namespace != "shop" {
		t.Errorf("dashboard ConfigMap %s/%s labels %v: want the sidecar's", cm.Namespace, cm.Name, cm.Labels)
	}
	dashboard, _ := monitoring.Dashboard(args.Watch)
	if got := cm.Data[monitoring.DashboardFileName("staging")]; got != string(dashboard) {
		t.Errorf("dashboard ConfigMap data %q, want the monitoring package's dashboard", got)
	}
}

func TestMonitoringArgsRefused(t *testing.T) {
	args := monitoringArgs()
	args.Watch.Services[1].Name = "server"
	args.Watch.Thresholds.LatencyP95 = 0
	args.Dashboard.Name = "Shop Dashboard"
	args.Dashboard.SidecarLabel = "bad label"
	_, err := mockrun.Capture("test", "unit", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewMonitoring(ctx, "shop", args)
		return err
	})
	for _, want := range []string{
		`services[1].name ("server"): is used twice`,
		`thresholds.latencyP95 ("0s"): must be positive`,
		`monitoring.dashboard.name ("Shop Dashboard")`,
		`monitoring.grafana.sidecarLabel`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestNetworkPoliciesLetPrometheusScrape: a service with a scrape rule
// admits the Prometheus pods of the Prometheus namespace (one peer with
// both selectors) on the named metrics port, besides its ingress CIDRs.
func TestNetworkPoliciesLetPrometheusScrape(t *testing.T) {
	scrapes, err := monitoring.ScrapeIngresses(monitoringArgs().Watch)
	if err != nil {
		t.Fatal(err)
	}
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewNetworkPolicies(ctx, "shop", components.NetworkPoliciesArgs{
			Namespace: pulumi.String("shop"), PartOf: "shop", IngressCIDRs: []string{"10.0.0.0/16"},
			Services: []components.PolicyService{{Name: "server", Port: 3000, Scrape: &scrapes[0]}, {Name: "client", Port: 8080}},
		})
		return err
	})
	var server, client networkingv1.NetworkPolicy
	c.mustGet("kubernetes:networking.k8s.io/v1:NetworkPolicy", "server-allow", &server)
	c.mustGet("kubernetes:networking.k8s.io/v1:NetworkPolicy", "client-allow", &client)
	tcp := corev1.ProtocolTCP
	port := intstr.FromString("http")
	want := networkingv1.NetworkPolicyIngressRule{
		From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
		}},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
	}
	if len(server.Spec.Ingress) != 2 || !reflect.DeepEqual(server.Spec.Ingress[1], want) {
		t.Errorf("server ingress %+v; want the CIDR rule and %+v", server.Spec.Ingress, want)
	}
	if len(client.Spec.Ingress) != 1 {
		t.Errorf("client (no scrape rule) ingress %+v; want only the CIDR rule", client.Spec.Ingress)
	}
}

func ExampleNewMonitoring() {
	args := monitoringArgs()
	resources, err := mockrun.Capture("example", "staging", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewMonitoring(ctx, "shop", args)
		return err
	})
	if err != nil {
		panic(err)
	}
	objs, _ := mockrun.Objects(resources)
	for _, o := range objs {
		var body struct {
			Spec struct {
				Groups []struct {
					Rules []struct{ Alert string } `json:"rules"`
				} `json:"groups"`
			} `json:"spec"`
		}
		_ = yaml.Unmarshal(o.Body, &body)
		var alerts []string
		for _, g := range body.Spec.Groups {
			for _, r := range g.Rules {
				alerts = append(alerts, r.Alert)
			}
		}
		line := o.Kind + " " + o.Name
		if len(alerts) > 0 {
			b, _ := json.Marshal(alerts)
			line += " " + string(b)
		}
		fmt.Println(line)
	}
	// Output:
	// ConfigMap shop-dashboard
	// PrometheusRule staging-alerts ["HPAAtMaxReplicas","HPADesiredAboveCurrent","PodRestarting","HighErrorRatio","LatencyP95High","RedisFallbackActive","RateLimitingHigh"]
	// ServiceMonitor client
	// ServiceMonitor server
}
