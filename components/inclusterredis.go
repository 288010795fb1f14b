package components

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/internal/validate"
)

// InClusterRedisArgs configures a single-replica Redis inside the cluster,
// for stacks with no AWS account behind them. It is a cache: nothing is
// persisted, and a restart empties it (the cache library falls back to
// memory meanwhile).
type InClusterRedisArgs struct {
	// Name of the Deployment and Service (the DNS name clients use). Required.
	Name string
	// Namespace to create it in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// Image. Default "redis:7.4-alpine".
	Image string
	// Password is the requirepass secret. Required.
	Password pulumi.StringInput
	// Resources of the container. Default 100m–500m CPU, 128Mi–256Mi memory;
	// Redis's maxmemory is set to 75 % of the memory limit (allkeys-lru).
	Resources ResourcesSpec
	// Clients are the service names whose pods may connect. Required.
	Clients []string
	// Placement is where the pod may run. Default anywhere untainted.
	Placement Placement
}

// InClusterRedis is a Redis Deployment, Service, password Secret and NetworkPolicy.
type InClusterRedis struct {
	pulumi.ResourceState

	// Host is the Service's in-cluster DNS name.
	Host pulumi.StringOutput `pulumi:"host"`
	// Port is always 6379.
	Port pulumi.IntOutput `pulumi:"port"`
}

// DefaultRedisResources is the in-cluster Redis pod's size.
func DefaultRedisResources() ResourcesSpec {
	return ResourcesSpec{CPURequest: "100m", CPULimit: "500m", MemoryRequest: "128Mi", MemoryLimit: "256Mi"}
}

// InClusterRedisUID is the in-cluster Redis's user and group (and
// fsGroup): a high ID no image user or host account has (kube-score's
// container-security-context-user-group-id wants both above 10000), not
// the image's redis user (999). redis-server needs no passwd entry, and the
// only directory it may write, /data, is an emptyDir (nothing is saved:
// --save "" --appendonly no), writable through fsGroup.
const InClusterRedisUID = 10001

// redisReadinessCommand pings Redis with the password from the
// container's REDIS_PASSWORD; only a PONG passes (an error reply such as
// LOADING or NOAUTH does not).
var redisReadinessCommand = []string{"sh", "-c", fmt.Sprintf(`REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p %d ping | grep -qx PONG`, RedisPort)}

// DefaultInClusterRedisImage is the in-cluster Redis image.
const DefaultInClusterRedisImage = "redis:7.4-alpine"

// WithDefaults fills every unset field with its documented default.
// NewInClusterRedis applies it before validating.
func (a InClusterRedisArgs) WithDefaults() InClusterRedisArgs {
	a.Image = orString(a.Image, DefaultInClusterRedisImage)
	a.Resources = a.Resources.Or(DefaultRedisResources())
	return a
}

// Validate reports every problem with the (defaulted) args, with field paths under path.
func (a InClusterRedisArgs) Validate(path string) error {
	var errs validate.Errors
	validate.DNSLabel(&errs, validate.Join(path, "name"), a.Name, 63)
	ValidateImage(&errs, validate.Join(path, "image"), a.Image, false)
	errs.Merge(a.Resources.Validate(validate.Join(path, "resources")))
	if a.Password == nil {
		errs.Add(validate.Join(path, "password"), nil, "is required", "set redis.authToken with pulumi config set --secret --path")
	}
	// The ingress rule selects the clients with an In expression, which the
	// API server refuses with no values.
	if len(a.Clients) == 0 {
		errs.Add(validate.Join(path, "clients"), nil, "must name at least one service", `set "redis: true" on the services that use it`)
	}
	return errs.Err()
}

// maxMemoryBytes leaves a quarter of the limit for Redis's own overhead.
func maxMemoryBytes(limit string) int64 {
	q := resource.MustParse(limit)
	return q.Value() * 3 / 4
}

// NewInClusterRedis registers an InClusterRedis component.
func NewInClusterRedis(ctx *pulumi.Context, name string, args InClusterRedisArgs, opts ...pulumi.ResourceOption) (*InClusterRedis, error) {
	args = args.WithDefaults()
	if err := args.Validate("redis.inCluster"); err != nil {
		return nil, fmt.Errorf("in-cluster redis %s: %w", name, err)
	}
	comp := &InClusterRedis{}
	if err := ctx.RegisterComponentResource("cirkelline:components:InClusterRedis", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register in-cluster redis %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	objs := buildInClusterRedis(args)
	secret, err := corev1.NewSecret(ctx, name+"-auth", objs.secret, parent)
	if err != nil {
		return nil, fmt.Errorf("in-cluster redis %s: secret: %w", name, err)
	}
	// The pod reads its password from the Secret: it comes first.
	if _, err := appsv1.NewDeployment(ctx, name, objs.deployment, parent, pulumi.DependsOn([]pulumi.Resource{secret})); err != nil {
		return nil, fmt.Errorf("in-cluster redis %s: deployment: %w", name, err)
	}
	svc, err := corev1.NewService(ctx, name, objs.service, parent)
	if err != nil {
		return nil, fmt.Errorf("in-cluster redis %s: service: %w", name, err)
	}
	if _, err := networkingv1.NewNetworkPolicy(ctx, name, objs.policy, parent); err != nil {
		return nil, fmt.Errorf("in-cluster redis %s: network policy: %w", name, err)
	}
	comp.Host = pulumi.Sprintf(serviceDNSFormat, svc.Metadata.Name().Elem(), args.Namespace)
	comp.Port = pulumi.Int(RedisPort).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"host": comp.Host, "port": comp.Port}); err != nil {
		return nil, fmt.Errorf("in-cluster redis %s outputs: %w", name, err)
	}
	return comp, nil
}

// inClusterRedisObjects are the in-cluster Redis's objects, as
// buildInClusterRedis builds them.
type inClusterRedisObjects struct {
	secret     *corev1.SecretArgs
	deployment *appsv1.DeploymentArgs
	service    *corev1.ServiceArgs
	policy     *networkingv1.NetworkPolicyArgs
}

// buildInClusterRedis builds every object of the in-cluster Redis from its
// defaulted, valid args; NewInClusterRedis only registers them.
func buildInClusterRedis(a InClusterRedisArgs) inClusterRedisObjects {
	labels := stringMap(Labels(a.PartOf, a.Name, "cache"))
	selector := stringMap(SelectorLabels(a.PartOf, a.Name))
	meta := func(objName string) *metav1.ObjectMetaArgs { return objectMeta(objName, a.Namespace, labels, nil) }
	secretName := a.Name + "-auth"
	// Readiness asks Redis itself (PING, authenticated: redis-cli reads the
	// password from REDISCLI_AUTH, src/redis-cli.c REDIS_CLI_AUTH_ENV, so it
	// is not on the command line); liveness only that the port accepts
	// connections, and restarts the pod (emptying the cache) only after two
	// minutes without one. The two differ, as kube-score's
	// pod-probes-identical asks: a Redis that is busy or loading leaves the
	// Service without being restarted for it.
	readiness := &corev1.ProbeArgs{Exec: &corev1.ExecActionArgs{Command: pulumi.ToStringArray(redisReadinessCommand)}, PeriodSeconds: pulumi.Int(10), TimeoutSeconds: pulumi.Int(2)}
	liveness := &corev1.ProbeArgs{TcpSocket: &corev1.TCPSocketActionArgs{Port: pulumi.String("redis")}, PeriodSeconds: pulumi.Int(20), FailureThreshold: pulumi.Int(6)}
	// No await on the Service's endpoints: nothing depends on the Service
	// (the clients connect by its DNS name, known from the plan, and fall
	// back to memory while Redis is away), and the Deployment's rollout
	// await already waits for the one pod they would list.
	svcMeta := meta(a.Name)
	svcMeta.Annotations = pulumi.StringMap{SkipAwaitAnnotation: pulumi.String("true")}
	objs := inClusterRedisObjects{
		secret: &corev1.SecretArgs{
			Metadata:   meta(secretName),
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{"REDIS_PASSWORD": pulumi.ToSecret(a.Password).(pulumi.StringOutput)},
		},
		deployment: &appsv1.DeploymentArgs{
			Metadata: meta(a.Name),
			Spec: &appsv1.DeploymentSpecArgs{
				Replicas: pulumi.Int(1),
				// One pod at a time: two would be two separate caches.
				Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")},
				Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
				Template: &corev1.PodTemplateSpecArgs{
					Metadata: &metav1.ObjectMetaArgs{Labels: labels},
					Spec: a.Placement.on(&corev1.PodSpecArgs{
						AutomountServiceAccountToken: pulumi.Bool(false),
						SecurityContext:              restrictedPod(InClusterRedisUID),
						Containers: corev1.ContainerArray{corev1.ContainerArgs{
							Name:    pulumi.String("redis"),
							Image:   pulumi.String(a.Image),
							Command: pulumi.StringArray{pulumi.String("redis-server")},
							// $(REDIS_PASSWORD) is expanded by the kubelet from the Secret.
							Args: pulumi.ToStringArray([]string{
								"--requirepass", "$(REDIS_PASSWORD)", "--save", "", "--appendonly", "no",
								"--maxmemory", fmt.Sprint(maxMemoryBytes(a.Resources.MemoryLimit)), "--maxmemory-policy", "allkeys-lru",
							}),
							Env: corev1.EnvVarArray{corev1.EnvVarArgs{
								Name: pulumi.String("REDIS_PASSWORD"),
								ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
									Name: pulumi.String(secretName), Key: pulumi.String("REDIS_PASSWORD"),
								}},
							}},
							Ports:           corev1.ContainerPortArray{corev1.ContainerPortArgs{Name: pulumi.String("redis"), ContainerPort: pulumi.Int(RedisPort), Protocol: pulumi.String("TCP")}},
							Resources:       a.Resources.requirements(),
							ReadinessProbe:  readiness,
							LivenessProbe:   liveness,
							SecurityContext: restrictedContainer(false),
							VolumeMounts:    corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")}},
						}},
						// /data stays empty (nothing is saved); capped like /tmp.
						Volumes: corev1.VolumeArray{corev1.VolumeArgs{Name: pulumi.String("data"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String(TmpSizeLimit)}}},
					}),
				},
			},
		},
		service: &corev1.ServiceArgs{
			Metadata: svcMeta,
			Spec: &corev1.ServiceSpecArgs{
				Selector: selector,
				Ports:    corev1.ServicePortArray{corev1.ServicePortArgs{Name: pulumi.String("redis"), Port: pulumi.Int(RedisPort), TargetPort: pulumi.String("redis"), Protocol: pulumi.String("TCP")}},
			},
		},
		policy: &networkingv1.NetworkPolicyArgs{
			Metadata: meta(a.Name + "-allow"),
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: metav1.LabelSelectorArgs{MatchLabels: selector},
				PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
				Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
					From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
						PodSelector: &metav1.LabelSelectorArgs{
							MatchLabels: pulumi.StringMap{LabelPartOf: pulumi.String(a.PartOf)},
							MatchExpressions: metav1.LabelSelectorRequirementArray{metav1.LabelSelectorRequirementArgs{
								Key: pulumi.String(LabelName), Operator: pulumi.String("In"), Values: pulumi.ToStringArray(a.Clients),
							}},
						},
					}},
					Ports: tcpPorts(RedisPort),
				}},
			},
		},
	}
	return objs
}
