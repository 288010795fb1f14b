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

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/render"
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
			if c.Ports[0].ContainerPort != 3000 || o.service.Spec.Ports[0].Port != 3000 || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/ready" {
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
	registered, err := render.Capture("test", "unit", nil, nil, func(ctx *pulumi.Context) error {
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
	resources, err := render.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
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
	objs, _ := render.Objects(resources)
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
