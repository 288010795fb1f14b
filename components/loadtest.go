package components

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
)

// K6ThresholdsFailedExitCode is k6's exit code when a threshold fails.
const K6ThresholdsFailedExitCode = 99

// LoadTestName is the name of the load-test runners' objects and pods.
const LoadTestName = "loadtest"

// LoadTestArgs configures a k6 load test: a ConfigMap with the script and
// the generated options, a Secret with the test credentials, an Indexed Job
// of runner pods (each running its own execution segment) and the
// NetworkPolicy that lets the runners reach their target.
type LoadTestArgs struct {
	// JobName, e.g. "loadtest-1": a new name starts a new run. Required.
	JobName string
	// Namespace to run in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// Test is the k6 side: shape, flow, thresholds, VUs per runner.
	Test loadtest.Config
	// Tags are added to every k6 metric (stack, run).
	Tags map[string]string
	// Image of k6. Default "grafana/k6:1.3.0".
	Image string
	// TargetURL is BASE_URL. Required.
	TargetURL pulumi.StringInput
	// Env adds plain environment variables (e.g. SESSIONS=5 for peak-event).
	Env map[string]string
	// Credentials become a Secret loaded into the runners' environment.
	Credentials map[string]pulumi.StringInput
	// Resources per runner. Default 1–2 CPU, 1Gi–2Gi memory.
	Resources ResourcesSpec
	// SpreadRunners prefers one runner per node (pod anti-affinity).
	SpreadRunners bool
	// SkipAwait returns from `pulumi up` once the Job exists; by default
	// Pulumi waits for it to finish (and fails when a threshold fails),
	// with timeouts sized from the scenario.
	SkipAwait bool
	// PrometheusRemoteWriteURL, when set, streams metrics with k6's
	// experimental-prometheus-rw output.
	PrometheusRemoteWriteURL string
}

// LoadTest is a k6 test run inside the cluster.
type LoadTest struct {
	pulumi.ResourceState

	// JobName is the Job's name (kubectl logs -l job-name=...).
	JobName pulumi.StringOutput `pulumi:"jobName"`
	// Runners is the Job's parallelism.
	Runners pulumi.IntOutput `pulumi:"runners"`
}

// DefaultRunnerResources is one k6 runner pod's size.
func DefaultRunnerResources() ResourcesSpec {
	return ResourcesSpec{CPURequest: "1", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"}
}

// DefaultK6Image is the k6 image the runners use.
const DefaultK6Image = "grafana/k6:1.3.0"

func (a LoadTestArgs) withDefaults() LoadTestArgs {
	a.Image = orString(a.Image, DefaultK6Image)
	a.Resources = a.Resources.Or(DefaultRunnerResources())
	if a.Test.VUsPerRunner == 0 {
		a.Test.VUsPerRunner = loadtest.DefaultVUsPerRunner
	}
	return a
}

// Validate reports every problem with the (defaulted) args under path.
func (a LoadTestArgs) Validate(path string) error {
	var errs validate.Errors
	validate.DNSLabel(&errs, validate.Join(path, "runId"), a.JobName, 63)
	ValidateImage(&errs, validate.Join(path, "image"), a.Image, false)
	errs.Merge(a.Test.Validate(path))
	errs.Merge(a.Resources.Validate(validate.Join(path, "runnerResources")))
	for _, k := range sortedKeys(a.Env) {
		validate.EnvName(&errs, validate.Key(validate.Join(path, "env"), k), k)
	}
	if a.PrometheusRemoteWriteURL != "" {
		if u, err := url.Parse(a.PrometheusRemoteWriteURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add(validate.Join(path, "prometheusRemoteWriteUrl"), a.PrometheusRemoteWriteURL, "is not an http(s) URL", `use e.g. "http://prometheus.monitoring:9090/api/v1/write"`)
		}
	}
	if a.TargetURL == nil {
		errs.Add(validate.Join(path, "target"), nil, "is required", "name a service, the ingress, or a URL")
	}
	return errs.Err()
}

// Deadline is how long the Job may run: the scenario, its graceful
// ramp-down, and ten minutes for scheduling, image pulls, setup() and the
// summary.
func (a LoadTestArgs) Deadline() time.Duration {
	shape, _ := a.Test.Resolved()
	return shape.TotalDuration() + loadtest.GracefulRampDown + 10*time.Minute
}

// NewLoadTest registers a LoadTest component.
func NewLoadTest(ctx *pulumi.Context, name string, args LoadTestArgs, opts ...pulumi.ResourceOption) (*LoadTest, error) {
	args = args.withDefaults()
	if err := args.Validate("loadtest"); err != nil {
		return nil, fmt.Errorf("load test %s: %w", name, err)
	}
	shape, thresholds := args.Test.Resolved()
	options, err := loadtest.BuildOptions(shape, thresholds, args.Tags).JSON()
	if err != nil {
		return nil, fmt.Errorf("load test %s: options: %w", name, err)
	}
	script, err := args.Test.Flow.Script()
	if err != nil {
		return nil, fmt.Errorf("load test %s: script: %w", name, err)
	}
	comp := &LoadTest{}
	if err := ctx.RegisterComponentResource("cirkelline:components:LoadTest", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register load test %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	labels := stringMap(merged(Labels(args.PartOf, LoadTestName, "loadtest"), map[string]string{"loadtest.cirkelline.io/run": args.JobName}))
	selector := stringMap(SelectorLabels(args.PartOf, LoadTestName))
	meta := func(objName string, annotations pulumi.StringMap) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(objName), Namespace: args.Namespace, Labels: labels, Annotations: annotations}
	}

	scripts, err := corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata: meta(args.JobName, nil),
		Data: pulumi.StringMap{
			args.Test.Flow.FileName(): pulumi.String(string(script)),
			loadtest.OptionsFile:      pulumi.String(string(options)),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("load test %s: config map: %w", name, err)
	}
	var envFrom corev1.EnvFromSourceArray
	if len(args.Credentials) > 0 {
		credentials := pulumi.StringMap{}
		for k, v := range args.Credentials {
			credentials[k] = pulumi.ToSecret(v).(pulumi.StringOutput)
		}
		secret, err := corev1.NewSecret(ctx, name+"-credentials", &corev1.SecretArgs{
			Metadata: meta(args.JobName+"-credentials", nil), Type: pulumi.String("Opaque"), StringData: credentials,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("load test %s: secret: %w", name, err)
		}
		envFrom = corev1.EnvFromSourceArray{corev1.EnvFromSourceArgs{SecretRef: &corev1.SecretEnvSourceArgs{Name: secret.Metadata.Name().Elem()}}}
	}

	runners := loadtest.Parallelism(shape, args.Test.VUsPerRunner)
	segments := loadtest.Segments(runners)
	var extraArgs []string
	env := corev1.EnvVarArray{
		corev1.EnvVarArgs{Name: pulumi.String("BASE_URL"), Value: args.TargetURL},
		corev1.EnvVarArgs{Name: pulumi.String("K6_SEGMENTS"), Value: pulumi.String(loadtest.SegmentList(segments))},
		corev1.EnvVarArgs{Name: pulumi.String("K6_EXECUTION_SEGMENT_SEQUENCE"), Value: pulumi.String(loadtest.Sequence(segments))},
		corev1.EnvVarArgs{Name: pulumi.String("K6_NO_USAGE_REPORT"), Value: pulumi.String("true")},
	}
	if args.PrometheusRemoteWriteURL != "" {
		extraArgs = []string{"-o", "experimental-prometheus-rw"}
		env = append(env,
			corev1.EnvVarArgs{Name: pulumi.String("K6_PROMETHEUS_RW_SERVER_URL"), Value: pulumi.String(args.PrometheusRemoteWriteURL)},
			corev1.EnvVarArgs{Name: pulumi.String("K6_PROMETHEUS_RW_TREND_STATS"), Value: pulumi.String("p(95),p(99),min,max")})
	}
	for _, k := range sortedKeys(args.Env) {
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(args.Env[k])})
	}

	deadline := args.Deadline()
	jobAnnotations := pulumi.StringMap{}
	jobOpts := []pulumi.ResourceOption{parent}
	if args.SkipAwait {
		jobAnnotations["pulumi.com/skipAwait"] = pulumi.String("true")
	} else {
		// Pulumi waits for the Job to complete; give it the whole run.
		wait := fmt.Sprintf("%dm", int((deadline + 5*time.Minute).Minutes()))
		jobOpts = append(jobOpts, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: wait, Update: wait}))
	}
	podSpec := &corev1.PodSpecArgs{
		RestartPolicy:                pulumi.String("Never"),
		AutomountServiceAccountToken: pulumi.Bool(false),
		SecurityContext: &corev1.PodSecurityContextArgs{
			RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(12345), RunAsGroup: pulumi.Int(12345),
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
		Containers: corev1.ContainerArray{corev1.ContainerArgs{
			Name:    pulumi.String("k6"),
			Image:   pulumi.String(args.Image),
			Command: pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c")},
			Args: pulumi.StringArray{pulumi.String(loadtest.RunnerScript(
				"/scripts/"+args.Test.Flow.FileName(), "/scripts/"+loadtest.OptionsFile, extraArgs))},
			Env:             env,
			EnvFrom:         envFrom,
			Resources:       args.Resources.requirements(),
			SecurityContext: restrictedContainer(false),
			VolumeMounts: corev1.VolumeMountArray{
				corev1.VolumeMountArgs{Name: pulumi.String("scripts"), MountPath: pulumi.String("/scripts"), ReadOnly: pulumi.Bool(true)},
				corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
			},
		}},
		Volumes: corev1.VolumeArray{
			corev1.VolumeArgs{Name: pulumi.String("scripts"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: scripts.Metadata.Name().Elem()}},
			corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
		},
	}
	if args.SpreadRunners {
		podSpec.Affinity = &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
			PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{corev1.WeightedPodAffinityTermArgs{
				Weight: pulumi.Int(100),
				PodAffinityTerm: corev1.PodAffinityTermArgs{
					TopologyKey:   pulumi.String("kubernetes.io/hostname"),
					LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"loadtest.cirkelline.io/run": pulumi.String(args.JobName)}},
				},
			}},
		}}
	}
	job, err := batchv1.NewJob(ctx, name, &batchv1.JobArgs{
		Metadata: meta(args.JobName, jobAnnotations),
		Spec: &batchv1.JobSpecArgs{
			CompletionMode: pulumi.String("Indexed"),
			Completions:    pulumi.Int(runners),
			Parallelism:    pulumi.Int(runners),
			// A failed runner fails the test: no retries, and a threshold
			// failure (exit 99) fails the whole Job at once.
			BackoffLimit:          pulumi.Int(0),
			ActiveDeadlineSeconds: pulumi.Int(int(deadline.Seconds())),
			PodFailurePolicy: &batchv1.PodFailurePolicyArgs{Rules: batchv1.PodFailurePolicyRuleArray{
				batchv1.PodFailurePolicyRuleArgs{
					Action: pulumi.String("FailJob"),
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirementArgs{
						ContainerName: pulumi.String("k6"), Operator: pulumi.String("In"),
						Values: pulumi.IntArray{pulumi.Int(K6ThresholdsFailedExitCode)},
					},
				},
				// A node drain is not a test failure.
				batchv1.PodFailurePolicyRuleArgs{
					Action: pulumi.String("Ignore"),
					OnPodConditions: batchv1.PodFailurePolicyOnPodConditionsPatternArray{batchv1.PodFailurePolicyOnPodConditionsPatternArgs{
						Type: pulumi.String("DisruptionTarget"), Status: pulumi.String("True"),
					}},
				},
			}},
			Template: corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: labels}, Spec: podSpec},
		},
	}, jobOpts...)
	if err != nil {
		return nil, fmt.Errorf("load test %s: job: %w", name, err)
	}

	egress := networkingv1.NetworkPolicyEgressRuleArray{
		dnsEgress(),
		networkingv1.NetworkPolicyEgressRuleArgs{ // the stack's services
			To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
				PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{LabelPartOf: pulumi.String(args.PartOf), LabelComponent: pulumi.String("web")}},
			}},
		},
		networkingv1.NetworkPolicyEgressRuleArgs{To: peers([]string{"0.0.0.0/0"}), Ports: tcpPorts(80, 443)}, // the ingress host
	}
	if args.PrometheusRemoteWriteURL != "" {
		u, _ := url.Parse(args.PrometheusRemoteWriteURL) // validated above
		port := map[string]int32{"http": 80, "https": 443}[u.Scheme]
		if p, err := strconv.Atoi(u.Port()); err == nil {
			port = int32(p)
		}
		egress = append(egress, networkingv1.NetworkPolicyEgressRuleArgs{To: peers([]string{"0.0.0.0/0"}), Ports: tcpPorts(port)})
	}
	if _, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: meta(args.JobName+"-egress", nil),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: selector},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Egress:      egress,
		},
	}, parent); err != nil {
		return nil, fmt.Errorf("load test %s: network policy: %w", name, err)
	}

	comp.JobName = job.Metadata.Name().Elem()
	comp.Runners = pulumi.Int(runners).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"jobName": comp.JobName, "runners": comp.Runners}); err != nil {
		return nil, fmt.Errorf("load test %s outputs: %w", name, err)
	}
	return comp, nil
}
