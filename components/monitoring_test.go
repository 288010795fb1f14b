package components_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
			Settings: monitoring.Settings{
				Prometheus: monitoring.Prometheus{SelectorLabels: map[string]string{"release": "kps"}},
				Thresholds: monitoring.Thresholds{LatencyP95: 2 * time.Second},
			},
			Labels: map[string]string{"app.kubernetes.io/part-of": "shop"},
		},
		Dashboard: components.DashboardConfigMapArgs{Name: "shop-dashboard"},
	}
}

// watchObjects are a Monitoring's objects.
type watchObjects struct {
	monitors  []*monv1.ServiceMonitor
	rule      *monv1.PrometheusRule
	dashboard *corev1.ConfigMap
}

func (o watchObjects) all() map[string]any {
	objs := []runtime.Object{o.rule, o.dashboard}
	for _, m := range o.monitors {
		objs = append(objs, m)
	}
	return keyed(objs...)
}

// watchObjectsOf is what a Monitoring of watch registers: the monitoring
// package's ServiceMonitors and PrometheusRule unchanged (its own tests
// compare them whole with golden YAML), and its dashboard in a ConfigMap
// named shop-dashboard, labelled for Grafana's sidecar.
func watchObjectsOf(t *testing.T, watch monitoring.Args) watchObjects {
	monitors, err := monitoring.ServiceMonitors(watch)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := monitoring.PrometheusRule(watch)
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := monitoring.Dashboard(watch)
	if err != nil {
		t.Fatal(err)
	}
	return watchObjects{monitors: monitors, rule: rule, dashboard: &corev1.ConfigMap{
		TypeMeta: typeMeta("v1", "ConfigMap"),
		ObjectMeta: metav1.ObjectMeta{Name: "shop-dashboard", Namespace: "shop",
			Labels: map[string]string{"app.kubernetes.io/part-of": "shop", "grafana_dashboard": "1"}},
		Data: map[string]string{watch.Stack + "-scaling.json": string(dashboard)},
	}}
}

func TestMonitoring(t *testing.T) {
	testObjectRows(t, "cirkelline:components:Monitoring", monitoringArgs, func() watchObjects { return watchObjectsOf(t, monitoringArgs().Watch) },
		func(ctx *pulumi.Context, a components.MonitoringArgs) error {
			_, err := components.NewMonitoring(ctx, "shop", a)
			return err
		}, []objectRow[components.MonitoringArgs, watchObjects]{
			{"defaults", func(*components.MonitoringArgs) {}, func(*watchObjects) {}},
			{"the dashboard in Grafana's namespace", func(a *components.MonitoringArgs) { a.Dashboard.Namespace = pulumi.String("grafana") }, func(o *watchObjects) {
				o.dashboard.Namespace = "grafana"
			}},
			{"the sidecar's label", func(a *components.MonitoringArgs) {
				a.Watch.Grafana.SidecarLabel, a.Watch.Grafana.SidecarLabelValue = "dashboards", "shop"
			}, func(o *watchObjects) {
				o.dashboard.Labels = map[string]string{"app.kubernetes.io/part-of": "shop", "dashboards": "shop"}
			}},
			{"another stack, one service", func(a *components.MonitoringArgs) {
				a.Watch.Stack = "production"
				a.Watch.Services = a.Watch.Services[:1]
			}, func(o *watchObjects) {
				watch := monitoringArgs().Watch
				watch.Stack = "production"
				watch.Services = watch.Services[:1]
				*o = watchObjectsOf(t, watch)
			}},
		})
}

func TestMonitoringArgsRefused(t *testing.T) {
	args := monitoringArgs()
	args.Watch.Services[1].Name = "server"
	args.Watch.Thresholds.LatencyP95 = 0
	args.Dashboard.Name = "Shop Dashboard"
	args.Watch.Grafana.SidecarLabel = "bad label"
	_, err := mockrun.Capture("test", "unit", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewMonitoring(ctx, "shop", args)
		return err
	})
	for _, want := range []string{
		`monitoring.services[1].name ("server"): is used twice`,
		`monitoring.thresholds.latencyP95 ("0s"): must be positive`,
		`monitoring.dashboard.name ("Shop Dashboard")`,
		`monitoring.grafana.sidecarLabel`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
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
