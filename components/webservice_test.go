package components_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
)

const (
	deploymentType = "kubernetes:apps/v1:Deployment"
	serviceType    = "kubernetes:core/v1:Service"
	hpaType        = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	pdbType        = "kubernetes:policy/v1:PodDisruptionBudget"
)

func baseWebService() components.WebServiceArgs {
	return components.WebServiceArgs{
		Name: "api", Namespace: pulumi.String("shop"), PartOf: "shop",
		Image: "ghcr.io/example/api:1.2.3", ServiceAccountName: pulumi.String("shop"),
	}
}

// webObjects is everything a WebService renders, decoded.
type webObjects struct {
	deployment        appsv1.Deployment
	service, headless corev1.Service
	hpa               *autoscalingv2.HorizontalPodAutoscaler
	pdb               *policyv1.PodDisruptionBudget
}

func renderWebService(t *testing.T, args components.WebServiceArgs) (webObjects, captured) {
	t.Helper()
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewWebService(ctx, "api", args)
		return err
	})
	var o webObjects
	c.mustGet(deploymentType, args.Name, &o.deployment)
	c.mustGet(serviceType, args.Name, &o.service)
	c.mustGet(serviceType, args.Name+"-headless", &o.headless)
	var hpa autoscalingv2.HorizontalPodAutoscaler
	if c.get(hpaType, args.Name+"-hpa", &hpa) {
		o.hpa = &hpa
	}
	var pdb policyv1.PodDisruptionBudget
	if c.get(pdbType, args.Name+"-pdb", &pdb) {
		o.pdb = &pdb
	}
	return o, c
}

func TestWebService(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*components.WebServiceArgs)
		check  func(*testing.T, webObjects)
	}{
		{"defaults", func(*components.WebServiceArgs) {}, func(t *testing.T, o webObjects) {
			if o.deployment.Spec.Replicas != nil {
				t.Error("an HPA-managed Deployment must not set replicas")
			}
			if o.hpa == nil || *o.hpa.Spec.MinReplicas != 2 || o.hpa.Spec.MaxReplicas != 20 {
				t.Fatalf("hpa = %+v, want 2-20", o.hpa)
			}
			if got := targets(o.hpa); got != "cpu=70 memory=80" {
				t.Errorf("hpa targets %s", got)
			}
			if o.hpa.Spec.ScaleTargetRef.Name != "api" || o.hpa.Spec.ScaleTargetRef.Kind != "Deployment" {
				t.Errorf("hpa targets %+v", o.hpa.Spec.ScaleTargetRef)
			}
			if o.pdb == nil || o.pdb.Spec.MaxUnavailable.IntValue() != 1 || o.pdb.Spec.MinAvailable != nil {
				t.Errorf("pdb = %+v, want maxUnavailable 1", o.pdb)
			}
			if o.service.Spec.Type != "ClusterIP" || o.headless.Spec.ClusterIP != "None" {
				t.Errorf("services: %s / headless clusterIP %q", o.service.Spec.Type, o.headless.Spec.ClusterIP)
			}
			sel := o.deployment.Spec.Selector.MatchLabels
			for _, s := range []map[string]string{o.service.Spec.Selector, o.headless.Spec.Selector, o.pdb.Spec.Selector.MatchLabels} {
				if !reflect.DeepEqual(s, sel) {
					t.Errorf("selector %v differs from the deployment's %v", s, sel)
				}
			}
			if o.deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
				t.Error("rolling update must keep maxUnavailable 0")
			}
			pod := o.deployment.Spec.Template.Spec
			c := pod.Containers[0]
			if !*pod.SecurityContext.RunAsNonRoot || *pod.SecurityContext.RunAsUser != 10001 || !*c.SecurityContext.ReadOnlyRootFilesystem ||
				*c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL" || pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
				t.Errorf("security context is not restricted: pod %+v container %+v", pod.SecurityContext, c.SecurityContext)
			}
			if c.StartupProbe == nil || c.LivenessProbe == nil || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/health" {
				t.Error("startup, liveness and readiness probes on /health expected")
			}
			if c.Resources.Requests.Cpu().String() != "250m" || c.Resources.Limits.Memory().String() != "2Gi" {
				t.Errorf("resources %+v", c.Resources)
			}
			if len(pod.TopologySpreadConstraints) != 2 || pod.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" {
				t.Errorf("topology spread %+v", pod.TopologySpreadConstraints)
			}
			if o.service.Annotations[components.AlbHealthCheckPathAnnotation] != "/health" {
				t.Errorf("service annotations %v", o.service.Annotations)
			}
		}},
		{"hpa disabled sets replicas and drops the HPA", func(a *components.WebServiceArgs) { a.HPA.Disabled = true; a.HPA.MinReplicas = 3 }, func(t *testing.T, o webObjects) {
			if o.hpa != nil || o.deployment.Spec.Replicas == nil || *o.deployment.Spec.Replicas != 3 {
				t.Errorf("hpa %v replicas %v", o.hpa, o.deployment.Spec.Replicas)
			}
		}},
		{"min available PDB", func(a *components.WebServiceArgs) { a.HPA.MinReplicas = 3; a.PDB.MinAvailable = ptr[int32](2) }, func(t *testing.T, o webObjects) {
			if o.pdb.Spec.MinAvailable.IntValue() != 2 || o.pdb.Spec.MaxUnavailable != nil {
				t.Errorf("pdb %+v", o.pdb.Spec)
			}
		}},
		{"pdb disabled", func(a *components.WebServiceArgs) { a.PDB.Disabled = true }, func(t *testing.T, o webObjects) {
			if o.pdb != nil {
				t.Error("no PDB expected")
			}
		}},
		{"scaling behaviour", func(a *components.WebServiceArgs) {
			a.HPA.ScaleUp = components.ScalingRules{StabilizationSeconds: ptr[int32](30), Percent: 50, Pods: 2, PeriodSeconds: 30}
		}, func(t *testing.T, o webObjects) {
			up := o.hpa.Spec.Behavior.ScaleUp
			if *up.StabilizationWindowSeconds != 30 || up.Policies[0].Value != 50 || up.Policies[1].Value != 2 || *up.SelectPolicy != "Max" {
				t.Errorf("scale up %+v", up)
			}
			if *o.hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds != 300 {
				t.Error("scale down keeps its 300 s default")
			}
		}},
		{"env and config", func(a *components.WebServiceArgs) {
			a.Env = map[string]string{"B": "2", "A": "1"}
			a.ConfigMaps, a.Secrets = []pulumi.StringInput{pulumi.String("cfg")}, []pulumi.StringInput{pulumi.String("sec")}
			a.PodAnnotations = pulumi.StringMap{"checksum/config": pulumi.String("abc")}
		}, func(t *testing.T, o webObjects) {
			c := o.deployment.Spec.Template.Spec.Containers[0]
			if len(c.Env) != 2 || c.Env[0].Name != "A" || c.EnvFrom[0].ConfigMapRef.Name != "cfg" || c.EnvFrom[1].SecretRef.Name != "sec" {
				t.Errorf("env %+v envFrom %+v", c.Env, c.EnvFrom)
			}
			if o.deployment.Spec.Template.Annotations["checksum/config"] != "abc" {
				t.Error("pod annotations not applied")
			}
		}},
		{"writable root and no spread", func(a *components.WebServiceArgs) { a.WritableRootFilesystem = true; a.DisableZoneSpread = true }, func(t *testing.T, o webObjects) {
			pod := o.deployment.Spec.Template.Spec
			if *pod.Containers[0].SecurityContext.ReadOnlyRootFilesystem || pod.TopologySpreadConstraints != nil {
				t.Error("overrides not applied")
			}
		}},
		{"port and probe", func(a *components.WebServiceArgs) {
			a.Port = 3000
			a.Probe.Path = "/healthz"
			a.Probe.ReadinessPath = "/ready"
		}, func(t *testing.T, o webObjects) {
			c := o.deployment.Spec.Template.Spec.Containers[0]
			if c.Ports[0].ContainerPort != 3000 || o.service.Spec.Ports[0].Port != 3000 || c.StartupProbe.HTTPGet.Path != "/healthz" ||
				c.LivenessProbe.TCPSocket.Port.String() != "http" || c.ReadinessProbe.HTTPGet.Path != "/ready" {
				t.Errorf("ports %+v probes %+v %+v", c.Ports, c.LivenessProbe, c.ReadinessProbe)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseWebService()
			tt.mutate(&args)
			o, c := renderWebService(t, args)
			c.checkParenting("cirkelline:components:WebService")
			tt.check(t, o)
		})
	}
}

// hardening is what issue 13 changed in a web service's objects: probes,
// shutdown, spread, the ALB annotations and the scale-down behaviour.
type hardening struct {
	Startup, Liveness, Readiness *corev1.Probe
	PreStop                      *corev1.LifecycleHandler
	GracePeriodSeconds           *int64
	Spread                       []corev1.TopologySpreadConstraint
	ServiceAnnotations           map[string]string
	ScaleDown                    *autoscalingv2.HPAScalingRules
	NodeSelector                 map[string]string
	Tolerations                  []corev1.Toleration
}

func hardeningOf(o webObjects) hardening {
	pod := o.deployment.Spec.Template.Spec
	c := pod.Containers[0]
	h := hardening{
		Startup: c.StartupProbe, Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe,
		GracePeriodSeconds: pod.TerminationGracePeriodSeconds, Spread: pod.TopologySpreadConstraints,
		ServiceAnnotations: o.service.Annotations,
		NodeSelector:       pod.NodeSelector, Tolerations: pod.Tolerations,
	}
	if c.Lifecycle != nil {
		h.PreStop = c.Lifecycle.PreStop
	}
	if o.hpa != nil && o.hpa.Spec.Behavior != nil {
		h.ScaleDown = o.hpa.Spec.Behavior.ScaleDown
	}
	return h
}

// baseHardening is what baseWebService renders: liveness a TCP check on
// "http", distinct from readiness; a 15 s preStop sleep inside a 45 s
// grace period; the ALB draining for 30 s; both spreads preferences
// counted per revision; scale-down the larger of 10 % and 1 pod a minute.
func baseHardening() hardening {
	selector := &metav1.LabelSelector{MatchLabels: components.SelectorLabels("shop", "api")}
	httpProbe := func(path string, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds: 10, TimeoutSeconds: 3, FailureThreshold: failures,
		}
	}
	spread := func(key string) corev1.TopologySpreadConstraint {
		return corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: selector, MatchLabelKeys: []string{"pod-template-hash"}}
	}
	return hardening{
		Startup: httpProbe("/health", 12),
		Liveness: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}},
			PeriodSeconds: 10, TimeoutSeconds: 3, FailureThreshold: 3,
		},
		Readiness:          httpProbe("/health", 3),
		PreStop:            &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 15}},
		GracePeriodSeconds: ptr[int64](45),
		Spread:             []corev1.TopologySpreadConstraint{spread("topology.kubernetes.io/zone"), spread("kubernetes.io/hostname")},
		ServiceAnnotations: map[string]string{
			"alb.ingress.kubernetes.io/healthcheck-path":        "/health",
			"alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30",
			// The rollout await already waits for the pods it would list.
			"pulumi.com/skipAwait": "true",
		},
		ScaleDown: &autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: ptr[int32](300), SelectPolicy: ptr(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PercentScalingPolicy, Value: 10, PeriodSeconds: 60},
				{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60},
			},
		},
	}
}

// TestWebServiceHardening: the base case, then one mutation of the args
// and of the wanted objects per row, compared whole.
func TestWebServiceHardening(t *testing.T) {
	hardZone := func(h *hardening) {
		h.Spread[0].WhenUnsatisfiable = corev1.DoNotSchedule
		h.Spread[0].NodeTaintsPolicy = ptr(corev1.NodeInclusionPolicyHonor)
	}
	tests := []struct {
		name  string
		setup func(*components.WebServiceArgs)
		want  func(*hardening)
	}{
		{"defaults", func(*components.WebServiceArgs) {}, func(*hardening) {}},
		{"liveness path", func(a *components.WebServiceArgs) { a.Probe.LivenessPath = "/livez" }, func(h *hardening) {
			h.Liveness.TCPSocket = nil
			h.Liveness.HTTPGet = &corev1.HTTPGetAction{Path: "/livez", Port: intstr.FromString("http")}
		}},
		{"readiness path apart from the startup path", func(a *components.WebServiceArgs) { a.Probe.ReadinessPath = "/ready" }, func(h *hardening) {
			h.Readiness.HTTPGet.Path = "/ready"
			h.ServiceAnnotations["alb.ingress.kubernetes.io/healthcheck-path"] = "/ready"
		}},
		{"shutdown", func(a *components.WebServiceArgs) {
			a.Shutdown = components.ShutdownSpec{PreStopSeconds: 20, DeregistrationDelaySeconds: 60, GracePeriodSeconds: 90}
		}, func(h *hardening) {
			h.PreStop.Sleep.Seconds = 20
			h.GracePeriodSeconds = ptr[int64](90)
			h.ServiceAnnotations["alb.ingress.kubernetes.io/target-group-attributes"] = "deregistration_delay.timeout_seconds=60"
		}},
		{"three zones: hard zone spread", func(a *components.WebServiceArgs) { a.Zones = 3; a.HPA.MinReplicas = 3 }, func(h *hardening) { hardZone(h) }},
		{"three zones, fewer pods: still hard, no minDomains", func(a *components.WebServiceArgs) { a.Zones = 3; a.HPA.MinReplicas = 1 }, func(h *hardening) { hardZone(h) }},
		{"one zone: a preference", func(a *components.WebServiceArgs) { a.Zones = 1; a.HPA.MinReplicas = 3 }, func(*hardening) {}},
		{"fixed replicas, two zones", func(a *components.WebServiceArgs) { a.Zones = 2; a.HPA.Disabled = true; a.HPA.MinReplicas = 2 }, func(h *hardening) {
			hardZone(h)
			h.ScaleDown = nil
		}},
		{"on the stack's node pool, three zones", func(a *components.WebServiceArgs) {
			a.Zones = 3
			a.Placement = components.Placement{
				NodeSelector: map[string]string{"karpenter.sh/nodepool": "shop"},
				Tolerations:  []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
			}
		}, func(h *hardening) {
			hardZone(h)
			h.NodeSelector = map[string]string{"karpenter.sh/nodepool": "shop"}
			h.Tolerations = []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}}
		}},
		{"no spread", func(a *components.WebServiceArgs) { a.Zones = 3; a.HPA.MinReplicas = 3; a.DisableZoneSpread = true }, func(h *hardening) { h.Spread = nil }},
		{"scale-down Min", func(a *components.WebServiceArgs) { a.HPA.ScaleDown.SelectPolicy = components.SelectMin }, func(h *hardening) {
			h.ScaleDown.SelectPolicy = ptr(autoscalingv2.MinChangePolicySelect)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseWebService()
			tt.setup(&args)
			want := baseHardening()
			tt.want(&want)
			o, _ := renderWebService(t, args)
			if got := hardeningOf(o); !reflect.DeepEqual(got, want) {
				gotY, _ := yaml.Marshal(got)
				wantY, _ := yaml.Marshal(want)
				t.Errorf("got\n%s\nwant\n%s", gotY, wantY)
			}
		})
	}
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

func targets(h *autoscalingv2.HorizontalPodAutoscaler) string {
	var s []string
	for _, m := range h.Spec.Metrics {
		s = append(s, fmt.Sprintf("%s=%d", m.Resource.Name, *m.Resource.Target.AverageUtilization))
	}
	return strings.Join(s, " ")
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
