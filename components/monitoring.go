package components

import (
	"cmp"
	"fmt"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/monitoring"
)

// MonitoringArgs configures a Monitoring component: what the stack's
// Prometheus scrapes and alerts on, and the Grafana dashboard.
type MonitoringArgs struct {
	// Namespace of the ServiceMonitors and the PrometheusRule: the stack's,
	// whose plain name is Watch.Namespace. Required.
	Namespace pulumi.StringInput
	// Watch is what the monitoring package builds the objects from (its
	// defaults apply). Required.
	Watch monitoring.Args
	// Dashboard is the ConfigMap Grafana's sidecar loads the dashboard from.
	Dashboard DashboardConfigMapArgs
}

// DashboardConfigMapArgs place the dashboard ConfigMap; the label Grafana's
// sidecar loads it by, and the namespace a stack sets, are Watch.Grafana's.
type DashboardConfigMapArgs struct {
	// Name of the ConfigMap. Required.
	Name string
	// Namespace of the ConfigMap. Default: Watch.Grafana.Namespace, else
	// MonitoringArgs.Namespace.
	Namespace pulumi.StringInput
}

// Monitoring is a ServiceMonitor per service, a PrometheusRule and the
// dashboard ConfigMap.
type Monitoring struct {
	pulumi.ResourceState

	// RuleName is the PrometheusRule's name.
	RuleName pulumi.StringOutput `pulumi:"ruleName"`
}

// WithDefaults fills every unset field with its documented default.
// NewMonitoring applies it before validating.
func (a MonitoringArgs) WithDefaults() MonitoringArgs {
	a.Watch = a.Watch.WithDefaults()
	if a.Dashboard.Namespace == nil && a.Watch.Grafana.Namespace != "" {
		a.Dashboard.Namespace = pulumi.String(a.Watch.Grafana.Namespace)
	}
	a.Dashboard.Namespace = cmp.Or(a.Dashboard.Namespace, a.Namespace)
	return a
}

// Validate reports every problem with the (defaulted) args, with field
// paths under path (the monitoring package's own, Watch's, under it too).
func (a MonitoringArgs) Validate(path string) error {
	var errs validate.Errors
	errs.Merge(validate.Under(path, a.Watch.Validate()))
	validate.DNSLabel(&errs, validate.Join(path, "dashboard.name"), a.Dashboard.Name, 253)
	return errs.Err()
}

// monitoringAPIVersion is prometheus-operator's group and version.
const monitoringAPIVersion = "monitoring.coreos.com/v1"

// NewMonitoring registers a Monitoring component. The cluster must have
// prometheus-operator's CRDs (monitoring.CRDs) for the ServiceMonitors
// and the PrometheusRule.
func NewMonitoring(ctx *pulumi.Context, name string, args MonitoringArgs, opts ...pulumi.ResourceOption) (*Monitoring, error) {
	args = args.WithDefaults()
	if err := args.Validate("monitoring"); err != nil {
		return nil, fmt.Errorf("monitoring %s: %w", name, err)
	}
	objs, err := buildMonitoring(args)
	if err != nil {
		return nil, fmt.Errorf("monitoring %s: %w", name, err)
	}

	comp := &Monitoring{}
	if err := ctx.RegisterComponentResource("cirkelline:components:Monitoring", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register monitoring %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	for _, sm := range objs.monitors {
		if _, err := registerObject(ctx, name+"-"+sm.Name, monitoringAPIVersion, "ServiceMonitor", sm.ObjectMeta, sm, args.Namespace, parent); err != nil {
			return nil, fmt.Errorf("monitoring %s: service monitor %s: %w", name, sm.Name, err)
		}
	}
	pr, err := registerObject(ctx, name+"-alerts", monitoringAPIVersion, "PrometheusRule", objs.rule.ObjectMeta, objs.rule, args.Namespace, parent)
	if err != nil {
		return nil, fmt.Errorf("monitoring %s: prometheus rule: %w", name, err)
	}
	if _, err := corev1.NewConfigMap(ctx, name+"-dashboard", objs.dashboard, parent); err != nil {
		return nil, fmt.Errorf("monitoring %s: dashboard config map: %w", name, err)
	}
	comp.RuleName = pr.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"ruleName": comp.RuleName}); err != nil {
		return nil, fmt.Errorf("monitoring %s outputs: %w", name, err)
	}
	return comp, nil
}

// monitoringObjects are what NewMonitoring registers, as buildMonitoring
// builds them: the monitoring package's ServiceMonitors and PrometheusRule
// as they are, and the dashboard's ConfigMap.
type monitoringObjects struct {
	monitors  []*monv1.ServiceMonitor
	rule      *monv1.PrometheusRule
	dashboard *corev1.ConfigMapArgs
}

// buildMonitoring builds every object from defaulted, valid args.
func buildMonitoring(a MonitoringArgs) (monitoringObjects, error) {
	monitors, err := monitoring.ServiceMonitors(a.Watch)
	if err != nil {
		return monitoringObjects{}, fmt.Errorf("service monitors: %w", err)
	}
	rule, err := monitoring.PrometheusRule(a.Watch)
	if err != nil {
		return monitoringObjects{}, fmt.Errorf("prometheus rule: %w", err)
	}
	dashboard, err := monitoring.Dashboard(a.Watch)
	if err != nil {
		return monitoringObjects{}, fmt.Errorf("dashboard: %w", err)
	}
	labels := merged(a.Watch.Labels, map[string]string{a.Watch.Grafana.SidecarLabel: a.Watch.Grafana.SidecarLabelValue})
	return monitoringObjects{monitors: monitors, rule: rule, dashboard: &corev1.ConfigMapArgs{
		Metadata: objectMeta(a.Dashboard.Name, a.Dashboard.Namespace, stringMap(labels), nil),
		Data:     pulumi.StringMap{monitoring.DashboardFileName(a.Watch.Stack): pulumi.String(string(dashboard))},
	}}, nil
}
