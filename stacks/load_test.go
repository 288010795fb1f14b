package stacks_test

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/stacks/stacktest"
)

const project = "cirkelline"

// TestLoadBase: the production stack's service, loaded, is the stack
// file's values on the seed's defaults, written out
// (stacktest.ProductionService): a wrong default fails here.
func TestLoadBase(t *testing.T) {
	cfg, err := stacks.Load(stacktest.ProductionSource(), project, "production")
	if err != nil {
		t.Fatalf("base config must load: %v", err)
	}
	want := stacktest.ProductionService()
	if diff := cmp.Diff(want, cfg.Services[0]); diff != "" {
		t.Errorf("the loaded service (-want +got):\n%s", diff)
	}
	names := []string{cfg.ServiceAccount.Name, cfg.App.ConfigMapName, cfg.App.SecretName, cfg.Ingress.Name, cfg.Redis.ElastiCache.Name}
	if diff := cmp.Diff([]string{"cirkelline", "cirkelline-config", "cirkelline-secrets", "cirkelline", "cirkelline-production"}, names); diff != "" {
		t.Errorf("names derived from the namespace and the stack (-want +got):\n%s", diff)
	}
	if got := fmt.Sprint(cfg.Secrets["DATABASE_URL"]); got != "[secret]" {
		t.Errorf("a secret must print as [secret], printed %q", got)
	}
}

func TestOfflineSecrets(t *testing.T) {
	src := stacktest.ProductionSource()
	delete(src.Values, "cirkelline:jwtSecret")
	var missing []string
	cfg, err := stacks.Load(src, project, "production", stacks.OfflineSecrets(&missing))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(missing, []string{"cirkelline:jwtSecret"}) {
		t.Errorf("missing = %v", missing)
	}
	if _, ok := cfg.Secrets["JWT_SECRET_KEY"]; !ok {
		t.Error("a placeholder must stand in for the missing secret")
	}
}

func TestSecretEnvCanBeRenamedAndDropped(t *testing.T) {
	src := stacktest.ProductionSource()
	src.Values["cirkelline:app"] = `{"secretEnv":{"JWT_SECRET_KEY":"","OPENAI_API_KEY":"openaiKey"}}`
	src.Values["cirkelline:openaiKey"] = "sk-test"
	src.Secrets = append(src.Secrets, "cirkelline:openaiKey")
	cfg, err := stacks.Load(src, project, "production")
	if err == nil {
		t.Fatal("jwtSecret is no longer named in app.secretEnv, so it must be rejected as an unknown key")
	}
	delete(src.Values, "cirkelline:jwtSecret")
	if cfg, err = stacks.Load(src, project, "production"); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Secrets) != 2 || cfg.Secrets["OPENAI_API_KEY"] == (stacks.Secret{}) {
		t.Errorf("secrets = %v", cfg.Secrets)
	}
}

// TestProjectDefaultsMatchGo: a stack file that sets nothing (but the one
// key every stack must) loads, through Pulumi.yaml's declared defaults
// (TestProjectSchema writes them from stacks.Defaults), to the same config
// as without them.
func TestProjectDefaultsMatchGo(t *testing.T) {
	sc, err := stackfile.LoadStackConfig("..", "staging")
	if err != nil {
		t.Fatal(err)
	}
	// Keep only what Pulumi.yaml supplies: drop every key the stack file sets.
	// The default ALB is internet-facing without a certificate, which a
	// stack must accept explicitly: the one key both sides set.
	const plainHTTP = `{"allowPlainHttp":true}`
	onlyDefaults := stacks.MapSource{Values: map[string]string{
		"cirkelline:databaseUrl": "x", "cirkelline:jwtSecret": "y",
	}, Secrets: []string{"cirkelline:databaseUrl", "cirkelline:jwtSecret"}}
	fromProject, err := stackfile.ProjectDefaults("..")
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(onlyDefaults.Values, fromProject)
	onlyDefaults.Values["cirkelline:ingress"] = plainHTTP
	got, err := stacks.Load(onlyDefaults, sc.Project, "dev")
	if err != nil {
		t.Fatal(err)
	}
	want, err := stacks.Load(stacks.MapSource{Values: map[string]string{
		"cirkelline:databaseUrl": "x", "cirkelline:jwtSecret": "y", "cirkelline:ingress": plainHTTP,
	}, Secrets: onlyDefaults.Secrets}, sc.Project, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pulumi.yaml defaults and stacks.Defaults differ:\n yaml %+v\n go   %+v", got, want)
	}
	declared := map[string]bool{}
	for k := range fromProject {
		declared[strings.TrimPrefix(k, "cirkelline:")] = true
	}
	for _, key := range stacks.Keys() {
		if !declared[key] {
			t.Errorf("config key %q is not declared with a default in Pulumi.yaml", key)
		}
	}
}

// TestLoadTestCredentialsAreKnownKeys: the default credential keys of the
// cirkelline flow are accepted config keys, not typos.
func TestLoadTestCredentialsAreKnownKeys(t *testing.T) {
	src := stacktest.ProductionSource()
	src.Values["cirkelline:environment"] = "staging"
	src.Values["cirkelline:loadtest"] = `{"enabled":true,"shape":"load"}`
	src.Values["cirkelline:loadtestEmail"] = "test@example.com"
	src.Values["cirkelline:loadtestPassword"] = "password"
	src.Secrets = append(src.Secrets, "cirkelline:loadtestEmail", "cirkelline:loadtestPassword")
	cfg, err := stacks.Load(src, project, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.LoadTestSecrets) != 2 {
		t.Errorf("load test secrets %v", cfg.LoadTestSecrets)
	}
}

// TestMisspeltProjectPrefix: a namespace two edits from the project's is a
// typo; other namespaces, and near ones of a short project name, are not.
func TestMisspeltProjectPrefix(t *testing.T) {
	for _, tt := range []struct {
		project, key string
		refused      bool
	}{
		{"cirkelline", "cirkeline:networkPolicy", true},
		{"cirkelline", "cirkelin:namespace", true},
		{"cirkelline", "kubernetes:context", false},
		{"app", "aws:region", false},
	} {
		src := stacktest.ProductionSource()
		src.Values = maps.Clone(src.Values)
		src.Values[tt.key] = "x"
		if tt.project != "cirkelline" {
			src = stacks.MapSource{Values: map[string]string{tt.key: "x"}}
		}
		_, err := stacks.Load(src, tt.project, "production")
		if refused := err != nil && strings.Contains(err.Error(), "which is not this project's"); refused != tt.refused {
			t.Errorf("%s in project %s: refused %v, want %v (%v)", tt.key, tt.project, refused, tt.refused, err)
		}
	}
}

// TestCapacityReportPerShape: render's capacity report prints a verdict
// only for the shape the capacity check judges (million-users), naming
// it, and says for every other shape that none was made (issue 21: it
// printed "HPA max 5 (NOT ENOUGH)" for every shape).
func TestCapacityReportPerShape(t *testing.T) {
	sc, err := stackfile.LoadStackConfig("..", "staging")
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range []string{"smoke", "load", "stress", "spike", "million-users", "normal-event", "peak-event"} {
		t.Run(shape, func(t *testing.T) {
			values := maps.Clone(sc.Values)
			// Staging's HPA stops at 5 pods: million-users runs only with
			// the check overridden.
			values["cirkelline:loadtest"] = `{"enabled":true,"shape":"` + shape + `","allowCapacityOverride":true}`
			var missing []string
			cfg, err := stacks.Load(stacks.MapSource{Values: values, Secrets: sc.SecretKeys}, sc.Project, sc.Stack, stacks.OfflineSecrets(&missing))
			if err != nil {
				t.Fatal(err)
			}
			report := cfg.CapacityReport()
			judged := shape == "million-users"
			for _, verdict := range []string{"NOT ENOUGH", "(ok", "HPA max"} {
				if strings.Contains(report, verdict) != (judged && verdict != "(ok") {
					t.Errorf("verdict %q printed: %v, want it only in million-users' (NOT ENOUGH) report:\n%s", verdict, !judged, report)
				}
			}
			if judged && !strings.Contains(report, "cirkelline-backend HPA max  5 (NOT ENOUGH for million-users (14 pods needed))") {
				t.Errorf("the verdict must name the shape it judged:\n%s", report)
			}
			if want := "capacity check: no verdict for " + shape + " "; !judged && !strings.Contains(report, want) {
				t.Errorf("want %q in:\n%s", want, report)
			}
			if want := "load test (" + shape + ") at its peak: "; !strings.Contains(report, want) {
				t.Errorf("want %q in:\n%s", want, report)
			}
		})
	}
}

// TestCapacityReportScaleUp: a judged shape's report says how fast the
// HPA's policies reach the pods it needs (components.ScaleUpTime):
// production's 3–50 HPA goes 3 → 7 → 14 in two looks, 15 s apart.
func TestCapacityReportScaleUp(t *testing.T) {
	sc, err := stackfile.LoadStackConfig("..", "production")
	if err != nil {
		t.Fatal(err)
	}
	values := maps.Clone(sc.Values)
	values["cirkelline:loadtest"] = `{"enabled":true,"allowProduction":true,"shape":"million-users"}`
	var missing []string
	cfg, err := stacks.Load(stacks.MapSource{Values: values, Secrets: sc.SecretKeys}, sc.Project, sc.Stack, stacks.OfflineSecrets(&missing))
	if err != nil {
		t.Fatal(err)
	}
	report := cfg.CapacityReport()
	for _, want := range []string{
		"cirkelline-backend HPA max  50 (ok for million-users (14 pods needed))",
		"scale-up: the HPA's policies reach 14 pods from minReplicas 3 in 15s (plus the pods' start-up)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("want %q in:\n%s", want, report)
		}
	}
}
