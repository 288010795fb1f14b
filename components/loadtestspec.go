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
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
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
	shape, thresholds := a.Config.Resolved()
	options, err := loadtest.BuildOptions(shape, thresholds, loadtest.Tags(a.Config, a.Run)).JSON()
	if err != nil {
		return loadTestPlan{}, fmt.Errorf("options: %w", err)
	}
	scripts, err := a.Config.Flow.Files()
	if err != nil {
		return loadTestPlan{}, fmt.Errorf("scripts: %w", err)
	}
	starter, err := loadtest.StarterScript()
	if err != nil {
		return loadTestPlan{}, fmt.Errorf("starter script: %w", err)
	}
	runners := a.Config.Runners()
	return loadTestPlan{args: a, shape: shape, runners: runners, segments: loadtest.Segments(runners),
		options: options, scripts: scripts, starter: starter}, nil
}

func (p loadTestPlan) starterJobName() string { return LoadTestStarter(p.args.JobName) }

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
	if !*p.args.Await {
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
	plain := loadtest.FlowEnv(p.args.Config)
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
		"/scripts/"+p.args.Config.Flow.FileName(), "/scripts/"+loadtest.OptionsFile, loadtest.Tags(p.args.Config, p.args.Run), extra))}
}

// podVolumes mounts the run's ConfigMap at /scripts and a writable /tmp
// (the root filesystem is read-only) of at most TmpSizeLimit.
func (p loadTestPlan) podVolumes() (corev1.VolumeMountArray, corev1.VolumeArray) {
	return corev1.VolumeMountArray{
			corev1.VolumeMountArgs{Name: pulumi.String("scripts"), MountPath: pulumi.String("/scripts"), ReadOnly: pulumi.Bool(true)},
			corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
		}, corev1.VolumeArray{
			corev1.VolumeArgs{Name: pulumi.String("scripts"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(p.args.JobName)}},
			corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String(TmpSizeLimit)}},
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
			// Ready once k6 has initialised its VUs (loadtest.RunnerReadyCommand),
			// not merely once its REST API answers, which it does before
			// (k6 v1.3.0 internal/cmd/run.go starts the API server, then
			// execScheduler.Init): the headless Service then publishes the
			// runner's name. The starter checks the same status itself.
			ReadinessProbe: &corev1.ProbeArgs{
				Exec:           &corev1.ExecActionArgs{Command: pulumi.ToStringArray(loadtest.RunnerReadyCommand())},
				PeriodSeconds:  pulumi.Int(2),
				TimeoutSeconds: pulumi.Int(2),
			},
			// A runner that dies (k6 exits 104 on a refused threshold, 107
			// on a script error) leaves the tail of its log as the
			// container's termination message, which the starter reads
			// from the pod and Pulumi's Job await prints.
			TerminationMessagePolicy: pulumi.String("FallbackToLogsOnError"),
			Resources:                p.args.RunnerResources.requirements(),
			SecurityContext:          restrictedContainer(false),
			VolumeMounts:             mounts,
		}},
		Volumes: volumes,
	}
	p.args.Placement.applyTo(pod)
	if *p.args.SpreadRunners {
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
			// Any failed runner fails the whole Job at once, and the Job
			// controller then ends the other runners, so none is left
			// paused: a threshold failure (99), a stop by the starter (103),
			// a runner that could not start (104, 106, 107), an OOM kill.
			// No pod failure policy: its FailJob action fails the Job with
			// reason PodFailurePolicy, which Pulumi's Job await does not
			// take for a failure (pulumi/cloud-ready-checks v1.3.0, the
			// checker pulumi-kubernetes uses: pkg/kubernetes/job/check.go
			// collectJobConditionErrors fails only on BackoffLimitExceeded
			// and DeadlineExceeded), so `pulumi up` would wait out its
			// timeout; exceeding backoffLimit 0 is BackoffLimitExceeded.
			// Nor an Ignore rule for drained pods: the replacement would
			// start paused after the starter has finished, and hold the
			// Job until its deadline.
			BackoffLimit:          pulumi.Int(0),
			ActiveDeadlineSeconds: pulumi.Int(int(p.args.Deadline().Seconds())),
			Template:              corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: p.labels(LoadTestName)}, Spec: p.runnerPod()},
		},
	}
}

// starterDeadline is how long the starter may run: the wait for the
// runners and five minutes for its own pod and setup().
func (p loadTestPlan) starterDeadline() time.Duration {
	return time.Duration(p.args.StartTimeout) + 5*time.Minute
}

// starterName names the starter's Job, ServiceAccount, Role and RoleBinding.
func (p loadTestPlan) starterName() string { return p.starterJobName() }

// starterServiceAccount is the starter's identity: it may list the pods of
// its namespace (starterRole), to see a runner that has died.
func (p loadTestPlan) starterServiceAccount() *corev1.ServiceAccountArgs {
	return &corev1.ServiceAccountArgs{
		Metadata:                     objectMeta(p.starterName(), p.args.Namespace, p.labels(LoadTestStarterName), nil),
		AutomountServiceAccountToken: pulumi.Bool(false), // the starter's pod mounts it
	}
}

// starterRole lets the starter read pods (RBAC cannot narrow a list to one
// Job's pods; the starter asks for job-name=<job> only).
func (p loadTestPlan) starterRole() *rbacv1.RoleArgs {
	return &rbacv1.RoleArgs{
		Metadata: objectMeta(p.starterName(), p.args.Namespace, p.labels(LoadTestStarterName), nil),
		Rules: rbacv1.PolicyRuleArray{rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.StringArray{pulumi.String("")},
			Resources: pulumi.StringArray{pulumi.String("pods")},
			Verbs:     pulumi.StringArray{pulumi.String("get"), pulumi.String("list")},
		}},
	}
}

func (p loadTestPlan) starterRoleBinding() *rbacv1.RoleBindingArgs {
	return &rbacv1.RoleBindingArgs{
		Metadata: objectMeta(p.starterName(), p.args.Namespace, p.labels(LoadTestStarterName), nil),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: pulumi.String(p.starterName())},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(p.starterName()), Namespace: p.args.Namespace}},
	}
}

// The starter's view of the Kubernetes API, from inside its pod: the API
// server's in-cluster name, and the ServiceAccount's token and CA that the
// kubelet mounts (kubernetes.io/docs/tasks/run-application/access-api-from-pod).
const (
	kubernetesAPI     = "https://kubernetes.default.svc"
	serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// starterJob runs scripts/starter.js once: it reaches the runners' REST
// APIs by their DNS names, and reads the runners' pods through the
// Kubernetes API with its own ServiceAccount.
func (p loadTestPlan) starterJob() *batchv1.JobArgs {
	mounts, volumes := p.podVolumes()
	env := loadtest.StarterEnv(p.args.JobName, p.args.JobName, p.runners, time.Duration(p.args.StartTimeout))
	env["K6_NO_USAGE_REPORT"] = "true"
	env[loadtest.EnvKubernetesAPI] = kubernetesAPI
	env[loadtest.EnvRunnerJob] = p.args.JobName
	// k6 verifies TLS against the system roots (k6 v1.3.0 internal/js/
	// runner.go newVU builds the VUs' tls.Config without RootCAs), which
	// Go reads from SSL_CERT_FILE when it is set (crypto/x509 root_unix.go
	// certFileEnv): the cluster's CA, mounted with the token.
	env["SSL_CERT_FILE"] = serviceAccountDir + "/ca.crt"
	envArgs := append(envVars(env), corev1.EnvVarArgs{
		Name:      pulumi.String(loadtest.EnvKubernetesNamespace),
		ValueFrom: &corev1.EnvVarSourceArgs{FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.namespace")}},
	})
	pod := &corev1.PodSpecArgs{
		RestartPolicy:                pulumi.String("Never"),
		ServiceAccountName:           pulumi.String(p.starterName()),
		AutomountServiceAccountToken: pulumi.Bool(true),
		SecurityContext:              restrictedPod(k6UID),
		Containers: corev1.ContainerArray{corev1.ContainerArgs{
			Name:            pulumi.String("starter"),
			Image:           pulumi.String(p.args.Image),
			Command:         pulumi.StringArray{pulumi.String("k6"), pulumi.String("run"), pulumi.String("--quiet"), pulumi.String("/scripts/" + loadtest.StarterFile)},
			Env:             envArgs,
			Resources:       StarterResources().requirements(),
			SecurityContext: restrictedContainer(false),
			VolumeMounts:    mounts,
			// The starter's abort message ("runner 1 (...) exited
			// 104 (invalid configuration) before the test started: ...")
			// is the last line of its log: Pulumi prints it.
			TerminationMessagePolicy: pulumi.String("FallbackToLogsOnError"),
		}},
		Volumes: volumes,
	}
	p.args.Placement.applyTo(pod)
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
				Spec:     pod,
			},
		},
	}
}

// runnerPolicy: only the starter reaches the runners' API; the runners
// reach DNS, their target (Target: its pods on their port, or its
// addresses on its port) and, with remote write, Prometheus: no other
// pod, port or address.
func (p loadTestPlan) runnerPolicy() *networkingv1.NetworkPolicyArgs {
	target := networkingv1.NetworkPolicyEgressRuleArgs{To: peers(p.args.Target.CIDRs), Ports: tcpPorts(p.args.Target.Port)}
	if len(p.args.Target.Pods) > 0 {
		target.To = networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(p.args.Target.Pods)},
		}}
	}
	egress := networkingv1.NetworkPolicyEgressRuleArray{dnsEgress(), target}
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

// starterPolicy: the starter reaches DNS, the runners' API and the
// Kubernetes API, nothing else. The API server is outside the pod network
// (on EKS, the control plane's ENIs), and a NetworkPolicy sees the
// kubernetes Service's endpoints after the Service's address is translated,
// so the rule names the API server's ports (443 on EKS, 6443 where the
// apiserver listens on its default), to any address.
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
				networkingv1.NetworkPolicyEgressRuleArgs{To: peers([]string{AnyIPv4}), Ports: tcpPorts(443, 6443)},
			},
		},
	}
}
