package components

import (
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"time"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/loadtest"
)

// The load test's objects are built by the pure functions below, one per
// object, from a loadTestPlan; NewLoadTest only registers them. Names are
// known from the plan, so no object waits on another's outputs.

// k6UID is the grafana/k6 image's user.
const k6UID = 12345

// loadTestPlan is what the builders share: the defaulted args, the run's
// numbers and the objects' names and labels.
type loadTestPlan struct {
	args     LoadTestArgs
	shape    loadtest.Shape
	runners  int
	segments []loadtest.Segment
	// options is the generated options.json, starter the starter's k6
	// script.
	options, starter []byte
	// scripts are the flow's k6 script and the modules it imports
	// (loadtest.Flow.Files), each a key of the ConfigMap.
	scripts []loadtest.File
}

func planLoadTest(a LoadTestArgs) (loadTestPlan, error) {
	shape, thresholds := a.Test.Resolved()
	options, err := loadtest.BuildOptions(shape, thresholds, loadtest.Tags(a.Test, a.Run)).JSON()
	if err != nil {
		return loadTestPlan{}, fmt.Errorf("options: %w", err)
	}
	scripts, err := a.Test.Flow.Files()
	if err != nil {
		return loadTestPlan{}, fmt.Errorf("scripts: %w", err)
	}
	starter, err := loadtest.StarterScript()
	if err != nil {
		return loadTestPlan{}, fmt.Errorf("starter script: %w", err)
	}
	runners := loadtest.Parallelism(shape, a.Test.VUsPerRunner)
	return loadTestPlan{args: a, shape: shape, runners: runners, segments: loadtest.Segments(runners),
		options: options, scripts: scripts, starter: starter}, nil
}

func (p loadTestPlan) starterJobName() string { return p.args.JobName + "-starter" }

// runnerSelector picks this run's runner pods.
func (p loadTestPlan) runnerSelector() map[string]string {
	return merged(SelectorLabels(p.args.PartOf, LoadTestName), map[string]string{LabelLoadTestRun: p.args.JobName})
}

// starterSelector picks this run's starter pod.
func (p loadTestPlan) starterSelector() map[string]string {
	return merged(SelectorLabels(p.args.PartOf, LoadTestStarterName), map[string]string{LabelLoadTestRun: p.args.JobName})
}

func (p loadTestPlan) labels(name string) pulumi.StringMap {
	return stringMap(merged(Labels(p.args.PartOf, name, "loadtest"), map[string]string{LabelLoadTestRun: p.args.JobName}))
}

func (p loadTestPlan) meta(name string, annotations pulumi.StringMap) *metav1.ObjectMetaArgs {
	return objectMeta(name, p.args.Namespace, p.labels(LoadTestName), annotations)
}

// jobAnnotations skip Pulumi's await when the user asked for it.
func (p loadTestPlan) jobAnnotations() pulumi.StringMap {
	if p.args.SkipAwait {
		return pulumi.StringMap{SkipAwaitAnnotation: pulumi.String("true")}
	}
	return nil
}

// scriptsConfigMap holds the flow and the modules it imports, the
// generated options and the starter. The pods mount it at /scripts, one
// file a key, so the flow's './pacing.js' is /scripts/pacing.js.
func (p loadTestPlan) scriptsConfigMap() *corev1.ConfigMapArgs {
	data := pulumi.StringMap{
		loadtest.OptionsFile: pulumi.String(string(p.options)),
		loadtest.StarterFile: pulumi.String(string(p.starter)),
	}
	for _, f := range p.scripts {
		data[f.Name] = pulumi.String(string(f.Body))
	}
	return &corev1.ConfigMapArgs{Metadata: p.meta(p.args.JobName, nil), Data: data}
}

// credentialsSecret holds the flow's secret env, as secrets.
func (p loadTestPlan) credentialsSecret() *corev1.SecretArgs {
	data := pulumi.StringMap{}
	for k, v := range p.args.Credentials {
		data[k] = pulumi.ToSecret(v).(pulumi.StringOutput)
	}
	return &corev1.SecretArgs{Metadata: p.meta(p.args.JobName+"-credentials", nil), Type: pulumi.String("Opaque"), StringData: data}
}

// runnerService is the headless Service that gives every runner pod the
// DNS name <job>-<index>.<job> (the pod template's subdomain); it
// publishes ready pods only, and the runners are ready once their REST
// API answers.
func (p loadTestPlan) runnerService() *corev1.ServiceArgs {
	return &corev1.ServiceArgs{
		Metadata: p.meta(p.args.JobName, nil),
		Spec: &corev1.ServiceSpecArgs{
			ClusterIP: pulumi.String("None"),
			Selector:  stringMap(p.runnerSelector()),
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("k6-api"), Port: pulumi.Int(loadtest.APIPort), TargetPort: pulumi.Int(loadtest.APIPort), Protocol: pulumi.String("TCP"),
			}},
		},
	}
}

// envVars turns a plain map into sorted env vars.
func envVars(m map[string]string) corev1.EnvVarArray {
	var env corev1.EnvVarArray
	for _, k := range sortedKeys(m) {
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(m[k])})
	}
	return env
}

// runnerEnv is BASE_URL, then the segments, the flow's env and k6's own
// settings, sorted by name.
func (p loadTestPlan) runnerEnv() corev1.EnvVarArray {
	plain := loadtest.FlowEnv(p.args.Test)
	maps.Copy(plain, loadtest.RunnerEnv(p.segments))
	plain["K6_NO_USAGE_REPORT"] = "true"
	if p.args.PrometheusRemoteWriteURL != "" {
		// xk6-output-prometheus-remote's settings, built into k6 as the
		// experimental-prometheus-rw output.
		plain["K6_PROMETHEUS_RW_SERVER_URL"] = p.args.PrometheusRemoteWriteURL
		plain["K6_PROMETHEUS_RW_TREND_STATS"] = "p(95),p(99),min,max"
	}
	return append(corev1.EnvVarArray{corev1.EnvVarArgs{Name: pulumi.String("BASE_URL"), Value: p.args.TargetURL}}, envVars(plain)...)
}

// runnerCommand is the runner container's command: /bin/sh picks the
// segment, then execs k6 (loadtest.RunnerScript).
func (p loadTestPlan) runnerCommand() pulumi.StringArray {
	var extra []string
	if p.args.PrometheusRemoteWriteURL != "" {
		extra = []string{"-o", "experimental-prometheus-rw"}
	}
	return pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(loadtest.RunnerScript(
		"/scripts/"+p.args.Test.Flow.FileName(), "/scripts/"+loadtest.OptionsFile, extra))}
}

// podVolumes mounts the run's ConfigMap at /scripts and a writable /tmp
// (the root filesystem is read-only).
func (p loadTestPlan) podVolumes() (corev1.VolumeMountArray, corev1.VolumeArray) {
	return corev1.VolumeMountArray{
			corev1.VolumeMountArgs{Name: pulumi.String("scripts"), MountPath: pulumi.String("/scripts"), ReadOnly: pulumi.Bool(true)},
			corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
		}, corev1.VolumeArray{
			corev1.VolumeArgs{Name: pulumi.String("scripts"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(p.args.JobName)}},
			corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
		}
}

// runnerPod is one paused runner.
func (p loadTestPlan) runnerPod() *corev1.PodSpecArgs {
	mounts, volumes := p.podVolumes()
	var envFrom corev1.EnvFromSourceArray
	if len(p.args.Credentials) > 0 {
		envFrom = corev1.EnvFromSourceArray{corev1.EnvFromSourceArgs{SecretRef: &corev1.SecretEnvSourceArgs{Name: pulumi.String(p.args.JobName + "-credentials")}}}
	}
	pod := &corev1.PodSpecArgs{
		RestartPolicy:                pulumi.String("Never"),
		AutomountServiceAccountToken: pulumi.Bool(false),
		Subdomain:                    pulumi.String(p.args.JobName),
		SecurityContext:              restrictedPod(k6UID),
		Containers: corev1.ContainerArray{corev1.ContainerArgs{
			Name:    pulumi.String("k6"),
			Image:   pulumi.String(p.args.Image),
			Command: p.runnerCommand(),
			Env:     p.runnerEnv(),
			EnvFrom: envFrom,
			Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
				Name: pulumi.String("k6-api"), ContainerPort: pulumi.Int(loadtest.APIPort), Protocol: pulumi.String("TCP"),
			}},
			// Ready once the REST API answers: the headless Service then
			// publishes the runner's name and the starter can reach it
			// (k6-operator's default runner probe, pkg/resources/jobs/runner.go).
			ReadinessProbe: &corev1.ProbeArgs{
				HttpGet:       &corev1.HTTPGetActionArgs{Path: pulumi.String("/v1/status"), Port: pulumi.Int(loadtest.APIPort)},
				PeriodSeconds: pulumi.Int(2),
			},
			Resources:       p.args.Resources.requirements(),
			SecurityContext: restrictedContainer(false),
			VolumeMounts:    mounts,
		}},
		Volumes: volumes,
	}
	if p.args.SpreadRunners {
		pod.Affinity = &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
			PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{corev1.WeightedPodAffinityTermArgs{
				Weight: pulumi.Int(100),
				PodAffinityTerm: corev1.PodAffinityTermArgs{
					TopologyKey:   pulumi.String("kubernetes.io/hostname"),
					LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(p.runnerSelector())},
				},
			}},
		}}
	}
	return pod
}

// runnerJob is the Indexed Job of runners: runner i runs segment i.
func (p loadTestPlan) runnerJob() *batchv1.JobArgs {
	return &batchv1.JobArgs{
		Metadata: p.meta(p.args.JobName, p.jobAnnotations()),
		Spec: &batchv1.JobSpecArgs{
			CompletionMode: pulumi.String("Indexed"),
			Completions:    pulumi.Int(p.runners),
			Parallelism:    pulumi.Int(p.runners),
			// A failed runner fails the test: no retries, and a threshold
			// failure (99) or a stop by the starter (103) fails the whole
			// Job at once.
			BackoffLimit:          pulumi.Int(0),
			ActiveDeadlineSeconds: pulumi.Int(int(p.args.Deadline().Seconds())),
			PodFailurePolicy: &batchv1.PodFailurePolicyArgs{Rules: batchv1.PodFailurePolicyRuleArray{
				batchv1.PodFailurePolicyRuleArgs{
					Action: pulumi.String("FailJob"),
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirementArgs{
						ContainerName: pulumi.String("k6"), Operator: pulumi.String("In"),
						Values: pulumi.IntArray{pulumi.Int(K6ThresholdsFailedExitCode), pulumi.Int(K6StoppedFromRESTAPIExitCode)},
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
			Template: corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: p.labels(LoadTestName)}, Spec: p.runnerPod()},
		},
	}
}

// starterDeadline is how long the starter may run: the wait for the
// runners and five minutes for its own pod and setup().
func (p loadTestPlan) starterDeadline() time.Duration { return p.args.StartTimeout + 5*time.Minute }

// starterJob runs scripts/starter.js once: no API access, only the
// runners' REST APIs by their DNS names.
func (p loadTestPlan) starterJob() *batchv1.JobArgs {
	mounts, volumes := p.podVolumes()
	env := loadtest.StarterEnv(p.args.JobName, p.args.JobName, p.runners, p.args.StartTimeout)
	env["K6_NO_USAGE_REPORT"] = "true"
	return &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(p.starterJobName()), Namespace: p.args.Namespace,
			Labels: p.labels(LoadTestStarterName), Annotations: p.jobAnnotations(),
		},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(0),
			ActiveDeadlineSeconds: pulumi.Int(int(p.starterDeadline().Seconds())),
			Template: corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: p.labels(LoadTestStarterName)},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("Never"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              restrictedPod(k6UID),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("starter"),
						Image:           pulumi.String(p.args.Image),
						Command:         pulumi.StringArray{pulumi.String("k6"), pulumi.String("run"), pulumi.String("--quiet"), pulumi.String("/scripts/" + loadtest.StarterFile)},
						Env:             envVars(env),
						Resources:       StarterResources().requirements(),
						SecurityContext: restrictedContainer(false),
						VolumeMounts:    mounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

// runnerPolicy: only the starter reaches the runners' API; the runners
// reach DNS, the stack's services, the ingress (80/443) and Prometheus.
func (p loadTestPlan) runnerPolicy() *networkingv1.NetworkPolicyArgs {
	egress := networkingv1.NetworkPolicyEgressRuleArray{
		dnsEgress(),
		networkingv1.NetworkPolicyEgressRuleArgs{ // the stack's services
			To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
				PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{LabelPartOf: pulumi.String(p.args.PartOf), LabelComponent: pulumi.String(WebComponent)}},
			}},
		},
		networkingv1.NetworkPolicyEgressRuleArgs{To: peers([]string{AnyIPv4}), Ports: tcpPorts(80, 443)}, // the ingress host
	}
	if p.args.PrometheusRemoteWriteURL != "" {
		u, _ := url.Parse(p.args.PrometheusRemoteWriteURL) // validated
		port := map[string]int32{"http": 80, "https": 443}[u.Scheme]
		if n, err := strconv.Atoi(u.Port()); err == nil {
			port = int32(n)
		}
		egress = append(egress, networkingv1.NetworkPolicyEgressRuleArgs{To: peers([]string{AnyIPv4}), Ports: tcpPorts(port)})
	}
	return &networkingv1.NetworkPolicyArgs{
		Metadata: p.meta(p.args.JobName+"-runners", nil),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: stringMap(p.runnerSelector())},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					PodSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(p.starterSelector())},
				}},
				Ports: tcpPorts(loadtest.APIPort),
			}},
			Egress: egress,
		},
	}
}

// starterPolicy: the starter reaches DNS and the runners' API, nothing else.
func (p loadTestPlan) starterPolicy() *networkingv1.NetworkPolicyArgs {
	return &networkingv1.NetworkPolicyArgs{
		Metadata: p.meta(p.starterJobName(), nil),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: stringMap(p.starterSelector())},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{
				dnsEgress(),
				networkingv1.NetworkPolicyEgressRuleArgs{
					To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
						PodSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(p.runnerSelector())},
					}},
					Ports: tcpPorts(loadtest.APIPort),
				},
			},
		},
	}
}
