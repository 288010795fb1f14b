package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/commands"
	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/workloads"
)

// shippedStacks are the stacks with a Pulumi.<stack>.yaml in the repo.
func shippedStacks(t testing.TB) []string {
	t.Helper()
	names, err := stackfile.Stacks(".")
	if err != nil || len(names) < 3 {
		t.Fatalf("want at least staging, production and partypic stack files, got %v (%v)", names, err)
	}
	return names
}

func renderStack(t testing.TB, stack string) *render.Result {
	t.Helper()
	res, err := render.Stack(render.Options{Dir: ".", Stack: stack}, workloads.Program)
	if err != nil {
		t.Fatalf("render %s: %v", stack, err)
	}
	return res
}

// TestGolden compares every shipped stack's rendered manifests with
// testdata/rendered/<stack>/, file by file. Run with -update to refresh.
func TestGolden(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		t.Run(stack, func(t *testing.T) {
			res := renderStack(t, stack)
			dir := filepath.Join("testdata", "rendered", stack)
			if golden.Update() {
				// Write also removes the files no longer rendered.
				if err := render.Write(dir, res.Objects); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cloud, _ := filepath.Glob(filepath.Join(dir, "cloud", "*.yaml"))
			want = append(want, cloud...)
			var got []string
			for _, o := range res.Objects {
				path := filepath.Join(dir, filepath.FromSlash(o.File))
				got = append(got, path)
				golden.Check(t, path, o.Body)
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("%s is no longer rendered; delete it or run %s", w, golden.Command(t))
				}
			}
		})
	}
}

// TestRenderedObjectsDecodeStrictly decodes every rendered Kubernetes object
// into its k8s.io/api type with unknown fields rejected, so a misspelt field
// fails here rather than at apply time.
func TestRenderedObjectsDecodeStrictly(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		res := renderStack(t, stack)
		for _, o := range res.Objects {
			if o.Cloud {
				continue
			}
			if o.Kind == capacity.NodePoolKind || o.Kind == capacity.EC2NodeClassKind {
				// Karpenter ships no Go types here (its modules are not
				// imported): capacity's tests walk these objects against
				// Karpenter's CRD schemas, and the integration test applies
				// them with --validate=strict after the CRDs.
				continue
			}
			obj, ok := mockrun.TypedObject(o.Kind)
			if !ok {
				t.Errorf("%s/%s: kind %s has no typed decoder; add it to mockrun.TypedObject", stack, o.File, o.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict(o.Body, obj); err != nil {
				t.Errorf("%s/%s: %v", stack, o.File, err)
			}
		}
	}
}

// TestStackInvariants checks the rules every shipped stack must keep.
func TestStackInvariants(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		res := renderStack(t, stack)
		hpaTargets := map[string]bool{}
		for _, o := range res.Objects {
			if o.Kind == "HorizontalPodAutoscaler" {
				var h autoscalingv2.HorizontalPodAutoscaler
				mustDecode(t, o, &h)
				hpaTargets[h.Spec.ScaleTargetRef.Name] = true
				if got := metricTargets(h); got != "cpu=70,memory=80" {
					t.Errorf("%s/%s: metrics %s, want cpu=70,memory=80", stack, o.File, got)
				}
			}
		}
		for _, o := range res.Objects {
			switch o.Kind {
			case "Deployment":
				var d appsv1.Deployment
				mustDecode(t, o, &d)
				if hpaTargets[d.Name] && d.Spec.Replicas != nil {
					t.Errorf("%s/%s: sets replicas although an HPA manages it", stack, o.File)
				}
				if d.Labels["app.kubernetes.io/component"] == "web" {
					if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
						t.Errorf("%s/%s: a web service must roll with maxUnavailable 0, got %+v", stack, o.File, d.Spec.Strategy)
					}
				}
				c := d.Spec.Template.Spec.Containers[0]
				if !*c.SecurityContext.ReadOnlyRootFilesystem || !*d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
					t.Errorf("%s/%s: must run non-root with a read-only root filesystem", stack, o.File)
				}
			case "PodDisruptionBudget":
				var p policyv1.PodDisruptionBudget
				mustDecode(t, o, &p)
				if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() < 1 {
					t.Errorf("%s/%s: PDB must allow at least one disruption, got %+v", stack, o.File, p.Spec)
				}
			case "Namespace":
				var n corev1.Namespace
				mustDecode(t, o, &n)
				if n.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
					t.Errorf("%s/%s: namespace must enforce restricted pod security", stack, o.File)
				}
			case "Secret":
				// Every value of every Secret is redacted, not just one.
				var sec corev1.Secret
				mustDecode(t, o, &sec)
				if len(sec.StringData)+len(sec.Data) == 0 {
					t.Errorf("%s/%s: a Secret without data", stack, o.File)
				}
				for k, v := range sec.StringData {
					if v != mockrun.SecretPlaceholder {
						t.Errorf("%s/%s: stringData.%s renders as %q, not %s", stack, o.File, k, v, mockrun.SecretPlaceholder)
					}
				}
				if len(sec.Data) > 0 {
					t.Errorf("%s/%s: data is not rendered redacted: use stringData", stack, o.File)
				}
			}
		}
	}
}

func metricTargets(h autoscalingv2.HorizontalPodAutoscaler) string {
	var parts []string
	for _, m := range h.Spec.Metrics {
		parts = append(parts, fmt.Sprintf("%s=%d", m.Resource.Name, *m.Resource.Target.AverageUtilization))
	}
	return strings.Join(parts, ",")
}

func mustDecode(t testing.TB, o mockrun.Object, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.Body, into); err != nil {
		t.Fatalf("%s: %v", o.File, err)
	}
}

// TestPartyPicIsOnlyStackConfig: a server with HPA 2–25 and a static client
// with HPA 1–3 behind one ALB (/api to the server, / to the client), from
// Pulumi.partypic.yaml alone.
func TestPartyPicIsOnlyStackConfig(t *testing.T) {
	res := renderStack(t, "partypic")
	byFile := map[string]mockrun.Object{}
	for _, o := range res.Objects {
		byFile[strings.ToLower(strings.Join([]string{o.Kind, o.Namespace, o.Name}, "-"))+".yaml"] = o
	}
	for svc, want := range map[string][2]int32{"partypic-server": {2, 25}, "partypic-client": {1, 3}} {
		var h autoscalingv2.HorizontalPodAutoscaler
		mustDecode(t, byFile["horizontalpodautoscaler-party-pic-"+svc+"-hpa.yaml"], &h)
		if *h.Spec.MinReplicas != want[0] || h.Spec.MaxReplicas != want[1] {
			t.Errorf("%s HPA %d-%d, want %d-%d", svc, *h.Spec.MinReplicas, h.Spec.MaxReplicas, want[0], want[1])
		}
	}
	var ing networkingv1.Ingress
	mustDecode(t, byFile["ingress-party-pic-party-pic.yaml"], &ing)
	var routes []string
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		routes = append(routes, p.Path+"->"+p.Backend.Service.Name)
	}
	if got := strings.Join(routes, " "); got != "/api->partypic-server /->partypic-client" {
		t.Errorf("routes %s", got)
	}
	var client appsv1.Deployment
	mustDecode(t, byFile["deployment-party-pic-partypic-client.yaml"], &client)
	if len(client.Spec.Template.Spec.Containers[0].EnvFrom) != 0 {
		t.Error("the static client must not receive the app's secrets")
	}
	var secret corev1.Secret
	mustDecode(t, byFile["secret-party-pic-party-pic-secrets.yaml"], &secret)
	if _, ok := secret.StringData["JWT_SECRET"]; !ok || len(secret.StringData) != 2 {
		t.Errorf("secret keys %v, want DATABASE_URL and JWT_SECRET", secret.StringData)
	}
}

func TestRenderCommand(t *testing.T) {
	t.Run("writes one file per object and a summary", func(t *testing.T) {
		out := t.TempDir()
		// A stale file from an earlier render must go.
		if err := os.WriteFile(filepath.Join(out, "deployment-old-gone.yaml"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		if code := cliMain([]string{"render", "--stack", "production", "--out", out}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		want := renderStack(t, "production").Objects
		files, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
		cloud, _ := filepath.Glob(filepath.Join(out, "cloud", "*.yaml"))
		if len(files)+len(cloud) != len(want) || len(cloud) != 4 {
			t.Errorf("wrote %d files and %d cloud files, want %d in all, 4 of them cloud (ElastiCache)", len(files), len(cloud), len(want))
		}
		if _, err := os.Stat(filepath.Join(out, "deployment-old-gone.yaml")); err == nil {
			t.Error("stale file not removed")
		}
		for _, want := range []string{
			`HorizontalPodAutoscaler\s+cirkelline\s+cirkelline-backend-hpa\s+13-horizontalpodautoscaler-cirkelline-cirkelline-backend-hpa.yaml`,
			`aws:elasticache/replicationGroup:ReplicationGroup\s+-\s+cirkelline-redis\s+cloud/aws-elasticache-replicationgroup-cirkelline-redis.yaml`,
			fmt.Sprintf(`rendered %d objects`, len(want)),
			`pulumi config set --secret jwtSecret <value> --stack production`,
			`pulumi config set --secret --path redis.authToken <value> --stack production`,
		} {
			if !regexp.MustCompile(want).MatchString(stdout.String()) {
				t.Errorf("summary does not match %q:\n%s", want, stdout.String())
			}
		}
	})
	t.Run("stream to stdout", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := cliMain([]string{"render", "--stack", "staging", "--out", "-"}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		kube := 0
		for _, o := range renderStack(t, "staging").Objects {
			if !o.Cloud {
				kube++
			}
		}
		if n := strings.Count(stdout.String(), "\n---\n"); n != kube-1 {
			t.Errorf("%d document separators, want %d (Kubernetes objects only)", n, kube-1)
		}
		if strings.Contains(stdout.String(), "aws:elasticache") || !strings.HasPrefix(stdout.String(), "# 00-namespace-") {
			t.Errorf("the stream must hold only Kubernetes objects, Namespace first:\n%.300s", stdout.String())
		}
	})
	t.Run("invalid config writes nothing and lists every problem", func(t *testing.T) {
		// The stack file's own problems come first, every one of them; the
		// plan is not built from a config that fails them. Once they are
		// fixed, every problem of the components comes at once.
		for _, tt := range []struct {
			name, file string
			want       []string
		}{
			{"the stack file's", "config:\n  cirkelline:environment: production\n  cirkelline:services:\n    - name: api\n      image: api:latest\n      hpa: {minReplicas: 4, maxReplicas: 2}\n",
				[]string{"ingress.certificateArn", "networkPolicy.ingressCidrs"}},
			{"the components'", "config:\n  cirkelline:environment: production\n  cirkelline:ingress: {certificateArn: \"arn:aws:acm:eu-north-1:123456789012:certificate/abc\"}\n  cirkelline:networkPolicy: {ingressCidrs: [10.0.0.0/22]}\n  cirkelline:services:\n    - name: api\n      image: api:latest\n      hpa: {minReplicas: 4, maxReplicas: 2}\n",
				[]string{"services[0].image", "services[0].hpa.maxReplicas (2)", "ingress.routes[0].service"}},
		} {
			dir := t.TempDir()
			copyFile(t, "Pulumi.yaml", filepath.Join(dir, "Pulumi.yaml"))
			if err := os.WriteFile(filepath.Join(dir, "Pulumi.bad.yaml"), []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			var stdout, stderr bytes.Buffer
			code := cliMain([]string{"render", "--dir", dir, "--stack", "bad", "--out", out}, &stdout, &stderr)
			if code == 0 {
				t.Fatalf("%s problems: want a non-zero exit", tt.name)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("%s problems: stderr lacks %q:\n%s", tt.name, want, stderr.String())
				}
			}
			if want := fmt.Sprintf("%d problem(s) in config", len(tt.want)); !strings.Contains(stderr.String(), want) {
				t.Errorf("%s problems: stderr lacks %q:\n%s", tt.name, want, stderr.String())
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("nothing may be written for an invalid config")
			}
		}
	})
	t.Run("require secrets", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := cliMain([]string{"render", "--stack", "staging", "--out", t.TempDir(), "--require-secrets"}, &stdout, &stderr); code == 0 {
			t.Fatal("want a non-zero exit: the shipped stack files hold no secrets")
		}
		if !strings.Contains(stderr.String(), "pulumi config set --secret databaseUrl <value> --stack staging") {
			t.Errorf("stderr lacks the command to run:\n%s", stderr.String())
		}
	})
	t.Run("unknown stack", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := cliMain([]string{"render", "--stack", "qa"}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "stacks here: local, partypic, production, staging") {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	})
}

func cliMain(args []string, stdout, stderr *bytes.Buffer) int {
	return commands.Main(args, workloads.Program, stdout, stderr)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadtestExport(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := cliMain([]string{"loadtest", "export", "--stack", "partypic", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"options.json", "partypic.js", "pacing.js", "summary.js"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	want := "k6 run --config " + filepath.Join(out, "options.json") + " -e BASE_URL=http://partypic-server.party-pic.svc.cluster.local:3000 -e PHOTOS_PER_GUEST=3 -e SESSIONS=5 -e THINK_SECONDS=3 " + filepath.Join(out, "partypic.js")
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, stdout.String())
	}
	// The export carries the Job's tags: both come from loadtest.Tags.
	exported, err := os.ReadFile(filepath.Join(out, "options.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	for _, o := range renderStack(t, "partypic").Objects {
		if o.Kind == "ConfigMap" && o.Name == "loadtest-1" {
			mustDecode(t, o, &cm)
		}
	}
	if cm.Data["options.json"] != string(exported) {
		t.Errorf("export and Job differ:\nexport %s\njob    %s", exported, cm.Data["options.json"])
	}
	stderr.Reset()
	if code := cliMain([]string{"loadtest", "export", "--stack", "partypic"}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "--out are required") {
		t.Errorf("missing --out: exit %d, %s", code, stderr.String())
	}
}

// TestLoadTestJobs: every stack with a load test renders one Indexed Job of
// runners whose parallelism covers the shape's VUs, and one starter Job.
func TestLoadTestJobs(t *testing.T) {
	want := map[string]int32{"staging": 1, "partypic": 1, "local": 1}
	for _, stack := range shippedStacks(t) {
		var jobs []batchv1.Job
		for _, o := range renderStack(t, stack).Objects {
			if o.Kind == "Job" {
				var j batchv1.Job
				mustDecode(t, o, &j)
				jobs = append(jobs, j)
			}
		}
		n, wantJob := want[stack]
		if !wantJob {
			if len(jobs) != 0 {
				t.Errorf("%s: no load test configured, got %d Jobs", stack, len(jobs))
			}
			continue
		}
		names := map[string]batchv1.Job{}
		for _, j := range jobs {
			names[j.Name] = j
		}
		runners, starter := names["loadtest-1"], names["loadtest-1-starter"]
		if len(jobs) != 2 || runners.Spec.Parallelism == nil || *runners.Spec.Parallelism != n || *runners.Spec.BackoffLimit != 0 ||
			starter.Spec.BackoffLimit == nil || *starter.Spec.BackoffLimit != 0 {
			t.Errorf("%s: want runners loadtest-1 (parallelism %d) and loadtest-1-starter, got %d jobs", stack, n, len(jobs))
		}
	}
}

// TestRenderDiff: on two commits of a fixture copy of this project, an
// unchanged stack prints nothing and a changed replica range prints exactly
// the HPA hunk. The ref is rendered by its own code (built from git archive).
func TestRenderDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program at the base ref")
	}
	repo := fixtureRepo(t)
	diff := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := cliMain([]string{"render", "--dir", repo, "--stack", "staging", "--diff", "HEAD"}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		return stdout.String()
	}
	if d := diff(); d != "" {
		t.Fatalf("an unchanged stack must print nothing, got:\n%s", d)
	}
	stackFile := filepath.Join(repo, "Pulumi.staging.yaml")
	b, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "maxReplicas: 5", "maxReplicas: 20", 1)
	if changed == string(b) {
		t.Fatal("fixture: no maxReplicas: 5 in Pulumi.staging.yaml")
	}
	if err := os.WriteFile(stackFile, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	d := diff()
	// The HPA, and staging's Karpenter NodePool, whose limits follow the
	// worst case (the capacity plan).
	if n := strings.Count(d, "diff --git "); n != 2 || !strings.Contains(d, "horizontalpodautoscaler-cirkelline-staging-cirkelline-backend-hpa.yaml") ||
		!strings.Contains(d, "nodepool-cirkelline-staging.yaml") {
		t.Fatalf("want exactly the HPA and the NodePool files, got:\n%s", d)
	}
	var hpaDiff, poolDiff string
	for _, file := range strings.Split(d, "diff --git ")[1:] {
		if strings.Contains(file, "nodepool-cirkelline-staging.yaml") {
			poolDiff = file
		} else {
			hpaDiff = file
		}
	}
	var limits []string
	for _, line := range strings.Split(poolDiff, "\n") {
		if (strings.HasPrefix(line, "-") || strings.HasPrefix(line, "+")) && !strings.HasPrefix(line, "---") && !strings.HasPrefix(line, "+++") {
			limits = append(limits, strings.TrimSpace(line))
		}
	}
	// 20 pods of 100m/256Mi instead of 5: a second m6i.large-sized node
	// (with the load-test runner at the runner model's 100m, 8 still fit one).
	if strings.Join(limits, " ") != `-    cpu: "3" -    memory: 9Gi +    cpu: "5" +    memory: 17Gi` {
		t.Errorf("the NodePool diff is not its limits, 3 CPU / 9Gi to 5 / 17Gi:\n%s", poolDiff)
	}
	d = hpaDiff
	var changes []string
	hunks := 0
	for _, line := range strings.Split(d, "\n") {
		if strings.HasPrefix(line, "@@ ") {
			hunks++
		}
		if (strings.HasPrefix(line, "-") || strings.HasPrefix(line, "+")) && !strings.HasPrefix(line, "---") && !strings.HasPrefix(line, "+++") {
			changes = append(changes, line)
		}
	}
	if strings.Join(changes, "\n") != "-  maxReplicas: 5\n+  maxReplicas: 20" || hunks != 1 {
		t.Errorf("want exactly the maxReplicas hunk, got:\n%s", d)
	}
}

// fixtureRepo copies the files of this project (tracked, and new ones not
// ignored) as they are in the working tree into a new git
// repository with one commit.
func fixtureRepo(t *testing.T) string {
	t.Helper()
	files, err := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	repo := t.TempDir()
	for _, f := range strings.Fields(string(files)) {
		if strings.HasPrefix(f, "testdata/") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(repo, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "-A"},
		{"-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "fixture"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return repo
}

// TestRenderRefusesBadStackFiles: broken stack files, as a user writes them
// in YAML, fail `render` with one line naming the key, the value and the
// fix (workloads.TestLoadBadConfig covers every check through the config
// the engine hands the program; these go through the stack-file reader).
func TestRenderRefusesBadStackFiles(t *testing.T) {
	const base = "config:\n  cirkelline:environment: staging\n"
	for _, tt := range []struct {
		name, yaml string
		want       []string
	}{
		{"empty services", base + "  cirkelline:services:\n", []string{"services: is empty; fix: write a value (list), or remove the key to use the default"}},
		{"misspelt project prefix", base + "  cirkeline:networkPolicy:\n    enabled: false\n", []string{`cirkeline:networkPolicy: is in the namespace "cirkeline"`, `did you mean "cirkelline:networkPolicy"?`}},
		{"system namespace", base + "  cirkelline:namespace: kube-system\n", []string{`namespace ("kube-system"): is a namespace of the cluster itself`}},
		{"env shadows a secret", base + "  cirkelline:services:\n    - name: api\n      image: ghcr.io/cirkelline/api:1.0.0\n      env:\n        DATABASE_URL: postgres://plain\n  cirkelline:ingress:\n    routes: [{path: /, service: api}]\n",
			[]string{`services[0].env.DATABASE_URL: shadows the secret app.secretEnv.DATABASE_URL`}},
		{"ElastiCache settings with in-cluster Redis", base + "  cirkelline:services:\n    - name: api\n      image: ghcr.io/cirkelline/api:1.0.0\n      redis: true\n  cirkelline:ingress:\n    routes: [{path: /, service: api}]\n  cirkelline:redis:\n    mode: in-cluster\n    elasticache:\n      numCacheClusters: 3\n",
			[]string{`redis.elasticache.numCacheClusters: is ignored: redis.mode is "in-cluster"`}},
		{"wrong type, once", base + "  cirkelline:services:\n    - name: api\n      image: ghcr.io/cirkelline/api:1.0.0\n      hpa: {maxReplicas: lots}\n  cirkelline:ingress:\n    routes: [{path: /, service: api}]\n",
			[]string{`stack bad: 1 problem(s)`, `services[0].hpa.maxReplicas ("lots"): has the wrong type: want whole number`}},
		{"plain HTTP on an internet-facing ALB", base + "  cirkelline:networkPolicy:\n    ingressCidrs: [10.0.0.0/22]\n",
			[]string{`stack bad: 1 problem(s)`, `ingress.certificateArn: is not set on an internet-facing ALB`}},
		{"services open to every pod behind the ALB", base + "  cirkelline:ingress:\n    allowPlainHttp: true\n",
			[]string{`stack bad: 1 problem(s)`, `networkPolicy.ingressCidrs: is empty: the services' ports are open to every pod of the cluster`}},
		{"kubeconfig in plain text, not quoted", base + "  cirkelline:ingress:\n    enabled: false\n  cirkelline:cluster:\n    kubeconfig: |\n      apiVersion: v1\n      kind: Config\n      clusters: [{name: eks}]\n      users: [{name: ci, user: {token: tok-9f8e7d}}]\n      contexts: [{name: eks}]\n",
			[]string{`cluster.kubeconfig: is stored in plain text in Pulumi.bad.yaml`, `pulumi config set --secret --path cluster.kubeconfig`}},
		{"the worst case does not fit the node group", base + "  cirkelline:ingress:\n    enabled: false\n  cirkelline:cluster:\n    capacity:\n      nodes: 2\n      node: {cpu: 2, memory: 8Gi}\n",
			[]string{`cluster.capacity.nodes (2): the worst case needs 3 nodes`, `lower services[0].hpa.maxReplicas (20)`}},
		{"liveness on the readiness path", base + "  cirkelline:ingress:\n    enabled: false\n  cirkelline:services:\n    - name: api\n      image: ghcr.io/cirkelline/api:1.0.0\n      probe: {path: /health, livenessPath: /health}\n",
			[]string{`services[0].probe.livenessPath ("/health")`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, "Pulumi.yaml", filepath.Join(dir, "Pulumi.yaml"))
			if err := os.WriteFile(filepath.Join(dir, "Pulumi.bad.yaml"), []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := cliMain([]string{"render", "--dir", dir, "--stack", "bad", "--out", filepath.Join(dir, "out")}, &stdout, &stderr); code == 0 {
				t.Fatalf("want a non-zero exit, got:\n%s", stdout.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "tok-9f8e7d") {
				t.Errorf("a credential of the stack file is printed:\n%s", stderr.String())
			}
		})
	}
}

// podTemplate is the pod spec and labels of a Deployment or Job.
func podTemplate(t testing.TB, o mockrun.Object) (corev1.PodTemplateSpec, bool) {
	switch o.Kind {
	case "Deployment":
		var d appsv1.Deployment
		mustDecode(t, o, &d)
		return d.Spec.Template, true
	case "Job":
		var j batchv1.Job
		mustDecode(t, o, &j)
		return j.Spec.Template, true
	}
	return corev1.PodTemplateSpec{}, false
}

// escalationFindings is the one rule of the old hand-written policy check
// that kube-score (TestKubeScore) does not have: its security checks look
// at privileged, runAsUser/runAsGroup and readOnlyRootFilesystem
// (score/security/security.go), not at privilege escalation, non-root or
// capabilities. Every container of every Deployment and Job must set
// allowPrivilegeEscalation false, run as non-root (its own or the pod's
// runAsNonRoot) and drop ALL capabilities.
func escalationFindings(t testing.TB, objs []mockrun.Object) []string {
	var out []string
	for _, o := range objs {
		p, ok := podTemplate(t, o)
		if !ok {
			continue
		}
		podNonRoot := p.Spec.SecurityContext != nil && p.Spec.SecurityContext.RunAsNonRoot != nil && *p.Spec.SecurityContext.RunAsNonRoot
		for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				out = append(out, o.File+" "+c.Name+": no security context")
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				out = append(out, o.File+" "+c.Name+": allows privilege escalation")
			case !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot):
				out = append(out, o.File+" "+c.Name+": may run as root")
			case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
				out = append(out, o.File+" "+c.Name+": does not drop ALL capabilities")
			}
		}
	}
	return out
}

// TestContainersCannotEscalate: no container of any shipped stack can gain
// privileges, and the rule finds one that could.
func TestContainersCannotEscalate(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		if got := escalationFindings(t, renderStack(t, stack).Objects); len(got) > 0 {
			t.Errorf("%s:\n  %s", stack, strings.Join(got, "\n  "))
		}
	}
	yes := true
	for name, mutate := range map[string]func(c *corev1.Container){
		"allows privilege escalation":    func(c *corev1.Container) { c.SecurityContext.AllowPrivilegeEscalation = &yes },
		"does not drop ALL capabilities": func(c *corev1.Container) { c.SecurityContext.Capabilities.Drop = nil },
		"no security context":            func(c *corev1.Container) { c.SecurityContext = nil },
	} {
		got := escalationFindings(t, backendContainer(t, mutate)(renderStack(t, "production").Objects))
		if want := "11-deployment-cirkelline-cirkelline-backend.yaml app: " + name; !slices.Equal(got, []string{want}) {
			t.Errorf("findings %q, want %q", got, want)
		}
	}
}

// TestRenderWritesDashboards: with monitoring on, render writes the
// dashboard JSON from the rendered ConfigMap next to the manifests (for a
// manual import) and names it in the summary; a stack without monitoring
// writes none and leaves no stale one behind.
func TestRenderWritesDashboards(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := render.Run(render.Options{Dir: ".", Stack: "staging", Out: out, Stdout: &stdout, Stderr: io.Discard}, workloads.Program); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(out, render.DashboardsDir, "staging-scaling.json")
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no dashboard written: %v\n%s", err, stdout.String())
	}
	var cm corev1.ConfigMap
	body, err := os.ReadFile(filepath.Join(out, "07-configmap-cirkelline-staging-cirkelline-staging-dashboard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(body, &cm); err != nil {
		t.Fatal(err)
	}
	if string(got) != cm.Data["staging-scaling.json"] || !json.Valid(got) {
		t.Errorf("the written dashboard is not the ConfigMap's JSON")
	}
	if !strings.Contains(stdout.String(), file) {
		t.Errorf("the summary does not name %s:\n%s", file, stdout.String())
	}
	if err := render.Run(render.Options{Dir: ".", Stack: "local", Out: out, Stdout: io.Discard, Stderr: io.Discard}, workloads.Program); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(out, render.DashboardsDir, "*.json")); len(left) != 0 {
		t.Errorf("a stack without monitoring left dashboards behind: %v", left)
	}
}

// TestRenderStreamIsOnlyManifests: `render --out -` prints nothing but the
// manifests (the capacity plan and warnings stay out of the stream), so it
// can be piped to kubectl; the plan is printed with files output.
func TestRenderStreamIsOnlyManifests(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cliMain([]string{"render", "--stack", "production", "--out", "-"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for i, doc := range strings.Split(stdout.String(), "\n---\n") {
		var obj struct {
			Kind string `json:"kind"`
		}
		if err := yaml.UnmarshalStrict([]byte(doc), &map[string]any{}); err != nil || yaml.Unmarshal([]byte(doc), &obj) != nil || obj.Kind == "" {
			t.Fatalf("document %d of the stream is not a manifest (%v):\n%s", i, err, doc)
		}
	}
	stdout.Reset()
	if code := cliMain([]string{"render", "--stack", "production", "--out", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "capacity plan (worst case") || !strings.Contains(stdout.String(), "pool: 6 nodes (cluster.capacity.nodes): fits") {
		t.Errorf("render does not print production's capacity plan:\n%s", stdout.String())
	}
}

// TestRenderedRulesPassPromtool: every shipped stack's rendered
// PrometheusRule, as a Prometheus rule file, passes `promtool check rules`
// (expressions and annotation templates), and staging and production have
// one. promtool is Debian's prometheus package (.ci/install-promtool.sh);
// without it the test skips, except in CI.
func TestRenderedRulesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is not installed; CI must run .ci/install-promtool.sh first")
		}
		t.Skip("promtool not on PATH (apt-get install prometheus)")
	}
	for _, stack := range shippedStacks(t) {
		rules := 0
		for _, o := range renderStack(t, stack).Objects {
			if o.Kind != "PrometheusRule" {
				continue
			}
			rules++
			var pr monv1.PrometheusRule
			mustDecode(t, o, &pr)
			file := filepath.Join(t.TempDir(), "rules.yaml")
			body, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, body, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
				t.Errorf("%s/%s: promtool check rules: %v\n%s", stack, o.File, err, out)
			}
		}
		if want := stack == "staging" || stack == "production"; want != (rules == 1) {
			t.Errorf("%s renders %d PrometheusRules", stack, rules)
		}
	}
}

// TestNamespaceAtItsLimit: each shipped stack with the longest namespace
// its derived names leave room for renders objects whose names and label
// values the API server accepts (k8s.io/apimachinery's own validation);
// one character more is refused at load, as a problem of namespace.
func TestNamespaceAtItsLimit(t *testing.T) {
	// 57 with the in-cluster Redis (<namespace>-redis, a Service), 54 with
	// the headroom (<namespace>-headroom); label values made from it are
	// shortened to fit (components.LabelValue).
	limits := map[string]int{"local": 57, "staging": 63, "production": 54, "partypic": 54}
	stackFiles, _ := filepath.Glob("Pulumi.*.yaml")
	if len(stackFiles) != len(limits) {
		t.Fatalf("stack files %v: give each its namespace limit here", stackFiles)
	}
	nsLine := regexp.MustCompile(`(?m)^  cirkelline:namespace: .*$`)
	for stack, limit := range limits {
		t.Run(stack, func(t *testing.T) {
			for _, n := range []int{limit, limit + 1} {
				dir := t.TempDir()
				copyFile(t, "Pulumi.yaml", filepath.Join(dir, "Pulumi.yaml"))
				b, err := os.ReadFile("Pulumi." + stack + ".yaml")
				if err != nil {
					t.Fatal(err)
				}
				ns := strings.Repeat("n", n)
				b = nsLine.ReplaceAll(b, []byte("  cirkelline:namespace: "+ns))
				if !bytes.Contains(b, []byte(ns)) {
					b = bytes.Replace(b, []byte("config:\n"), []byte("config:\n  cirkelline:namespace: "+ns+"\n"), 1)
				}
				if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), b, 0o644); err != nil {
					t.Fatal(err)
				}
				res, err := render.Stack(render.Options{Dir: dir, Stack: stack}, workloads.Program)
				if n > limit {
					if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("namespace (%q): is %d characters long; at most %d fit", ns, n, limit)) {
						t.Errorf("namespace of %d characters: want it refused at namespace, got %v", n, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("namespace of %d characters: %v", n, err)
				}
				for _, o := range res.Objects {
					if o.Cloud {
						continue
					}
					var meta struct {
						Metadata struct {
							Name   string            `json:"name"`
							Labels map[string]string `json:"labels"`
						} `json:"metadata"`
					}
					if err := yaml.Unmarshal(o.Body, &meta); err != nil {
						t.Fatal(err)
					}
					if errs := validation.IsDNS1123Subdomain(meta.Metadata.Name); len(errs) > 0 {
						t.Errorf("%s %s: name %v", o.Kind, o.Name, errs)
					}
					if o.Kind == "Service" {
						if errs := validation.IsDNS1035Label(meta.Metadata.Name); len(errs) > 0 {
							t.Errorf("Service %s: name %v", o.Name, errs)
						}
					}
					for k, v := range meta.Metadata.Labels {
						if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
							t.Errorf("%s %s: label %s=%q: %v", o.Kind, o.Name, k, v, errs)
						}
					}
				}
			}
		})
	}
}
