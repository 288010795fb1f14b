package components_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/loadtest"
)

func baseLoadTest() components.LoadTestArgs {
	test := loadtest.DefaultConfig()
	test.Shape = loadtest.MillionUsers
	return components.LoadTestArgs{
		LoadTestSpec: components.LoadTestSpec{Config: test}, JobName: "loadtest-7", Namespace: pulumi.String("shop"), PartOf: "shop",
		TargetURL:   pulumi.String("http://api.shop.svc.cluster.local:8000"),
		Target:      components.LoadTestEgress{Pods: components.SelectorLabels("shop", "api"), Port: 8000},
		Credentials: map[string]pulumi.StringInput{"TEST_PASSWORD": pulumi.String("pw")},
	}
}

func envMap(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func renderLoadTest(t *testing.T, args components.LoadTestArgs) (captured, batchv1.Job, batchv1.Job) {
	t.Helper()
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewLoadTest(ctx, "lt", args)
		return err
	})
	c.checkParenting("cirkelline:components:LoadTest")
	var runners, starter batchv1.Job
	c.mustGet("kubernetes:batch/v1:Job", args.JobName, &runners)
	c.mustGet("kubernetes:batch/v1:Job", components.LoadTestStarter(args.JobName), &starter)
	return c, runners, starter
}

func TestLoadTest(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*components.LoadTestArgs)
		check  func(*testing.T, batchv1.Job, batchv1.Job, captured)
	}{
		{"million users over 5 paused runners sized by the model", func(*components.LoadTestArgs) {}, func(t *testing.T, j, starter batchv1.Job, c captured) {
			// The runner model: 10,000 VUs at 2,449 a runner (2 GiB with
			// the margin) are 5 runners of 2,000 VUs, 67 req/s each.
			if *j.Spec.Parallelism != 5 || *j.Spec.Completions != 5 || *j.Spec.CompletionMode != batchv1.IndexedCompletion || *j.Spec.BackoffLimit != 0 {
				t.Errorf("spec %+v", j.Spec)
			}
			// Any failed runner exceeds backoffLimit 0 (BackoffLimitExceeded,
			// which Pulumi's Job await fails on); a FailJob rule's reason
			// PodFailurePolicy would keep `pulumi up` waiting.
			if j.Spec.PodFailurePolicy != nil {
				t.Errorf("no pod failure policy: %+v", j.Spec.PodFailurePolicy)
			}
			// 10 min for the start, 45 min of stages, 30 s ramp-down, 5 min.
			if *j.Spec.ActiveDeadlineSeconds != 600+45*60+30+300 {
				t.Errorf("deadline %d", *j.Spec.ActiveDeadlineSeconds)
			}
			pod := j.Spec.Template.Spec
			ctr := pod.Containers[0]
			wantEnv := map[string]string{
				"BASE_URL": "http://api.shop.svc.cluster.local:8000", "K6_NO_USAGE_REPORT": "true",
				"REQUEST_INTERVAL_SECONDS": "30", // the capacity model's pace
				"THINK_SECONDS":            "1",  // the flow's, which the script requires
				"RUNNER_SEGMENTS":          loadtest.RunnerEnv(loadtest.Segments(5))["RUNNER_SEGMENTS"],
				"RUNNER_SEGMENT_SEQUENCE":  loadtest.Sequence(loadtest.Segments(5)),
			}
			if got := envMap(ctr); !reflect.DeepEqual(got, wantEnv) {
				t.Errorf("runner env\n got %v\nwant %v", got, wantEnv)
			}
			// 2,000 VUs × 0.418 MiB × 2 = 1672 MiB; 67 req/s × 0.283 ms ×
			// 1.25 = 24m, under the 100m floor; the limit lets the VUs'
			// initialisation burst.
			wantResources := map[string]string{"requests.cpu": "100m", "requests.memory": "1672Mi", "limits.cpu": "1", "limits.memory": "1672Mi"}
			gotResources := map[string]string{}
			for kind, list := range map[string]corev1.ResourceList{"requests": ctr.Resources.Requests, "limits": ctr.Resources.Limits} {
				for name, q := range list {
					gotResources[kind+"."+string(name)] = q.String()
				}
			}
			if !reflect.DeepEqual(gotResources, wantResources) {
				t.Errorf("runner resources\n got %v\nwant %v", gotResources, wantResources)
			}
			if pod.Subdomain != "loadtest-7" || pod.RestartPolicy != corev1.RestartPolicyNever || *pod.AutomountServiceAccountToken || pod.Affinity == nil {
				t.Errorf("pod %+v", pod)
			}
			wantSecurity := &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(12345)), RunAsGroup: ptr(int64(12345)), FSGroup: ptr(int64(12345)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
			if !reflect.DeepEqual(pod.SecurityContext, wantSecurity) || !reflect.DeepEqual(starter.Spec.Template.Spec.SecurityContext, wantSecurity) {
				t.Errorf("the shared restricted pod context: %+v / %+v", pod.SecurityContext, starter.Spec.Template.Spec.SecurityContext)
			}
			wantProbe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: loadtest.RunnerReadyCommand()}}, PeriodSeconds: 2, TimeoutSeconds: 2}
			if !reflect.DeepEqual(ctr.ReadinessProbe, wantProbe) {
				t.Errorf("readiness %+v", ctr.ReadinessProbe)
			}
			if ctr.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
				t.Errorf("a runner that dies must leave k6's last lines as its termination message: %q", ctr.TerminationMessagePolicy)
			}
			// The starter: its own ServiceAccount (to read the runners'
			// pods), the runners' names, k6 with the starter script.
			sp := starter.Spec.Template.Spec
			sc := sp.Containers[0]
			if !*sp.AutomountServiceAccountToken || sp.ServiceAccountName != "loadtest-7-starter" || *starter.Spec.BackoffLimit != 0 || *starter.Spec.ActiveDeadlineSeconds != 900 ||
				sc.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
				t.Errorf("starter %+v", starter.Spec)
			}
			var role rbacv1.Role
			var binding rbacv1.RoleBinding
			var account corev1.ServiceAccount
			c.mustGet("kubernetes:core/v1:ServiceAccount", "loadtest-7-starter", &account)
			c.mustGet("kubernetes:rbac.authorization.k8s.io/v1:Role", "loadtest-7-starter", &role)
			c.mustGet("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "loadtest-7-starter", &binding)
			if !reflect.DeepEqual(role.Rules, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}) ||
				!reflect.DeepEqual(binding.RoleRef, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "loadtest-7-starter"}) ||
				!reflect.DeepEqual(binding.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "loadtest-7-starter", Namespace: "shop"}}) ||
				account.Namespace != "shop" || role.Namespace != "shop" || binding.Namespace != "shop" {
				t.Errorf("starter RBAC: %+v %+v %+v", account, role, binding)
			}
			wantStarterEnv := map[string]string{
				"K6_NO_USAGE_REPORT": "true", "START_TIMEOUT_SECONDS": "600", "RUNNERS": envMap(sc)["RUNNERS"],
				"KUBERNETES_API": "https://kubernetes.default.svc", "RUNNER_JOB": "loadtest-7", "KUBERNETES_NAMESPACE": "",
				"SSL_CERT_FILE": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
			}
			if got := envMap(sc); !reflect.DeepEqual(got, wantStarterEnv) || sc.Env[len(sc.Env)-1].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
				t.Errorf("starter env\n got %v\nwant %v", got, wantStarterEnv)
			}
			if !reflect.DeepEqual(sc.Command, []string{"k6", "run", "--quiet", "/scripts/starter.js"}) {
				t.Errorf("starter command %v", sc.Command)
			}
			hosts := strings.Split(envMap(sc)["RUNNERS"], ",")
			if len(hosts) != 5 || hosts[0] != "loadtest-7-0.loadtest-7:6565" || hosts[4] != "loadtest-7-4.loadtest-7:6565" || envMap(sc)["START_TIMEOUT_SECONDS"] != "600" {
				t.Errorf("starter env %v", envMap(sc))
			}
			var svc corev1.Service
			c.mustGet("kubernetes:core/v1:Service", "loadtest-7", &svc)
			if svc.Spec.ClusterIP != "None" || !reflect.DeepEqual(svc.Spec.Selector, map[string]string{
				"app.kubernetes.io/name": "loadtest", "app.kubernetes.io/instance": "shop-loadtest", "app.kubernetes.io/part-of": "shop", "loadtest.cirkelline.io/run": "loadtest-7",
			}) {
				t.Errorf("headless service %+v", svc.Spec)
			}
			for k, v := range svc.Spec.Selector {
				if j.Spec.Template.Labels[k] != v {
					t.Errorf("the service must select the runner pods: %s=%s", k, v)
				}
				if k == components.LabelName && starter.Spec.Template.Labels[k] == v {
					t.Error("the service must not select the starter")
				}
			}
			var cm corev1.ConfigMap
			c.mustGet("kubernetes:core/v1:ConfigMap", "loadtest-7", &cm)
			starterJS, _ := loadtest.StarterScript()
			if !strings.Contains(cm.Data["options.json"], `"million-users"`) || !strings.Contains(cm.Data["cirkelline.js"], "handleSummary") || cm.Data["starter.js"] != string(starterJS) {
				t.Error("the ConfigMap must hold the options, the flow and the starter")
			}
			var sec corev1.Secret
			c.mustGet("kubernetes:core/v1:Secret", "loadtest-7-credentials", &sec)
			if sec.StringData["TEST_PASSWORD"] != "[secret]" {
				t.Error("credentials must stay secret")
			}
			// Only the starter reaches the runners' API; the starter reaches nothing else.
			var runnersPolicy, starterPolicy networkingv1.NetworkPolicy
			c.mustGet("kubernetes:networking.k8s.io/v1:NetworkPolicy", "loadtest-7-runners", &runnersPolicy)
			c.mustGet("kubernetes:networking.k8s.io/v1:NetworkPolicy", "loadtest-7-starter", &starterPolicy)
			wantIngress := []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: starterPolicy.Spec.PodSelector.MatchLabels}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(6565))}},
			}}
			if !reflect.DeepEqual(runnersPolicy.Spec.Ingress, wantIngress) || !reflect.DeepEqual(runnersPolicy.Spec.PodSelector.MatchLabels, svc.Spec.Selector) {
				t.Errorf("runner ingress %+v", runnersPolicy.Spec.Ingress)
			}
			wantAPI := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(443))}, {Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(6443))}}}
			if len(starterPolicy.Spec.Egress) != 3 || !reflect.DeepEqual(starterPolicy.Spec.Egress[2], wantAPI) {
				t.Errorf("the starter reaches the Kubernetes API: %+v", starterPolicy.Spec.Egress)
			}
			if len(starterPolicy.Spec.Ingress) != 0 ||
				!reflect.DeepEqual(starterPolicy.Spec.Egress[1].To[0].PodSelector.MatchLabels, svc.Spec.Selector) ||
				!reflect.DeepEqual(starterPolicy.Spec.Egress[1].Ports, wantIngress[0].Ports) {
				t.Errorf("starter policy %+v", starterPolicy.Spec)
			}
			if !reflect.DeepEqual(starterPolicy.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
				t.Errorf("starter policy types %v", starterPolicy.Spec.PolicyTypes)
			}
		}},
		{"skip await, no spread, prometheus, tags", func(a *components.LoadTestArgs) {
			a.Await, a.SpreadRunners = ptr(false), ptr(false)
			a.PrometheusRemoteWriteURL = "http://prometheus.monitoring:9090/api/v1/write"
			a.Config.VUsPerRunner = 5000
			a.Config.Tags = map[string]string{"team": "growth"}
			a.Run = loadtest.RunInfo{Stack: "staging", RunID: "7", Environment: "staging"}
		}, func(t *testing.T, j, starter batchv1.Job, c captured) {
			ctr := j.Spec.Template.Spec.Containers[0]
			if j.Annotations["pulumi.com/skipAwait"] != "true" || starter.Annotations["pulumi.com/skipAwait"] != "true" || j.Spec.Template.Spec.Affinity != nil || *j.Spec.Parallelism != 2 {
				t.Errorf("job %+v", j)
			}
			if !strings.Contains(ctr.Command[2], "'-o' 'experimental-prometheus-rw'") || envMap(ctr)["K6_PROMETHEUS_RW_SERVER_URL"] != "http://prometheus.monitoring:9090/api/v1/write" {
				t.Errorf("command %s", ctr.Command[2])
			}
			var cm corev1.ConfigMap
			c.mustGet("kubernetes:core/v1:ConfigMap", "loadtest-7", &cm)
			var opts loadtest.Options
			if err := json.Unmarshal([]byte(cm.Data["options.json"]), &opts); err != nil ||
				!reflect.DeepEqual(opts.Tags, loadtest.Tags(loadtest.Config{Tags: map[string]string{"team": "growth"}}, loadtest.RunInfo{Stack: "staging", RunID: "7", Environment: "staging"})) {
				t.Errorf("the Job's tags are loadtest.Tags (as the export's): %v %v", opts.Tags, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseLoadTest()
			tt.mutate(&args)
			c, runners, starter := renderLoadTest(t, args)
			tt.check(t, runners, starter, c)
		})
	}
}

// TestRunnerCommandContract runs each rendered runner's command under the
// real /bin/sh with the pod's env and JOB_COMPLETION_INDEX, with a stand-in
// k6 on PATH that records its arguments: every runner passes k6 the
// execution-segment flags, and their VU shares add up to every stage.
func TestRunnerCommandContract(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "k6"), []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 20} {
		t.Run(fmt.Sprint(n, " runners"), func(t *testing.T) {
			args := baseLoadTest()
			args.Config.VUsPerRunner = (10000 + n - 1) / n
			args.Config.Tags = map[string]string{"team": "growth"}
			args.Run = loadtest.RunInfo{Stack: "staging", RunID: "7", Environment: "staging"}
			c, job, starter := renderLoadTest(t, args)
			var cm corev1.ConfigMap
			c.mustGet("kubernetes:core/v1:ConfigMap", "loadtest-7", &cm)
			if got := int(*job.Spec.Parallelism); got != n {
				t.Fatalf("parallelism %d, want %d", got, n)
			}
			ctr := job.Spec.Template.Spec.Containers[0]
			shape, _ := args.Config.Resolved()
			shares := make([]int, len(shape.Stages))
			for i := range n {
				cmd := exec.Command(ctr.Command[0], ctr.Command[1:]...)
				cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i)}
				for k, v := range envMap(ctr) {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("runner %d: %v", i, err)
				}
				argv := strings.Split(strings.TrimSpace(string(out)), "\n")
				flag := func(name string) string {
					for j, a := range argv {
						if a == name && j+1 < len(argv) {
							return argv[j+1]
						}
					}
					t.Fatalf("runner %d: k6 got no %s: %q", i, name, argv)
					return ""
				}
				seg := loadtest.Segments(n)[i]
				if got := flag("--execution-segment"); got != seg.String() {
					t.Errorf("runner %d: segment %s, want %s", i, got, seg)
				}
				if got := flag("--execution-segment-sequence"); got != loadtest.Sequence(loadtest.Segments(n)) {
					t.Errorf("runner %d: sequence %s", i, got)
				}
				if flag("--address") != "0.0.0.0:6565" || flag("--config") != "/scripts/options.json" || !slices.Contains(argv, "--paused") || !slices.Contains(argv, "--no-setup") {
					t.Errorf("runner %d: argv %q", i, argv)
				}
				// The tags every sample of this runner carries (issue 21).
				wantTags := map[string]string{"team": "growth", "stack": "staging", "run": "7", "environment": "staging", "runner": fmt.Sprint(i)}
				if got := k6RunTags(t, argv, cm, ctr); !maps.Equal(got, wantTags) {
					t.Errorf("runner %d: k6 tags every sample with %v, want %v", i, got, wantTags)
				}
				for s, st := range shape.Stages {
					shares[s] += loadtest.ScaleVUs(st.Target, seg)
				}
			}
			for s, st := range shape.Stages {
				if shares[s] != st.Target {
					t.Errorf("stage %d: runners run %d VUs of %d", s, shares[s], st.Target)
				}
			}
			// The starter resumes exactly these n runners.
			hosts := strings.Split(envMap(starter.Spec.Template.Spec.Containers[0])["RUNNERS"], ",")
			want := make([]string, n)
			for i := range n {
				want[i] = fmt.Sprintf("loadtest-7-%d.loadtest-7:6565", i)
			}
			if !reflect.DeepEqual(hosts, want) {
				t.Errorf("starter runners %v, want %v", hosts, want)
			}
			// An index beyond the segments fails loudly instead of running the whole test.
			cmd := exec.Command(ctr.Command[0], ctr.Command[1:]...)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", fmt.Sprintf("JOB_COMPLETION_INDEX=%d", n)}
			for k, v := range envMap(ctr) {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no execution segment") {
				t.Errorf("index %d of %d: %v %s", n, n, err, out)
			}
		})
	}
}

func TestLoadTestValidation(t *testing.T) {
	args := baseLoadTest()
	args.Config.VUsPerRunner = -1
	args.PrometheusRemoteWriteURL = "prometheus:9090"
	args.TargetURL = nil
	err := args.Validate("loadtest")
	for _, want := range []string{`loadtest.vusPerRunner (-1): must not be negative`, `loadtest.prometheusRemoteWriteUrl ("prometheus:9090")`, `loadtest.target: is required`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// An override of the runners' resources is checked against the runner
// model's need at the shape's peak: below it, each field is refused with
// the model's figure and the fix.
func TestLoadTestRunnerResourcesOverride(t *testing.T) {
	tests := []struct {
		name     string
		shape    loadtest.ShapeName
		flow     loadtest.Flow
		override components.ResourcesSpec
		want     []string // errors; none: accepted
	}{
		{"the model's own size", loadtest.MillionUsers, loadtest.Cirkelline, components.ResourcesSpec{}, nil},
		{"today's 1 CPU, 1Gi-2Gi: memory below the need of 2,000 VUs", loadtest.MillionUsers, loadtest.Cirkelline,
			components.ResourcesSpec{CPURequest: "1", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "2Gi"}, []string{
				`loadtest.runnerResources.memoryRequest ("1Gi"): is below the runner model's need: one runner of the million-users shape holds up to 2000 VUs of the cirkelline flow at 67 req/s at its peak, and needs 1672Mi of memory (cirkelline runner model: 0.283 ms CPU a request × 1.25, (0.418 + 0.000 MiB payload) a VU × 2, at most 30000 VUs a runner); fix: raise it to at least 1672Mi, remove it to take the model's size, or lower loadtest.vusPerRunner to spread the VUs over more runners`,
			}},
		{"more than the model", loadtest.MillionUsers, loadtest.Cirkelline,
			components.ResourcesSpec{CPURequest: "1", CPULimit: "2", MemoryRequest: "2Gi", MemoryLimit: "2Gi"}, nil},
		{"partypic peak-event: CPU and memory limit below the need", loadtest.PeakEvent, loadtest.PartyPic,
			components.ResourcesSpec{CPURequest: "100m", MemoryLimit: "512Mi", MemoryRequest: "512Mi"}, []string{
				`loadtest.runnerResources.cpuRequest ("100m"): is below the runner model's need: one runner of the peak-event shape holds up to 400 VUs of the partypic flow at 167 req/s at its peak, and needs 229m CPU`,
				`fix: raise it to at least 229m`,
				`loadtest.runnerResources.memoryRequest ("512Mi"): is below the runner model's need`,
				`loadtest.runnerResources.memoryLimit ("512Mi"): is below the runner model's need`,
				`needs 567Mi of memory`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseLoadTest()
			a.Config.Shape, a.Config.Flow, a.RunnerResources = tt.shape, tt.flow, tt.override
			a.Image = components.DefaultK6Image
			err := a.WithDefaults().Validate("loadtest")
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want refused with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func ExampleNewLoadTest() {
	test := loadtest.DefaultConfig()
	test.Shape = loadtest.MillionUsers // 10,000 VUs: 5 runners of 2,000 (the runner model)
	resources, _ := mockrun.Capture("example", "staging", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewLoadTest(ctx, "scale", components.LoadTestArgs{
			LoadTestSpec: components.LoadTestSpec{Config: test}, JobName: "loadtest-1", Namespace: pulumi.String("shop"), PartOf: "shop",
			Run:       loadtest.RunInfo{Stack: "staging", RunID: "1", Environment: "staging"},
			TargetURL: pulumi.String("http://api.shop.svc.cluster.local:8000"),
			Target:    components.LoadTestEgress{Pods: components.SelectorLabels("shop", "api"), Port: 8000},
		})
		return err
	})
	objs, _ := mockrun.Objects(resources)
	for _, o := range objs {
		var job batchv1.Job
		if o.Kind != "Job" || yaml.Unmarshal(o.Body, &job) != nil {
			continue
		}
		ctr := job.Spec.Template.Spec.Containers[0]
		env := map[string]string{}
		for _, e := range ctr.Env {
			env[e.Name] = e.Value
		}
		if job.Name == "loadtest-1" {
			fmt.Println("runners:", *job.Spec.Parallelism, "of", job.Spec.Template.Spec.Subdomain, "paced at", env["REQUEST_INTERVAL_SECONDS"], "s a request")
			fmt.Println(ctr.Command[2][strings.Index(ctr.Command[2], "exec k6"):])
		} else {
			hosts := strings.Split(env["RUNNERS"], ",")
			fmt.Println("starter resumes", len(hosts), "runners:", hosts[0], "…", hosts[len(hosts)-1])
		}
	}
	// Output:
	// starter resumes 5 runners: loadtest-1-0.loadtest-1:6565 … loadtest-1-4.loadtest-1:6565
	// runners: 5 of loadtest-1 paced at 30 s a request
	// exec k6 run --paused --address 0.0.0.0:6565 --no-setup \
	//   --execution-segment "$1" --execution-segment-sequence "$RUNNER_SEGMENT_SEQUENCE" \
	//   --tag 'environment=staging' --tag 'run=1' --tag 'stack=staging' --tag "runner=$index" \
	//   --config '/scripts/options.json' '/scripts/cirkelline.js'
}

// relativeImportRE matches `import ... from './x.js';`, the shape of the
// shipped scripts' imports of their modules (the first capture: x.js).
var relativeImportRE = regexp.MustCompile(`(?m)^import\s[^;]*?\sfrom\s+'\./([^']+)';`)

// TestLoadTestConfigMapCarriesEveryRelativeImport: the pods mount the
// ConfigMap at /scripts, one file a key, and k6 resolves the flow's
// './x.js' to /scripts/x.js: every relative import of every script in it
// is a key, with the content `loadtest export` writes.
func TestLoadTestConfigMapCarriesEveryRelativeImport(t *testing.T) {
	for _, flow := range loadtest.Flows() {
		args := baseLoadTest()
		args.Config.Flow, args.Config.Shape = flow, loadtest.Smoke
		c, _, _ := renderLoadTest(t, args)
		var cm corev1.ConfigMap
		c.mustGet("kubernetes:core/v1:ConfigMap", args.JobName, &cm)
		var imported []string
		for key, body := range cm.Data {
			for _, m := range relativeImportRE.FindAllStringSubmatch(body, -1) {
				imported = append(imported, m[1])
				if _, ok := cm.Data[m[1]]; !ok {
					t.Errorf("%s: %s imports ./%s, which the ConfigMap lacks (keys %q)", flow, key, m[1], slices.Sorted(maps.Keys(cm.Data)))
				}
			}
		}
		if !slices.Contains(imported, "pacing.js") || !slices.Contains(imported, "summary.js") {
			t.Errorf("%s: the ConfigMap's scripts import %q, want ./pacing.js and ./summary.js among them", flow, imported)
		}
		dir := t.TempDir()
		if _, err := loadtest.Export(dir, args.Config, args.Run); err != nil {
			t.Fatal(err)
		}
		exported, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range exported {
			body, _ := os.ReadFile(f)
			if got, ok := cm.Data[filepath.Base(f)]; !ok || got != string(body) {
				t.Errorf("%s: the ConfigMap's %s differs from the export's", flow, filepath.Base(f))
			}
		}
	}
}

// k6RunTags is the tag set k6 v1.3.0 applies to every sample of a runner
// started with argv and the container's env, its --config file and script
// taken from the ConfigMap. k6 consolidates its options
// (internal/cmd/config.go getConsolidatedConfig) as: the --config file, then
// the script's exported options, then the K6_* environment, then the
// command line, each applied with lib/options.go Options.Apply, which
// replaces RunTags whole when the later layer has any ("if len(opts.RunTags)
// > 0 { o.RunTags = opts.RunTags }"); internal/cmd/config_consolidation_test.go
// ("Test-wide Tags") shows a file's tags replaced by a single --tag. The
// command line's --tag flags are parsed by internal/cmd/options.go
// getOptions and parseTagNameValue (split at the first "=", empty name or
// value refused), a later flag winning for the same name.
func k6RunTags(t *testing.T, argv []string, cm corev1.ConfigMap, ctr corev1.Container) map[string]string {
	t.Helper()
	var result map[string]string
	apply := func(tags map[string]string) { // Options.Apply's RunTags rule
		if len(tags) > 0 {
			result = tags
		}
	}
	// 1. the --config file.
	var configPath string
	for j, a := range argv {
		if a == "--config" && j+1 < len(argv) {
			configPath = argv[j+1]
		}
	}
	var file struct {
		Tags map[string]string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(cm.Data[strings.TrimPrefix(configPath, "/scripts/")]), &file); err != nil {
		t.Fatalf("--config %q: %v", configPath, err)
	}
	apply(file.Tags)
	// 2. the script's exported options: the flows export none (they hold
	// request logic only), which this pins.
	script := argv[len(argv)-1]
	body, ok := cm.Data[strings.TrimPrefix(script, "/scripts/")]
	if !ok {
		t.Fatalf("script %q is not in the ConfigMap", script)
	}
	if regexp.MustCompile(`export\s+(const|let|var)\s+options\b|export\s*\{[^}]*\boptions\b`).MatchString(body) {
		t.Fatalf("%s exports options, whose tags this model does not read", script)
	}
	// 3. K6_TAGS (lib/options.go RunTags `envconfig:"K6_TAGS"`): the
	// program never sets it and a stack's env may not (loadtest.Config.Validate).
	if v, ok := envMap(ctr)["K6_TAGS"]; ok {
		t.Fatalf("K6_TAGS=%q would replace the file's tags", v)
	}
	// 4. the command line.
	cli := map[string]string{}
	for j, a := range argv {
		if a != "--tag" || j+1 >= len(argv) {
			continue
		}
		nv := argv[j+1]
		idx := strings.IndexRune(nv, '=')
		if idx <= 0 || idx == len(nv)-1 {
			t.Fatalf("k6 refuses --tag %q (parseTagNameValue)", nv)
		}
		cli[nv[:idx]] = nv[idx+1:]
	}
	apply(cli)
	return result
}

// TestRunnerPolicy: the runners' NetworkPolicy whole, for each kind of
// target: only the starter may reach their API; they reach DNS, their
// target's pods on its port (or its addresses on its port) and, with
// remote write, Prometheus's port; nothing else.
func TestRunnerPolicy(t *testing.T) {
	tcp := func(port int32) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(port))}
	}
	runners := map[string]string{
		"app.kubernetes.io/name": "loadtest", "app.kubernetes.io/instance": "shop-loadtest", "app.kubernetes.io/part-of": "shop",
		"loadtest.cirkelline.io/run": "loadtest-7",
	}
	starter := map[string]string{
		"app.kubernetes.io/name": "loadtest-starter", "app.kubernetes.io/instance": "shop-loadtest-starter", "app.kubernetes.io/part-of": "shop",
		"loadtest.cirkelline.io/run": "loadtest-7",
	}
	dns := networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolUDP), Port: ptr(intstr.FromInt32(53))}, tcp(53)},
	}
	base := networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: runners},
		PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress"},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: starter}}},
			Ports: []networkingv1.NetworkPolicyPort{tcp(6565)},
		}},
		Egress: []networkingv1.NetworkPolicyEgressRule{dns, {
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: components.SelectorLabels("shop", "api")}}},
			Ports: []networkingv1.NetworkPolicyPort{tcp(8000)},
		}},
	}
	tests := []struct {
		name   string
		mutate func(*components.LoadTestArgs)
		want   func(*networkingv1.NetworkPolicySpec)
	}{
		{"a service: its pods on their port", func(*components.LoadTestArgs) {}, func(*networkingv1.NetworkPolicySpec) {}},
		{"an internal ALB: its subnets on 443", func(a *components.LoadTestArgs) {
			a.Target = components.LoadTestEgress{CIDRs: []string{"10.0.0.0/22", "10.0.4.0/22"}, Port: 443}
		}, func(s *networkingv1.NetworkPolicySpec) {
			s.Egress[1] = networkingv1.NetworkPolicyEgressRule{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/22"}}, {IPBlock: &networkingv1.IPBlock{CIDR: "10.0.4.0/22"}}},
				Ports: []networkingv1.NetworkPolicyPort{tcp(443)},
			}
		}},
		{"remote write: Prometheus's port too", func(a *components.LoadTestArgs) {
			a.PrometheusRemoteWriteURL = "http://prometheus.monitoring:9090/api/v1/write"
		}, func(s *networkingv1.NetworkPolicySpec) {
			s.Egress = append(s.Egress, networkingv1.NetworkPolicyEgressRule{
				To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}, Ports: []networkingv1.NetworkPolicyPort{tcp(9090)},
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseLoadTest()
			tt.mutate(&args)
			c, _, _ := renderLoadTest(t, args)
			var got networkingv1.NetworkPolicy
			c.mustGet("kubernetes:networking.k8s.io/v1:NetworkPolicy", "loadtest-7-runners", &got)
			want := *base.DeepCopy()
			tt.want(&want)
			if !reflect.DeepEqual(got.Spec, want) {
				g, _ := yaml.Marshal(got.Spec)
				w, _ := yaml.Marshal(want)
				t.Errorf("runner policy\n%s\nwant\n%s", g, w)
			}
		})
	}
	args := baseLoadTest()
	args.Target = components.LoadTestEgress{}
	if err := args.WithDefaults().Validate("loadtest"); err == nil || !strings.Contains(err.Error(), "loadtest.target: needs exactly one") {
		t.Errorf("no target: %v", err)
	}
}
