package components

import (
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

// DashboardConfigMapArgs place the dashboard ConfigMap.
type DashboardConfigMapArgs struct {
	// Name of the ConfigMap. Required.
	Name string
	// Namespace of the ConfigMap. Default: MonitoringArgs.Namespace.
	Namespace pulumi.StringInput
	// SidecarLabel and SidecarLabelValue mark it for the sidecar. Default
	// monitoring.DefaultSidecarLabel and monitoring.DefaultSidecarLabelValue.
	SidecarLabel, SidecarLabelValue string
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
	if a.Dashboard.Namespace == nil {
		a.Dashboard.Namespace = a.Namespace
	}
	if a.Dashboard.SidecarLabel == "" {
		a.Dashboard.SidecarLabel = monitoring.DefaultSidecarLabel
	}
	if a.Dashboard.SidecarLabelValue == "" {
		a.Dashboard.SidecarLabelValue = monitoring.DefaultSidecarLabelValue
	}
	return a
}

// Validate reports every problem with the args, with field paths under
// path (the monitoring package's own paths for Watch's).
func (a MonitoringArgs) Validate(path string) error {
	var errs validate.Errors
	errs.Merge(a.Watch.Validate())
	validate.DNSLabel(&errs, validate.Join(path, "dashboard.name"), a.Dashboard.Name, 253)
	validate.LabelKey(&errs, validate.Join(path, "grafana.sidecarLabel"), a.Dashboard.SidecarLabel)
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
	labels := merged(a.Watch.Labels, map[string]string{a.Dashboard.SidecarLabel: a.Dashboard.SidecarLabelValue})
	return monitoringObjects{monitors: monitors, rule: rule, dashboard: &corev1.ConfigMapArgs{
		Metadata: objectMeta(a.Dashboard.Name, a.Dashboard.Namespace, stringMap(labels), nil),
		Data:     pulumi.StringMap{monitoring.DashboardFileName(a.Watch.Stack): pulumi.String(string(dashboard))},
	}}, nil
}
