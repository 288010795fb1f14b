package components

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/cirkelline/infra/internal/validate"
)

// AlbHealthCheckPathAnnotation on a Service tells the AWS Load Balancer
// Controller which path its target group health check uses for that service.
const AlbHealthCheckPathAnnotation = "alb.ingress.kubernetes.io/healthcheck-path"

// AlbTargetGroupAttributesAnnotation on a Service sets its target group's
// attributes; the service's carries the deregistration delay. The AWS Load
// Balancer Controller reads it on an Ingress or a Service, and a
// Service's annotation wins over the Ingress's (its ingress annotations
// guide: "Annotations applied to Service have higher priority over
// annotations applied to Ingress"; target-group-attributes: stringMap,
// Location Ingress,Service), so each service sets its own target group.
const AlbTargetGroupAttributesAnnotation = "alb.ingress.kubernetes.io/target-group-attributes"

// Topology keys and the pod label the spread constraints use.
const (
	ZoneTopologyKey = "topology.kubernetes.io/zone"
	HostTopologyKey = "kubernetes.io/hostname"
	// PodTemplateHashLabel is the label the Deployment controller gives
	// each ReplicaSet's pods; as a spread constraint's matchLabelKeys it
	// makes the scheduler count only the pods of the incoming pod's own
	// revision, so a rolling update spreads the new pods instead of
	// counting the old ones it is about to delete (KEP-3243, "Respect
	// PodTopologySpread after rolling upgrades"; the field is beta and on
	// by default since Kubernetes 1.27, k8s.io/api v0.37.2 core/v1
	// TopologySpreadConstraint.MatchLabelKeys).
	PodTemplateHashLabel = "pod-template-hash"
)

// Names a web service's objects get; explicit and stable because DNS names,
// selectors and kubectl commands depend on them.
const (
	HeadlessSuffix = "-headless"
	HPASuffix      = "-hpa"
	PDBSuffix      = "-pdb"
	// MaxServiceNameLength leaves room for the longest suffix in a 63-character label.
	MaxServiceNameLength = 63 - len(HeadlessSuffix)
)

// WebServiceArgs configures one HTTP service: Deployment, ClusterIP and
// headless Services, HorizontalPodAutoscaler and PodDisruptionBudget.
type WebServiceArgs struct {
	// Name of every object of the service. Required, at most 54 characters.
	Name string
	// Namespace to create the objects in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// Image reference with a tag or digest, e.g. "ghcr.io/cirkelline/cirkelline-backend:1.4.2". Required.
	Image string
	// Port the container listens on and the Services expose. Default 8000.
	Port int32
	// MetricsPort is the container port (named "metrics") the service
	// serves its Prometheus metrics on, apart from Port, so the Ingress,
	// which routes only to Port, cannot reach them; the ClusterIP Service
	// exposes it for the ServiceMonitor, and only Prometheus may connect
	// (the NetworkPolicies' scrape rule). Default 9090.
	MetricsPort int32
	// Env adds plain environment variables to the container.
	Env map[string]string
	// ConfigMaps and Secrets are loaded whole into the container's
	// environment (envFrom), in order; later ones win on a name clash.
	ConfigMaps []pulumi.StringInput
	Secrets    []pulumi.StringInput
	// PodAnnotations are added to the pod template (e.g. AppConfig checksums).
	PodAnnotations pulumi.StringMap
	// ServiceAccountName the pods run as. Required.
	ServiceAccountName pulumi.StringInput
	// Resources of the container. Defaults: DefaultResources.
	Resources ResourcesSpec
	// HPA shape. Defaults: DefaultHPA (2–20 pods, CPU 70 %, memory 80 %).
	HPA HPASpec
	// PDB shape. Default: maxUnavailable 1.
	PDB PDBSpec
	// Probe is the HTTP health endpoint. Default path "/health"; liveness
	// a TCP check on the "http" port.
	Probe ProbeSpec
	// Shutdown is the preStop sleep, the ALB's deregistration delay and the
	// grace period. Defaults: DefaultShutdown (15 s, 30 s, 45 s).
	Shutdown ShutdownSpec
	// RunAsUser is the non-root UID the container runs as. Default 10001.
	RunAsUser int64
	// WritableRootFilesystem turns off the read-only root filesystem. Default
	// false: the root filesystem is read-only and /tmp is an emptyDir.
	WritableRootFilesystem bool
	// DisableZoneSpread turns off spreading the pods over
	// topology.kubernetes.io/zone and hosts. Default false: pods are
	// spread, maxSkew 1, see Zones.
	DisableZoneSpread bool
	// Zones is how many zones the cluster's nodes span (cluster.zones).
	// With 2 or more the zone spread is a hard one (DoNotSchedule,
	// maxSkew 1, over the zones whose nodes the pods may use; see
	// topologySpread): while every zone is up the pods never bunch in one
	// of them, and when a zone is lost the others take its pods. Otherwise,
	// and by default (0, undeclared), the zone spread is ScheduleAnyway,
	// so a single-zone cluster (kind, kwok, a laptop) still schedules
	// every pod. The host spread is always ScheduleAnyway.
	Zones int32
	// RequirePinnedImage refuses the "latest" tag (production sets it).
	RequirePinnedImage bool
	// Placement is where the pods may run. Default anywhere untainted.
	Placement Placement
}

// WebService is one autoscaled HTTP service.
type WebService struct {
	pulumi.ResourceState

	// ServiceName is the ClusterIP Service's name (the ingress backend).
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// DNSName is the in-cluster DNS name of the ClusterIP Service.
	DNSName pulumi.StringOutput `pulumi:"dnsName"`
	// Port is the Service port.
	Port pulumi.IntOutput `pulumi:"port"`
	// Deployment is the service's Deployment: depend on it (not on the
	// component) to wait for its rollout. The SDK expands a dependency on a
	// component into the children registered so far, and children register
	// asynchronously, so such a dependency can miss them
	// (pulumi sdk v3.263.0 go/pulumi/rpc.go addDependency, context.go getOpts).
	Deployment *appsv1.Deployment
}

// DefaultServicePort is the port the cirkelline backend listens on.
const DefaultServicePort int32 = 8000

// DefaultMetricsPort is the port the services serve their metrics on.
const DefaultMetricsPort int32 = 9090

// DefaultRunAsUser is the non-root UID the services run as.
const DefaultRunAsUser int64 = 10001

// WithDefaults fills every unset field with its documented default.
// NewWebService applies it before validating.
func (a WebServiceArgs) WithDefaults() WebServiceArgs {
	if a.Port == 0 {
		a.Port = DefaultServicePort
	}
	if a.MetricsPort == 0 {
		a.MetricsPort = DefaultMetricsPort
	}
	a.Resources = a.Resources.WithDefaults()
	a.HPA = a.HPA.WithDefaults()
	a.PDB = a.PDB.WithDefaults()
	a.Probe = a.Probe.WithDefaults()
	a.Shutdown = a.Shutdown.WithDefaults()
	if a.RunAsUser == 0 {
		a.RunAsUser = DefaultRunAsUser
	}
	return a
}

// Validate reports every problem with the (defaulted) args, with field paths under path.
func (a WebServiceArgs) Validate(path string) error {
	var errs validate.Errors
	validate.DNSLabel(&errs, validate.Join(path, "name"), a.Name, MaxServiceNameLength)
	ValidateImage(&errs, validate.Join(path, "image"), a.Image, a.RequirePinnedImage)
	if a.Port < 1 || a.Port > 65535 {
		errs.Add(validate.Join(path, "port"), a.Port, "must be a TCP port between 1 and 65535", "use the port the container listens on, e.g. 8000")
	}
	switch {
	case a.MetricsPort < 1 || a.MetricsPort > 65535:
		errs.Add(validate.Join(path, "metricsPort"), a.MetricsPort, "must be a TCP port between 1 and 65535", "use the port the metrics are served on, e.g. 9090")
	case a.MetricsPort == a.Port:
		errs.Add(validate.Join(path, "metricsPort"), a.MetricsPort, "must differ from the service port: the Ingress routes to that port, and the metrics must not be public", "serve the metrics on a port of their own, e.g. 9090 (the default)")
	}
	for _, k := range sortedKeys(a.Env) {
		validate.EnvName(&errs, validate.Key(validate.Join(path, "env"), k), k)
	}
	if a.RunAsUser < 1 {
		errs.Add(validate.Join(path, "runAsUser"), a.RunAsUser, "must be a non-root UID (1 or more)", "use e.g. 10001")
	} else if msgs := k8svalidation.IsValidUserID(a.RunAsUser); len(msgs) > 0 {
		// The API server refuses a UID above math.MaxInt32 (apimachinery
		// util/validation IsValidUserID, used by ValidatePodSecurityContext).
		errs.Add(validate.Join(path, "runAsUser"), a.RunAsUser, "is not a UID the API server accepts: "+strings.Join(msgs, "; "), "use e.g. 10001")
	}
	errs.Merge(a.Resources.Validate(validate.Join(path, "resources")))
	errs.Merge(a.HPA.Validate(validate.Join(path, "hpa")))
	errs.Merge(a.PDB.Validate(validate.Join(path, "pdb"), a.HPA.MinReplicas))
	errs.Merge(a.Probe.Validate(validate.Join(path, "probe")))
	errs.Merge(a.Shutdown.Validate(validate.Join(path, "shutdown")))
	if a.Zones < 0 {
		// The stack file's cluster.zones is checked at its own key; this
		// guards the component's own callers.
		errs.Add(validate.Join(path, "zones"), a.Zones, "must not be negative", "set the number of zones the nodes span, or 0")
	}
	return errs.Err()
}

// ValidateImage checks an image reference names a tag or digest; in
// production the tag must be pinned (not "latest").
func ValidateImage(errs *validate.Errors, path, image string, production bool) {
	if image == "" {
		errs.Add(path, nil, "is required", `set an image such as "ghcr.io/cirkelline/cirkelline-backend:1.4.2"`)
		return
	}
	if strings.ContainsAny(image, " \t") {
		errs.Add(path, image, "must not contain white space", "")
		return
	}
	if !imageReference.MatchString(image) {
		errs.Add(path, image, "is not a valid image reference (the repository path must be lower-case letters, digits and single '.', '_', '__' or '-' separators; the tag at most 128 of [A-Za-z0-9_.-])",
			`write it as [registry/]repository[:tag][@digest], e.g. "ghcr.io/cirkelline/cirkelline-backend:1.4.2"`)
		return
	}
	if strings.Contains(image, "@") {
		return
	}
	tag := ImageTag(image)
	switch {
	case tag == "":
		errs.Add(path, image, "has no tag (Kubernetes would pull \"latest\")", "append a version tag, e.g. \""+image+":1.4.2\", or a digest")
	case production && tag == "latest":
		errs.Add(path, image, "uses the \"latest\" tag in production, so a rollout is not reproducible", "pin a version tag or an @sha256 digest")
	}
}

// imageReference is the grammar of github.com/distribution/reference
// (v0.6.0 regexp.go, the parser the kubelet's image pulls go through):
// [domain/]path-component[/path-component]*[:tag][@digest], where a path
// component is lower-case alphanumerics joined by '.', '_', '__' or '-'s.
var imageReference = func() *regexp.Regexp {
	const (
		alnum     = `[a-z0-9]+`
		separator = `(?:[._]|__|[-]+)`
		pathComp  = alnum + `(?:` + separator + alnum + `)*`
		domainC   = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		host      = `(?:` + domainC + `(?:\.` + domainC + `)*|\[(?:[a-fA-F0-9:]+)\])`
		domain    = host + `(?::[0-9]+)?`
		tag       = `[\w][\w.-]{0,127}`
		digest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}`
	)
	return regexp.MustCompile(`^(?:` + domain + `/)?` + pathComp + `(?:/` + pathComp + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

// ImageTag is the tag of an image reference ("" without one, or with a
// digest only): what follows the last ':' after the last '/'.
func ImageTag(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return ""
}

// NewWebService registers a WebService component.
func NewWebService(ctx *pulumi.Context, name string, args WebServiceArgs, opts ...pulumi.ResourceOption) (*WebService, error) {
	args = args.WithDefaults()
	if err := args.Validate("service"); err != nil {
		return nil, fmt.Errorf("web service %s: %w", name, err)
	}
	comp := &WebService{}
	if err := ctx.RegisterComponentResource("cirkelline:components:WebService", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register web service %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	objs := buildWebService(args)
	deployment, err := appsv1.NewDeployment(ctx, name, objs.deployment, parent)
	if err != nil {
		return nil, fmt.Errorf("web service %s: deployment: %w", name, err)
	}
	svc, err := corev1.NewService(ctx, name, objs.service, parent)
	if err != nil {
		return nil, fmt.Errorf("web service %s: service: %w", name, err)
	}
	if _, err := corev1.NewService(ctx, name+HeadlessSuffix, objs.headless, parent); err != nil {
		return nil, fmt.Errorf("web service %s: headless service: %w", name, err)
	}
	if objs.hpa != nil {
		if _, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name, objs.hpa, parent); err != nil {
			return nil, fmt.Errorf("web service %s: hpa: %w", name, err)
		}
	}
	if objs.pdb != nil {
		if _, err := policyv1.NewPodDisruptionBudget(ctx, name, objs.pdb, parent); err != nil {
			return nil, fmt.Errorf("web service %s: pdb: %w", name, err)
		}
	}

	comp.Deployment = deployment
	comp.ServiceName = svc.Metadata.Name().Elem()
	comp.DNSName = pulumi.Sprintf(serviceDNSFormat, comp.ServiceName, args.Namespace)
	comp.Port = pulumi.Int(int(args.Port)).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"serviceName": comp.ServiceName, "dnsName": comp.DNSName, "port": comp.Port,
	}); err != nil {
		return nil, fmt.Errorf("web service %s outputs: %w", name, err)
	}
	return comp, nil
}

// webServiceObjects are a web service's objects, as buildWebService builds
// them; hpa and pdb are nil when disabled.
type webServiceObjects struct {
	deployment        *appsv1.DeploymentArgs
	service, headless *corev1.ServiceArgs
	hpa               *autoscalingv2.HorizontalPodAutoscalerArgs
	pdb               *policyv1.PodDisruptionBudgetArgs
}

// buildWebService builds every object of a web service from its defaulted,
// valid args; NewWebService only registers them.
func buildWebService(a WebServiceArgs) webServiceObjects {
	labels := stringMap(WebServiceLabels(a.PartOf, a.Name))
	selector := stringMap(SelectorLabels(a.PartOf, a.Name))
	ports := corev1.ServicePortArray{corev1.ServicePortArgs{
		Name: pulumi.String(HTTPPortName), Port: pulumi.Int(int(a.Port)), TargetPort: pulumi.String(HTTPPortName), Protocol: pulumi.String("TCP"),
	}}
	// The ClusterIP Service also carries the metrics port, for the
	// ServiceMonitor; the Ingress names the http port only.
	clusterIPPorts := append(slices.Clone(ports), corev1.ServicePortArgs{
		Name: pulumi.String(MetricsPortName), Port: pulumi.Int(int(a.MetricsPort)), TargetPort: pulumi.String(MetricsPortName), Protocol: pulumi.String("TCP"),
	})
	objs := webServiceObjects{
		deployment: &appsv1.DeploymentArgs{
			Metadata: objectMeta(a.Name, a.Namespace, labels, nil),
			Spec:     deploymentSpec(a, labels, selector),
		},
		service: &corev1.ServiceArgs{
			Metadata: objectMeta(a.Name, a.Namespace, labels, serviceAnnotations(a)),
			Spec:     &corev1.ServiceSpecArgs{Type: pulumi.String("ClusterIP"), Selector: selector, Ports: clusterIPPorts},
		},
		// The headless Service gives every pod a DNS record (peer
		// discovery, client-side balancing); unready pods stay out of it.
		headless: &corev1.ServiceArgs{
			Metadata: objectMeta(a.Name+HeadlessSuffix, a.Namespace, stringMap(Labels(a.PartOf, a.Name, PeersComponent)), nil),
			Spec:     &corev1.ServiceSpecArgs{ClusterIP: pulumi.String("None"), Selector: selector, Ports: ports},
		},
	}
	if !a.HPA.Disabled {
		objs.hpa = &autoscalingv2.HorizontalPodAutoscalerArgs{
			Metadata: objectMeta(a.Name+HPASuffix, a.Namespace, labels, nil),
			// The target by its name, not the Deployment's output, so the
			// HPA does not wait for the rollout.
			Spec: hpaSpec(a.HPA, pulumi.String(a.Name)),
		}
	}
	if !a.PDB.Disabled {
		objs.pdb = &policyv1.PodDisruptionBudgetArgs{
			Metadata: objectMeta(a.Name+PDBSuffix, a.Namespace, labels, nil),
			Spec:     pdbSpec(a.PDB, selector),
		}
	}
	return objs
}

// serviceAnnotations tell the AWS Load Balancer Controller the service's
// health check path and its target group's deregistration delay.
//
// `pulumi up` does not wait for the Service's endpoints: the provider's
// Service await waits for endpoints of ready pods (provider/pkg/await
// service.go), which are exactly the pods the Deployment's rollout await
// already waits for (deployment.go: the new ReplicaSet's pods available),
// so it protects nothing; the real engine measured it at about 10 s per
// Service, setting the wall time of `pulumi up` (issue 20).
func serviceAnnotations(a WebServiceArgs) pulumi.StringMap {
	return pulumi.StringMap{
		AlbHealthCheckPathAnnotation:       pulumi.String(a.Probe.ReadinessPath),
		AlbTargetGroupAttributesAnnotation: pulumi.Sprintf("deregistration_delay.timeout_seconds=%d", a.Shutdown.DeregistrationDelaySeconds),
		SkipAwaitAnnotation:                pulumi.String("true"),
	}
}

// deploymentSpec builds the Deployment spec. When an HPA manages the
// Deployment, replicas is left unset: under server-side apply a replicas
// field owned by Pulumi fights the HPA on every update.
func deploymentSpec(a WebServiceArgs, labels, selector pulumi.StringMap) *appsv1.DeploymentSpecArgs {
	spec := &appsv1.DeploymentSpecArgs{
		Selector:             &metav1.LabelSelectorArgs{MatchLabels: selector},
		RevisionHistoryLimit: pulumi.Int(5),
		Strategy: &appsv1.DeploymentStrategyArgs{
			Type: pulumi.String("RollingUpdate"),
			// Never drop below the current capacity while rolling.
			RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.String("25%")},
		},
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{Labels: labels, Annotations: a.PodAnnotations},
			Spec:     podSpec(a, selector),
		},
	}
	if a.HPA.Disabled {
		spec.Replicas = pulumi.Int(int(a.HPA.MinReplicas))
	}
	return spec
}

func podSpec(a WebServiceArgs, selector pulumi.StringMap) *corev1.PodSpecArgs {
	spec := &corev1.PodSpecArgs{
		ServiceAccountName:            a.ServiceAccountName,
		TerminationGracePeriodSeconds: pulumi.Int(int(a.Shutdown.GracePeriodSeconds)),
		SecurityContext:               restrictedPod(a.RunAsUser),
		Containers:                    corev1.ContainerArray{container(a)},
		Volumes: corev1.VolumeArray{corev1.VolumeArgs{
			Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String(TmpSizeLimit)},
		}},
	}
	if !a.DisableZoneSpread {
		spec.TopologySpreadConstraints = topologySpread(a, selector)
	}
	a.Placement.applyTo(spec)
	return spec
}

// HardZoneSpread reports whether the zone spread is DoNotSchedule: the
// stack declares at least two zones.
func (a WebServiceArgs) HardZoneSpread() bool {
	return !a.DisableZoneSpread && a.Zones >= 2
}

// topologySpread spreads the pods over zones and hosts, maxSkew 1, each
// constraint counting only the pods of the incoming pod's revision.
//
// The zone constraint is hard only when HardZoneSpread, and then it sets
// no minDomains and honours node taints, so that losing a zone leaves
// the others free to take its pods:
//   - with minDomains, while fewer zones than minDomains have eligible
//     nodes the scheduler takes the global minimum as 0 (Kubernetes'
//     topology spread documentation, "minDomains"; k8s.io/api v0.37.2
//     core/v1 TopologySpreadConstraint.MinDomains), so after a zone
//     outage each surviving zone could hold only maxSkew pods and the
//     replacements stayed Pending (issue 21: four of nine pods ran);
//   - with the default nodeTaintsPolicy Ignore, a lost zone's nodes that
//     still exist (NotReady, tainted node.kubernetes.io/unreachable by
//     the node lifecycle controller) would still count as a domain
//     holding no pods, once the pods there are terminating (the
//     scheduler does not count terminating pods), with the same effect.
//     Honor counts only nodes whose taints the pod tolerates
//     (TopologySpreadConstraint.NodeTaintsPolicy, "Honor: nodes without
//     taints, along with tainted nodes for which the incoming pod has a
//     toleration, are included"); the pods' default tolerations for
//     node.kubernetes.io/unreachable are NoExecute ones, which do not
//     tolerate the NoSchedule taint. Cordoned nodes are left out too.
//
// The integration test (TestZoneOutage) runs both outages on the real
// scheduler. A ScheduleAnyway constraint only prefers the spread: every
// pod could land in one zone.
func topologySpread(a WebServiceArgs, selector pulumi.StringMap) corev1.TopologySpreadConstraintArray {
	var out corev1.TopologySpreadConstraintArray
	for _, c := range a.SpreadConstraints(nil) {
		args := corev1.TopologySpreadConstraintArgs{
			MaxSkew: pulumi.Int(int(c.MaxSkew)), TopologyKey: pulumi.String(c.TopologyKey),
			WhenUnsatisfiable: pulumi.String(string(c.WhenUnsatisfiable)),
			LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: selector},
			MatchLabelKeys:    pulumi.ToStringArray(c.MatchLabelKeys),
		}
		if c.NodeTaintsPolicy != nil {
			args.NodeTaintsPolicy = pulumi.String(string(*c.NodeTaintsPolicy))
		}
		out = append(out, args)
	}
	return out
}

// SpreadConstraints are the service's topology spread constraints as
// plain Kubernetes values (nil with DisableZoneSpread), each selecting
// pods by selector: the one rule topologySpread renders, which the
// headroom's pause pods copy for the service they hold room for.
func (a WebServiceArgs) SpreadConstraints(selector map[string]string) []k8scorev1.TopologySpreadConstraint {
	if a.DisableZoneSpread {
		return nil
	}
	spread := func(key string, when k8scorev1.UnsatisfiableConstraintAction) k8scorev1.TopologySpreadConstraint {
		c := k8scorev1.TopologySpreadConstraint{
			MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: when,
			MatchLabelKeys: []string{PodTemplateHashLabel},
		}
		if selector != nil {
			c.LabelSelector = &k8smetav1.LabelSelector{MatchLabels: maps.Clone(selector)}
		}
		return c
	}
	zone := spread(ZoneTopologyKey, k8scorev1.ScheduleAnyway)
	if a.HardZoneSpread() {
		zone = spread(ZoneTopologyKey, k8scorev1.DoNotSchedule)
		honor := k8scorev1.NodeInclusionPolicyHonor
		zone.NodeTaintsPolicy = &honor
	}
	return []k8scorev1.TopologySpreadConstraint{zone, spread(HostTopologyKey, k8scorev1.ScheduleAnyway)}
}

func container(a WebServiceArgs) corev1.ContainerArgs {
	var env corev1.EnvVarArray
	for _, k := range sortedKeys(a.Env) {
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(a.Env[k])})
	}
	var envFrom corev1.EnvFromSourceArray
	for _, name := range a.ConfigMaps {
		envFrom = append(envFrom, corev1.EnvFromSourceArgs{ConfigMapRef: &corev1.ConfigMapEnvSourceArgs{Name: name}})
	}
	for _, name := range a.Secrets {
		envFrom = append(envFrom, corev1.EnvFromSourceArgs{SecretRef: &corev1.SecretEnvSourceArgs{Name: name}})
	}
	probe := func(path string, failures int) *corev1.ProbeArgs {
		p := &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String(HTTPPortName)},
			PeriodSeconds:    pulumi.Int(int(a.Probe.PeriodSeconds)),
			TimeoutSeconds:   pulumi.Int(int(a.Probe.TimeoutSeconds)),
			FailureThreshold: pulumi.Int(failures),
		}
		if path == "" {
			p.HttpGet = nil
			p.TcpSocket = &corev1.TCPSocketActionArgs{Port: pulumi.String(HTTPPortName)}
		}
		return p
	}
	// The startup probe holds off liveness for up to StartupSeconds, so a slow
	// start is not mistaken for a hang; after it, liveness restarts a pod that
	// fails for three periods, and readiness takes it out of the Service.
	// Liveness never shares readiness's check: by default it only connects
	// to the port (the process is alive), so a dependency outage that fails
	// readiness everywhere does not also restart every pod.
	startupFailures := int((a.Probe.StartupSeconds + a.Probe.PeriodSeconds - 1) / a.Probe.PeriodSeconds)
	return corev1.ContainerArgs{
		Name:            pulumi.String(AppContainerName),
		Image:           pulumi.String(a.Image),
		ImagePullPolicy: pulumi.String("IfNotPresent"),
		Ports: corev1.ContainerPortArray{
			corev1.ContainerPortArgs{Name: pulumi.String(HTTPPortName), ContainerPort: pulumi.Int(int(a.Port)), Protocol: pulumi.String("TCP")},
			corev1.ContainerPortArgs{Name: pulumi.String(MetricsPortName), ContainerPort: pulumi.Int(int(a.MetricsPort)), Protocol: pulumi.String("TCP")},
		},
		Env:             env,
		EnvFrom:         envFrom,
		Resources:       a.Resources.requirements(),
		StartupProbe:    probe(a.Probe.Path, startupFailures),
		LivenessProbe:   probe(a.Probe.LivenessPath, 3),
		ReadinessProbe:  probe(a.Probe.ReadinessPath, 3),
		SecurityContext: restrictedContainer(a.WritableRootFilesystem),
		// The sleep action (Kubernetes' PodLifecycleSleepAction: beta and on
		// by default since 1.30, GA in 1.34, KEP-3960) needs no shell in the
		// image; the app keeps serving while the ALB deregisters the pod.
		Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
			Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(int(a.Shutdown.PreStopSeconds))},
		}},
		VolumeMounts: corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}},
	}
}

func hpaSpec(h HPASpec, deploymentName pulumi.StringInput) *autoscalingv2.HorizontalPodAutoscalerSpecArgs {
	utilization := func(resource string, percent int32) autoscalingv2.MetricSpecArgs {
		return autoscalingv2.MetricSpecArgs{
			Type: pulumi.String("Resource"),
			Resource: &autoscalingv2.ResourceMetricSourceArgs{
				Name:   pulumi.String(resource),
				Target: autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(int(percent))},
			},
		}
	}
	// The rules as ScalingRules.API states them, which the capacity and
	// rehearsal arithmetic reads too.
	rules := func(r ScalingRules) *autoscalingv2.HPAScalingRulesArgs {
		api := r.API()
		var policies autoscalingv2.HPAScalingPolicyArray
		for _, p := range api.Policies {
			policies = append(policies, autoscalingv2.HPAScalingPolicyArgs{Type: pulumi.String(string(p.Type)), Value: pulumi.Int(int(p.Value)), PeriodSeconds: pulumi.Int(int(p.PeriodSeconds))})
		}
		return &autoscalingv2.HPAScalingRulesArgs{
			StabilizationWindowSeconds: pulumi.Int(int(*api.StabilizationWindowSeconds)),
			SelectPolicy:               pulumi.String(string(*api.SelectPolicy)),
			Policies:                   policies,
		}
	}
	return &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReferenceArgs{
			ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: deploymentName,
		},
		MinReplicas: pulumi.Int(int(h.MinReplicas)),
		MaxReplicas: pulumi.Int(int(h.MaxReplicas)),
		Metrics:     autoscalingv2.MetricSpecArray{utilization("cpu", h.CPUUtilization), utilization("memory", h.MemoryUtilization)},
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
			// The arithmetic of the defaults is on DefaultHPA.
			ScaleUp:   rules(h.ScaleUp),
			ScaleDown: rules(h.ScaleDown),
		},
	}
}

func pdbSpec(p PDBSpec, selector pulumi.StringMap) *policyv1.PodDisruptionBudgetSpecArgs {
	spec := &policyv1.PodDisruptionBudgetSpecArgs{
		Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		// Evict pods that are not ready yet, so a broken rollout cannot block drains.
		UnhealthyPodEvictionPolicy: pulumi.String("AlwaysAllow"),
	}
	if p.MinAvailable != nil {
		spec.MinAvailable = pulumi.Int(int(*p.MinAvailable))
	} else {
		spec.MaxUnavailable = pulumi.Int(int(*p.MaxUnavailable))
	}
	return spec
}
