package components_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
)

const deploymentType = "kubernetes:apps/v1:Deployment"

func baseWebService() components.WebServiceArgs {
	return components.WebServiceArgs{
		Name: "api", Namespace: pulumi.String("shop"), PartOf: "shop",
		Image: "ghcr.io/example/api:1.2.3", ServiceAccountName: pulumi.String("shop"),
	}
}

// webObjects are the objects of a web service; HPA and PDB are nil when
// the service has none.
type webObjects struct {
	deployment        *appsv1.Deployment
	service, headless *corev1.Service
	hpa               *autoscalingv2.HorizontalPodAutoscaler
	pdb               *policyv1.PodDisruptionBudget
}

func (o webObjects) all() map[string]any {
	return keyed(o.deployment, o.service, o.headless, o.hpa, o.pdb)
}

// baseWebServiceObjects is what baseWebService registers, written out
// from the documented defaults: 2–20 pods on CPU 70 % and memory 80 %, a
// restricted non-root pod with a read-only root, startup and readiness on
// /health and liveness a TCP check on "http", a 15 s preStop sleep inside
// a 45 s grace period, the ALB draining for 30 s, both spreads preferences
// counted per revision, scale-down the larger of 10 % and 1 pod a minute,
// and a PDB of maxUnavailable 1.
func baseWebServiceObjects() webObjects {
	web := map[string]string{
		"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "shop-api", "app.kubernetes.io/part-of": "shop",
		"app.kubernetes.io/component": "web", "app.kubernetes.io/managed-by": "pulumi",
	}
	peers := maps.Clone(web)
	peers["app.kubernetes.io/component"] = "peers"
	selector := map[string]string{"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "shop-api", "app.kubernetes.io/part-of": "shop"}
	meta := func(name string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels}
	}
	httpProbe := func(path string, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds: 10, TimeoutSeconds: 3, FailureThreshold: failures,
		}
	}
	spread := func(key string) corev1.TopologySpreadConstraint {
		return corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: selector}, MatchLabelKeys: []string{"pod-template-hash"}}
	}
	utilization := func(name corev1.ResourceName, percent int32) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: name, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(percent)},
		}}
	}
	rules := func(window, percent, pods, period int32) *autoscalingv2.HPAScalingRules {
		return &autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: ptr(window), SelectPolicy: ptr(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PercentScalingPolicy, Value: percent, PeriodSeconds: period},
				{Type: autoscalingv2.PodsScalingPolicy, Value: pods, PeriodSeconds: period},
			},
		}
	}
	return webObjects{
		deployment: &appsv1.Deployment{
			TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta("api", web),
			Spec: appsv1.DeploymentSpec{
				Selector:             &metav1.LabelSelector{MatchLabels: selector},
				RevisionHistoryLimit: ptr[int32](5),
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr(intstr.FromInt32(0)), MaxSurge: ptr(intstr.FromString("25%")),
				}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: web},
					Spec: corev1.PodSpec{
						ServiceAccountName:            "shop",
						TerminationGracePeriodSeconds: ptr[int64](45),
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot: ptr(true), RunAsUser: ptr[int64](10001), RunAsGroup: ptr[int64](10001), FSGroup: ptr[int64](10001),
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name: "app", Image: "ghcr.io/example/api:1.2.3", ImagePullPolicy: corev1.PullIfNotPresent,
							Ports: []corev1.ContainerPort{
								{Name: "http", ContainerPort: 8000, Protocol: corev1.ProtocolTCP},
								{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
							},
							Resources: corev1.ResourceRequirements{
								Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
								Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000m"), corev1.ResourceMemory: resource.MustParse("2Gi")},
							},
							// 120 s to start, in 10 s periods.
							StartupProbe: httpProbe("/health", 12),
							LivenessProbe: &corev1.Probe{
								ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}},
								PeriodSeconds: 10, TimeoutSeconds: 3, FailureThreshold: 3,
							},
							ReadinessProbe: httpProbe("/health", 3),
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true), RunAsNonRoot: ptr(true),
								Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
							Lifecycle:    &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 15}}},
							VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
						}},
						Volumes:                   []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("256Mi"))}}}},
						TopologySpreadConstraints: []corev1.TopologySpreadConstraint{spread("topology.kubernetes.io/zone"), spread("kubernetes.io/hostname")},
					},
				},
			},
		},
		service: &corev1.Service{
			TypeMeta: typeMeta("v1", "Service"),
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop", Labels: web, Annotations: map[string]string{
				"alb.ingress.kubernetes.io/healthcheck-path":        "/health",
				"alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30",
				// The rollout await already waits for the pods it would list.
				"pulumi.com/skipAwait": "true",
			}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: selector, Ports: []corev1.ServicePort{
				{Name: "http", Port: 8000, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
				{Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP},
			}},
		},
		headless: &corev1.Service{
			TypeMeta: typeMeta("v1", "Service"), ObjectMeta: meta("api-headless", peers),
			Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: selector, Ports: []corev1.ServicePort{
				{Name: "http", Port: 8000, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
			}},
		},
		hpa: &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta: typeMeta("autoscaling/v2", "HorizontalPodAutoscaler"), ObjectMeta: meta("api-hpa", web),
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "api"},
				MinReplicas:    ptr[int32](2), MaxReplicas: 20,
				Metrics: []autoscalingv2.MetricSpec{utilization(corev1.ResourceCPU, 70), utilization(corev1.ResourceMemory, 80)},
				Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
					ScaleUp:   rules(0, 100, 4, 15),
					ScaleDown: rules(300, 10, 1, 60),
				},
			},
		},
		pdb: &policyv1.PodDisruptionBudget{
			TypeMeta: typeMeta("policy/v1", "PodDisruptionBudget"), ObjectMeta: meta("api-pdb", web),
			Spec: policyv1.PodDisruptionBudgetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: selector}, MaxUnavailable: ptr(intstr.FromInt32(1)),
				UnhealthyPodEvictionPolicy: ptr(policyv1.AlwaysAllow),
			},
		},
	}
}

// TestWebService: the base case, then one mutation of the args and of the
// wanted objects per row, every registered object compared whole.
func TestWebService(t *testing.T) {
	pod := func(o *webObjects) *corev1.PodSpec { return &o.deployment.Spec.Template.Spec }
	app := func(o *webObjects) *corev1.Container { return &o.deployment.Spec.Template.Spec.Containers[0] }
	hardZone := func(o *webObjects) {
		zone := &pod(o).TopologySpreadConstraints[0]
		zone.WhenUnsatisfiable = corev1.DoNotSchedule
		zone.NodeTaintsPolicy = ptr(corev1.NodeInclusionPolicyHonor)
	}
	testObjectRows(t, "cirkelline:components:WebService", baseWebService, baseWebServiceObjects, func(ctx *pulumi.Context, a components.WebServiceArgs) error {
		_, err := components.NewWebService(ctx, "api", a)
		return err
	}, []objectRow[components.WebServiceArgs, webObjects]{
		{"defaults", func(*components.WebServiceArgs) {}, func(*webObjects) {}},
		{"hpa disabled: fixed replicas, no HPA", func(a *components.WebServiceArgs) { a.HPA.Disabled = true; a.HPA.MinReplicas = 3 }, func(o *webObjects) {
			o.deployment.Spec.Replicas = ptr[int32](3)
			o.hpa = nil
		}},
		{"min available PDB", func(a *components.WebServiceArgs) { a.HPA.MinReplicas = 3; a.PDB.MinAvailable = ptr[int32](2) }, func(o *webObjects) {
			o.hpa.Spec.MinReplicas = ptr[int32](3)
			o.pdb.Spec.MaxUnavailable = nil
			o.pdb.Spec.MinAvailable = ptr(intstr.FromInt32(2))
		}},
		{"pdb disabled", func(a *components.WebServiceArgs) { a.PDB.Disabled = true }, func(o *webObjects) { o.pdb = nil }},
		{"scale-up behaviour", func(a *components.WebServiceArgs) {
			a.HPA.ScaleUp = components.ScalingRules{StabilizationSeconds: ptr[int32](30), Percent: 50, Pods: 2, PeriodSeconds: 30}
		}, func(o *webObjects) {
			up := o.hpa.Spec.Behavior.ScaleUp
			up.StabilizationWindowSeconds = ptr[int32](30)
			up.Policies[0].Value, up.Policies[0].PeriodSeconds = 50, 30
			up.Policies[1].Value, up.Policies[1].PeriodSeconds = 2, 30
		}},
		{"scale-down Min", func(a *components.WebServiceArgs) { a.HPA.ScaleDown.SelectPolicy = components.SelectMin }, func(o *webObjects) {
			o.hpa.Spec.Behavior.ScaleDown.SelectPolicy = ptr(autoscalingv2.MinChangePolicySelect)
		}},
		{"targets and bounds", func(a *components.WebServiceArgs) {
			a.HPA.MinReplicas, a.HPA.MaxReplicas, a.HPA.CPUUtilization, a.HPA.MemoryUtilization = 3, 50, 60, 75
		}, func(o *webObjects) {
			o.hpa.Spec.MinReplicas, o.hpa.Spec.MaxReplicas = ptr[int32](3), 50
			*o.hpa.Spec.Metrics[0].Resource.Target.AverageUtilization = 60
			*o.hpa.Spec.Metrics[1].Resource.Target.AverageUtilization = 75
		}},
		{"env, config and pod annotations", func(a *components.WebServiceArgs) {
			a.Env = map[string]string{"B": "2", "A": "1"}
			a.ConfigMaps, a.Secrets = []pulumi.StringInput{pulumi.String("cfg")}, []pulumi.StringInput{pulumi.String("sec")}
			a.PodAnnotations = pulumi.StringMap{"checksum/config": pulumi.String("abc")}
		}, func(o *webObjects) {
			app(o).Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}
			app(o).EnvFrom = []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
			}
			o.deployment.Spec.Template.Annotations = map[string]string{"checksum/config": "abc"}
		}},
		{"resources, image and user", func(a *components.WebServiceArgs) {
			a.Resources = components.ResourcesSpec{CPURequest: "500m", MemoryLimit: "4Gi"}
			a.Image = "ghcr.io/example/api@sha256:" + strings.Repeat("a", 64)
			a.RunAsUser = 2000
		}, func(o *webObjects) {
			app(o).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("500m")
			app(o).Resources.Limits[corev1.ResourceMemory] = resource.MustParse("4Gi")
			app(o).Image = "ghcr.io/example/api@sha256:" + strings.Repeat("a", 64)
			sc := pod(o).SecurityContext
			sc.RunAsUser, sc.RunAsGroup, sc.FSGroup = ptr[int64](2000), ptr[int64](2000), ptr[int64](2000)
		}},
		{"writable root", func(a *components.WebServiceArgs) { a.WritableRootFilesystem = true }, func(o *webObjects) {
			app(o).SecurityContext.ReadOnlyRootFilesystem = ptr(false)
		}},
		{"ports", func(a *components.WebServiceArgs) { a.Port, a.MetricsPort = 3000, 9100 }, func(o *webObjects) {
			app(o).Ports[0].ContainerPort, app(o).Ports[1].ContainerPort = 3000, 9100
			o.service.Spec.Ports[0].Port, o.service.Spec.Ports[1].Port = 3000, 9100
			o.headless.Spec.Ports[0].Port = 3000
		}},
		{"probe paths and timing", func(a *components.WebServiceArgs) {
			a.Probe = components.ProbeSpec{Path: "/healthz", ReadinessPath: "/ready", StartupSeconds: 61, PeriodSeconds: 5, TimeoutSeconds: 2}
		}, func(o *webObjects) {
			for _, p := range []*corev1.Probe{app(o).StartupProbe, app(o).LivenessProbe, app(o).ReadinessProbe} {
				p.PeriodSeconds, p.TimeoutSeconds = 5, 2
			}
			app(o).StartupProbe.HTTPGet.Path = "/healthz"
			app(o).StartupProbe.FailureThreshold = 13 // 61 s in 5 s periods, rounded up
			app(o).ReadinessProbe.HTTPGet.Path = "/ready"
			o.service.Annotations["alb.ingress.kubernetes.io/healthcheck-path"] = "/ready"
		}},
		{"liveness path", func(a *components.WebServiceArgs) { a.Probe.LivenessPath = "/livez" }, func(o *webObjects) {
			app(o).LivenessProbe.TCPSocket = nil
			app(o).LivenessProbe.HTTPGet = &corev1.HTTPGetAction{Path: "/livez", Port: intstr.FromString("http")}
		}},
		{"shutdown", func(a *components.WebServiceArgs) {
			a.Shutdown = components.ShutdownSpec{PreStopSeconds: 20, DeregistrationDelaySeconds: 60, GracePeriodSeconds: 90}
		}, func(o *webObjects) {
			app(o).Lifecycle.PreStop.Sleep.Seconds = 20
			pod(o).TerminationGracePeriodSeconds = ptr[int64](90)
			o.service.Annotations["alb.ingress.kubernetes.io/target-group-attributes"] = "deregistration_delay.timeout_seconds=60"
		}},
		{"three zones: hard zone spread", func(a *components.WebServiceArgs) { a.Zones = 3; a.HPA.MinReplicas = 3 }, func(o *webObjects) {
			hardZone(o)
			o.hpa.Spec.MinReplicas = ptr[int32](3)
		}},
		{"three zones, fewer pods: still hard, no minDomains", func(a *components.WebServiceArgs) { a.Zones = 3; a.HPA.MinReplicas = 1 }, func(o *webObjects) {
			hardZone(o)
			o.hpa.Spec.MinReplicas = ptr[int32](1)
		}},
		{"one zone: a preference", func(a *components.WebServiceArgs) { a.Zones = 1 }, func(*webObjects) {}},
		{"fixed replicas, two zones", func(a *components.WebServiceArgs) { a.Zones = 2; a.HPA.Disabled = true }, func(o *webObjects) {
			hardZone(o)
			o.deployment.Spec.Replicas = ptr[int32](2)
			o.hpa = nil
		}},
		{"on the stack's node pool, three zones", func(a *components.WebServiceArgs) {
			a.Zones = 3
			a.Placement = components.Placement{
				NodeSelector: map[string]string{"karpenter.sh/nodepool": "shop"},
				Tolerations:  []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
			}
		}, func(o *webObjects) {
			hardZone(o)
			pod(o).NodeSelector = map[string]string{"karpenter.sh/nodepool": "shop"}
			pod(o).Tolerations = []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}}
		}},
		{"no spread", func(a *components.WebServiceArgs) { a.Zones = 3; a.DisableZoneSpread = true }, func(o *webObjects) {
			pod(o).TopologySpreadConstraints = nil
		}},
	})
}

// TestWebServiceHardeningRefused: each bad value is reported at its path
// with the fix.
func TestWebServiceHardeningRefused(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(*components.WebServiceArgs)
		want  []string
	}{
		{"liveness on the readiness path", func(a *components.WebServiceArgs) { a.Probe.LivenessPath = "/health" },
			[]string{`service.probe.livenessPath ("/health"): is also the readiness path, so a failing dependency would restart every pod at once`, `remove it for a TCP check on the "http" port`}},
		{"relative liveness path", func(a *components.WebServiceArgs) { a.Probe.LivenessPath = "livez" },
			[]string{`service.probe.livenessPath ("livez"): must be an absolute HTTP path`}},
		{"grace period within the preStop sleep", func(a *components.WebServiceArgs) {
			a.Shutdown = components.ShutdownSpec{PreStopSeconds: 20, GracePeriodSeconds: 20, DeregistrationDelaySeconds: 10}
		}, []string{`service.shutdown.gracePeriodSeconds (20): must exceed preStopSeconds (20)`, `e.g. 50`}},
		{"grace period within the ALB's draining", func(a *components.WebServiceArgs) { a.Shutdown.DeregistrationDelaySeconds = 300 },
			[]string{`service.shutdown.gracePeriodSeconds (45): must exceed deregistrationDelaySeconds (300), or the pod is killed while the ALB still drains requests to it`, `raise gracePeriodSeconds above 300`}},
		{"deregistration delay beyond AWS's range", func(a *components.WebServiceArgs) {
			a.Shutdown = components.ShutdownSpec{DeregistrationDelaySeconds: 4000, GracePeriodSeconds: 5000}
		}, []string{`service.shutdown.deregistrationDelaySeconds (4000): must be between 1 and 3600`}},
		{"negative preStop", func(a *components.WebServiceArgs) { a.Shutdown.PreStopSeconds = -1 },
			[]string{`service.shutdown.preStopSeconds (-1): must be at least 1`}},
		{"unknown select policy", func(a *components.WebServiceArgs) { a.HPA.ScaleDown.SelectPolicy = "Fastest" },
			[]string{`service.hpa.scaleDown.selectPolicy ("Fastest"): is not a valid choice`, `"Max"`}},
		{"negative zones", func(a *components.WebServiceArgs) { a.Zones = -1 }, []string{`service.zones (-1): must not be negative`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := baseWebService()
			tt.setup(&args)
			err := args.WithDefaults().Validate("service")
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}

func TestWebServiceInvalidRegistersNothing(t *testing.T) {
	args := baseWebService()
	args.Image = "api"
	args.HPA = components.HPASpec{MinReplicas: 5, MaxReplicas: 2}
	registered, err := mockrun.Capture("test", "unit", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewWebService(ctx, "api", args)
		if err == nil {
			t.Error("want a validation error")
		}
		for _, want := range []string{`service.image ("api"): has no tag`, `service.hpa.maxReplicas (2): must be >= minReplicas (5)`} {
			if err != nil && !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Validation runs before the component registers itself or any child.
	if len(registered) != 0 {
		var names []string
		for _, r := range registered {
			names = append(names, r.Type+" "+r.Name)
		}
		t.Errorf("an invalid service registered %v", names)
	}
}

func TestTwoWebServicesDoNotCollide(t *testing.T) {
	c := capture(t, func(ctx *pulumi.Context) error {
		for _, n := range []string{"server", "client"} {
			args := baseWebService()
			args.Name = n
			if _, err := components.NewWebService(ctx, n, args); err != nil {
				return err
			}
		}
		return nil
	})
	var d appsv1.Deployment
	c.mustGet(deploymentType, "server", &d)
	c.mustGet(deploymentType, "client", &d)
}

func ExampleNewWebService() {
	resources, err := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewWebService(ctx, "api", components.WebServiceArgs{
			Name: "api", Namespace: pulumi.String("shop"), PartOf: "shop",
			Image: "ghcr.io/example/api:1.2.3", ServiceAccountName: pulumi.String("shop"),
			HPA: components.HPASpec{MinReplicas: 2, MaxReplicas: 25},
		})
		return err
	})
	if err != nil {
		panic(err)
	}
	objs, _ := mockrun.Objects(resources)
	for _, o := range objs {
		fmt.Println(o.Kind, o.Name)
	}
	// Output:
	// Service api-headless
	// Service api
	// Deployment api
	// HorizontalPodAutoscaler api-hpa
	// PodDisruptionBudget api-pdb
}
