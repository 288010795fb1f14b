package components_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cirkelline/infra/components"
)

func baseInClusterRedis() components.InClusterRedisArgs {
	return components.InClusterRedisArgs{
		Name: "shop-redis", Namespace: pulumi.String("shop"), PartOf: "shop",
		Password: pulumi.String("0123456789abcdef0123"), Clients: []string{"server"},
	}
}

// redisObjects are the in-cluster Redis's objects.
type redisObjects struct {
	secret     *corev1.Secret
	deployment *appsv1.Deployment
	service    *corev1.Service
	policy     *networkingv1.NetworkPolicy
}

func (o redisObjects) all() map[string]any {
	return keyed(o.secret, o.deployment, o.service, o.policy)
}

// baseRedisObjects is what baseInClusterRedis registers: one pod (two would
// be two caches) that saves nothing, running as 10001 (not the image's
// redis user 999: kube-score's container-security-context-user-group-id
// wants IDs above 10000), its password from the Secret, maxmemory 75 % of
// the 256Mi limit; readiness an authenticated PING, liveness only the port
// (kube-score's pod-probes-identical); only the clients may connect.
func baseRedisObjects() redisObjects {
	labels := map[string]string{
		"app.kubernetes.io/name": "shop-redis", "app.kubernetes.io/instance": "shop-shop-redis", "app.kubernetes.io/part-of": "shop",
		"app.kubernetes.io/component": "cache", "app.kubernetes.io/managed-by": "pulumi",
	}
	selector := map[string]string{"app.kubernetes.io/name": "shop-redis", "app.kubernetes.io/instance": "shop-shop-redis", "app.kubernetes.io/part-of": "shop"}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels}
	}
	service := meta("shop-redis")
	service.Annotations = map[string]string{"pulumi.com/skipAwait": "true"}
	return redisObjects{
		secret: &corev1.Secret{
			TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: meta("shop-redis-auth"),
			Type: corev1.SecretTypeOpaque, StringData: map[string]string{"REDIS_PASSWORD": "[secret]"},
		},
		deployment: &appsv1.Deployment{
			TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta("shop-redis"),
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr[int32](1),
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						AutomountServiceAccountToken: ptr(false),
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot: ptr(true), RunAsUser: ptr[int64](10001), RunAsGroup: ptr[int64](10001), FSGroup: ptr[int64](10001),
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name: "redis", Image: "redis:7.4-alpine", Command: []string{"redis-server"},
							Args: []string{"--requirepass", "$(REDIS_PASSWORD)", "--save", "", "--appendonly", "no",
								"--maxmemory", "201326592", "--maxmemory-policy", "allkeys-lru"},
							Env: []corev1.EnvVar{{Name: "REDIS_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "shop-redis-auth"}, Key: "REDIS_PASSWORD",
							}}}},
							Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379, Protocol: corev1.ProtocolTCP}},
							Resources: corev1.ResourceRequirements{
								Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
								Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
							},
							ReadinessProbe: &corev1.Probe{
								ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
									Command: []string{"sh", "-c", `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p 6379 ping | grep -qx PONG`},
								}},
								PeriodSeconds: 10, TimeoutSeconds: 2,
							},
							LivenessProbe: &corev1.Probe{
								ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("redis")}},
								PeriodSeconds: 20, FailureThreshold: 6,
							},
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true), RunAsNonRoot: ptr(true),
								Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
							VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
						}},
						Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("256Mi"))}}}},
					},
				},
			},
		},
		service: &corev1.Service{
			TypeMeta: typeMeta("v1", "Service"), ObjectMeta: service,
			Spec: corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{
				{Name: "redis", Port: 6379, TargetPort: intstr.FromString("redis"), Protocol: corev1.ProtocolTCP},
			}},
		},
		policy: &networkingv1.NetworkPolicy{
			TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta("shop-redis-allow"),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: selector},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{"app.kubernetes.io/part-of": "shop"},
						MatchExpressions: []metav1.LabelSelectorRequirement{
							{Key: "app.kubernetes.io/name", Operator: metav1.LabelSelectorOpIn, Values: []string{"server"}},
						},
					}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(6379))}},
				}},
			},
		},
	}
}

// TestInClusterRedis: the base case, then one mutation of the args and of
// the wanted objects per row, every registered object compared whole.
func TestInClusterRedis(t *testing.T) {
	redis := func(o *redisObjects) *corev1.Container { return &o.deployment.Spec.Template.Spec.Containers[0] }
	testObjectRows(t, "cirkelline:components:InClusterRedis", baseInClusterRedis, baseRedisObjects, func(ctx *pulumi.Context, a components.InClusterRedisArgs) error {
		_, err := components.NewInClusterRedis(ctx, "cache", a)
		return err
	}, []objectRow[components.InClusterRedisArgs, redisObjects]{
		{"defaults", func(*components.InClusterRedisArgs) {}, func(*redisObjects) {}},
		{"image", func(a *components.InClusterRedisArgs) { a.Image = "redis:8.0-alpine" }, func(o *redisObjects) { redis(o).Image = "redis:8.0-alpine" }},
		{"resources: maxmemory follows the limit", func(a *components.InClusterRedisArgs) {
			a.Resources = components.ResourcesSpec{CPURequest: "200m", MemoryLimit: "1Gi"}
		}, func(o *redisObjects) {
			redis(o).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("200m")
			redis(o).Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
			redis(o).Args[7] = "805306368" // 75 % of 1Gi
		}},
		{"several clients", func(a *components.InClusterRedisArgs) { a.Clients = []string{"server", "worker"} }, func(o *redisObjects) {
			o.policy.Spec.Ingress[0].From[0].PodSelector.MatchExpressions[0].Values = []string{"server", "worker"}
		}},
		{"on the stack's node pool", func(a *components.InClusterRedisArgs) {
			a.Placement = components.Placement{
				NodeSelector: map[string]string{"karpenter.sh/nodepool": "shop"},
				Tolerations:  []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
			}
		}, func(o *redisObjects) {
			pod := &o.deployment.Spec.Template.Spec
			pod.NodeSelector = map[string]string{"karpenter.sh/nodepool": "shop"}
			pod.Tolerations = []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}}
		}},
	})
}

func TestInClusterRedisRefused(t *testing.T) {
	err := components.InClusterRedisArgs{Name: "r", Image: "redis"}.Validate("redis.inCluster")
	for _, want := range []string{`redis.inCluster.image ("redis"): has no tag`, `redis.inCluster.password: is required`, `redis.inCluster.clients: must name at least one service`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
