package components_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/render"
	"github.com/cirkelline/infra/loadtest"
)

func baseLoadTest() components.LoadTestArgs {
	test := loadtest.DefaultConfig()
	test.Shape = loadtest.MillionUsers
	return components.LoadTestArgs{
		JobName: "loadtest-7", Namespace: pulumi.String("shop"), PartOf: "shop", Test: test,
		TargetURL:   pulumi.String("http://api.shop.svc.cluster.local:8000"),
		Credentials: map[string]pulumi.StringInput{"TEST_PASSWORD": pulumi.String("pw")},
	}
}

func TestLoadTest(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*components.LoadTestArgs)
		check  func(*testing.T, batchv1.Job, captured)
	}{
		{"million users over 20 runners", func(*components.LoadTestArgs) {}, func(t *testing.T, j batchv1.Job, c captured) {
			if *j.Spec.Parallelism != 20 || *j.Spec.Completions != 20 || *j.Spec.CompletionMode != batchv1.IndexedCompletion || *j.Spec.BackoffLimit != 0 {
				t.Errorf("spec %+v", j.Spec)
			}
			rule := j.Spec.PodFailurePolicy.Rules[0]
			if rule.Action != batchv1.PodFailurePolicyActionFailJob || rule.OnExitCodes.Values[0] != 99 {
				t.Errorf("a threshold failure (exit 99) must fail the Job at once: %+v", rule)
			}
			// 45 min of stages + 30 s ramp-down + 10 min.
			if *j.Spec.ActiveDeadlineSeconds != 45*60+30+600 {
				t.Errorf("deadline %d", *j.Spec.ActiveDeadlineSeconds)
			}
			env := map[string]string{}
			for _, e := range j.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			if segs := strings.Fields(env["K6_SEGMENTS"]); len(segs) != 20 || segs[0] != "0:1/20" || segs[19] != "19/20:1" {
				t.Errorf("segments %q", env["K6_SEGMENTS"])
			}
			if !strings.HasPrefix(env["K6_EXECUTION_SEGMENT_SEQUENCE"], "0,1/20,1/10,") || env["BASE_URL"] != "http://api.shop.svc.cluster.local:8000" {
				t.Errorf("env %v", env)
			}
			if j.Annotations["pulumi.com/skipAwait"] != "" {
				t.Error("the Job is awaited by default")
			}
			pod := j.Spec.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever || !*pod.SecurityContext.RunAsNonRoot || pod.Affinity != nil {
				t.Errorf("pod %+v", pod)
			}
			var cm corev1.ConfigMap
			c.mustGet("kubernetes:core/v1:ConfigMap", "loadtest-7", &cm)
			if !strings.Contains(cm.Data["options.json"], `"million-users"`) || !strings.Contains(cm.Data["cirkelline.js"], "handleSummary") {
				t.Error("the ConfigMap must hold the options and the script")
			}
			var sec corev1.Secret
			c.mustGet("kubernetes:core/v1:Secret", "loadtest-7-credentials", &sec)
			if sec.StringData["TEST_PASSWORD"] != "[secret]" {
				t.Error("credentials must stay secret")
			}
		}},
		{"skip await, spread, prometheus", func(a *components.LoadTestArgs) {
			a.SkipAwait, a.SpreadRunners = true, true
			a.PrometheusRemoteWriteURL = "http://prometheus.monitoring:9090/api/v1/write"
			a.Test.VUsPerRunner = 5000
		}, func(t *testing.T, j batchv1.Job, _ captured) {
			ctr := j.Spec.Template.Spec.Containers[0]
			if j.Annotations["pulumi.com/skipAwait"] != "true" || j.Spec.Template.Spec.Affinity == nil || *j.Spec.Parallelism != 2 {
				t.Errorf("job %+v", j)
			}
			if !strings.Contains(ctr.Args[0], "'-o' 'experimental-prometheus-rw'") {
				t.Errorf("args %s", ctr.Args[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseLoadTest()
			tt.mutate(&args)
			c := capture(t, func(ctx *pulumi.Context) error {
				_, err := components.NewLoadTest(ctx, "lt", args)
				return err
			})
			c.checkParenting("cirkelline:components:LoadTest")
			var job batchv1.Job
			c.mustGet("kubernetes:batch/v1:Job", "loadtest-7", &job)
			tt.check(t, job, c)
		})
	}
}

func TestLoadTestValidation(t *testing.T) {
	args := baseLoadTest()
	args.Test.VUsPerRunner = -1
	args.PrometheusRemoteWriteURL = "prometheus:9090"
	args.TargetURL = nil
	err := args.Validate("loadtest")
	for _, want := range []string{`loadtest.vusPerRunner (-1): must be at least 1`, `loadtest.prometheusRemoteWriteUrl ("prometheus:9090")`, `loadtest.target: is required`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func ExampleNewLoadTest() {
	test := loadtest.DefaultConfig()
	test.Shape = loadtest.MillionUsers // 10,000 VUs: 20 runners of 500
	resources, _ := render.Capture("example", "staging", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewLoadTest(ctx, "scale", components.LoadTestArgs{
			JobName: "loadtest-1", Namespace: pulumi.String("shop"), PartOf: "shop", Test: test,
			TargetURL: pulumi.String("http://api.shop.svc.cluster.local:8000"),
		})
		return err
	})
	objs, _ := render.Objects(resources)
	for _, o := range objs {
		fmt.Println(o.Kind, o.Name)
	}
	fmt.Println("runners:", loadtest.Parallelism(loadtest.Shapes[loadtest.MillionUsers], test.VUsPerRunner))
	// Output:
	// ConfigMap loadtest-1
	// NetworkPolicy loadtest-1-egress
	// Job loadtest-1
	// runners: 20
}
