package monitoring_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"github.com/cirkelline/infra/monitoring"
)

// ruleFile is the PrometheusRule's groups as a Prometheus rule file: what
// prometheus-operator hands Prometheus.
func ruleFile(t *testing.T, dir string, spec monv1.PrometheusRuleSpec, annotations bool) string {
	t.Helper()
	if !annotations {
		// promtool test rules compares annotations too; the templates are
		// checked by promtool check rules, the expressions here.
		groups := slices.Clone(spec.Groups)
		for i := range groups {
			groups[i].Rules = slices.Clone(groups[i].Rules)
			for j := range groups[i].Rules {
				groups[i].Rules[j].Annotations = nil
			}
		}
		spec.Groups = groups
	}
	path := filepath.Join(dir, "rules.yaml")
	writeYAML(t, path, spec)
	return path
}

func TestPrometheusRuleCheck(t *testing.T) {
	rule, err := monitoring.PrometheusRule(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	if rule.Name != "staging-alerts" || rule.Namespace != ns || rule.Labels["release"] != "kube-prometheus-stack" || rule.Kind != "PrometheusRule" {
		t.Errorf("metadata %+v %+v", rule.TypeMeta, rule.ObjectMeta)
	}
	var names []string
	for _, r := range rule.Spec.Groups[0].Rules {
		names = append(names, r.Alert)
		for _, k := range []string{"summary", "description", "runbook"} {
			if r.Annotations[k] == "" {
				t.Errorf("%s: no %s annotation", r.Alert, k)
			}
		}
		if !strings.HasPrefix(r.Annotations["runbook"], "kubectl ") || !strings.Contains(r.Annotations["runbook"], "-n "+ns) {
			t.Errorf("%s: runbook %q must start with the kubectl command, in the stack's namespace", r.Alert, r.Annotations["runbook"])
		}
	}
	slices.Sort(names)
	if want := sortedAlerts(); !slices.Equal(names, want) {
		t.Errorf("alerts %v, want %v", names, want)
	}
	dir := t.TempDir()
	out := promtool(t, dir, "check", "rules", ruleFile(t, dir, rule.Spec, true))
	if !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", len(names))) {
		t.Errorf("promtool check rules:\n%s", out)
	}
}

func sortedAlerts() []string {
	a := []string{monitoring.AlertHPAAtMaxReplicas, monitoring.AlertHPADesiredAboveCurrent, monitoring.AlertPodRestarting,
		monitoring.AlertHighErrorRatio, monitoring.AlertLatencyP95High, monitoring.AlertRedisFallbackActive, monitoring.AlertRateLimitingHigh}
	slices.Sort(a)
	return a
}

// series is one input series of a promtool unit test.
type series struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type expAlert struct {
	ExpLabels map[string]string `json:"exp_labels"`
}

type alertTest struct {
	EvalTime  string     `json:"eval_time"`
	Alertname string     `json:"alertname"`
	ExpAlerts []expAlert `json:"exp_alerts"`
}

type unitTest struct {
	Name          string      `json:"name"`
	Interval      string      `json:"interval"`
	InputSeries   []series    `json:"input_series"`
	AlertRuleTest []alertTest `json:"alert_rule_test"`
}

func s(metric string, labels map[string]string, values string) series {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return series{Series: metric + "{" + strings.Join(parts, ",") + "}", Values: values}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestPrometheusRuleUnitTests runs promtool test rules with, per alert,
// series that fire it and series that must not (a value just on the
// right side of the threshold, too short a time, another namespace or an
// HPA of another stack).
func TestPrometheusRuleUnitTests(t *testing.T) {
	rule, err := monitoring.PrometheusRule(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	hpa := map[string]string{"namespace": ns, "horizontalpodautoscaler": "cirkelline-backend-hpa"}
	otherHPA := with(hpa, "horizontalpodautoscaler", "someone-elses-hpa")
	svc := map[string]string{"namespace": ns, "service": "cirkelline-backend", "job": "cirkelline-backend", "pod": "cirkelline-backend-7d9f-abcde"}
	svcAlert := map[string]string{"namespace": ns, "service": "cirkelline-backend"}
	otherNS := with(svc, "namespace", "another-stack")
	warn := func(labels map[string]string) []expAlert {
		return []expAlert{{ExpLabels: with(labels, "severity", "warning")}}
	}
	crit := func(labels map[string]string) []expAlert {
		return []expAlert{{ExpLabels: with(labels, "severity", "critical")}}
	}
	const (
		cur  = "kube_horizontalpodautoscaler_status_current_replicas"
		des  = "kube_horizontalpodautoscaler_status_desired_replicas"
		hmax = "kube_horizontalpodautoscaler_spec_max_replicas"
	)
	bucket := func(labels map[string]string, le, values string) series {
		return s("http_request_duration_seconds_bucket", with(labels, "le", le), values)
	}
	tests := []unitTest{
		{Name: "HPA at max for 10 minutes fires; below max, or someone else's HPA, does not", InputSeries: []series{
			s(cur, hpa, "10x20"), s(hmax, hpa, "10x20"),
			s(cur, otherHPA, "10x20"), s(hmax, otherHPA, "10x20"),
		}, AlertRuleTest: []alertTest{
			{EvalTime: "9m", Alertname: monitoring.AlertHPAAtMaxReplicas},
			{EvalTime: "12m", Alertname: monitoring.AlertHPAAtMaxReplicas, ExpAlerts: warn(hpa)},
		}},
		{Name: "HPA at max for 9 minutes does not fire", InputSeries: []series{
			s(cur, hpa, "10x8 9x12"), s(hmax, hpa, "10x20"),
		}, AlertRuleTest: []alertTest{{EvalTime: "15m", Alertname: monitoring.AlertHPAAtMaxReplicas}}},
		{Name: "desired above current for 5 minutes fires", InputSeries: []series{
			s(des, hpa, "6x10"), s(cur, hpa, "3x10"),
		}, AlertRuleTest: []alertTest{
			{EvalTime: "4m", Alertname: monitoring.AlertHPADesiredAboveCurrent},
			{EvalTime: "6m", Alertname: monitoring.AlertHPADesiredAboveCurrent, ExpAlerts: warn(hpa)},
		}},
		{Name: "desired above current for 3 minutes, then caught up, does not fire", InputSeries: []series{
			s(des, hpa, "6x10"), s(cur, hpa, "3 3 3 6x7"),
		}, AlertRuleTest: []alertTest{{EvalTime: "8m", Alertname: monitoring.AlertHPADesiredAboveCurrent}}},
		{Name: "a restart a minute fires", InputSeries: []series{
			s("kube_pod_container_status_restarts_total", map[string]string{"namespace": ns, "pod": "cirkelline-backend-7d9f-abcde", "container": "app"}, "0+1x20"),
		}, AlertRuleTest: []alertTest{{EvalTime: "16m", Alertname: monitoring.AlertPodRestarting,
			ExpAlerts: warn(map[string]string{"namespace": ns, "pod": "cirkelline-backend-7d9f-abcde", "container": "app"})}}},
		{Name: "two restarts in 15 minutes do not fire", InputSeries: []series{
			s("kube_pod_container_status_restarts_total", map[string]string{"namespace": ns, "pod": "client-5c4b-xyz12", "container": "app"}, "0 0 1 1 2x17"),
		}, AlertRuleTest: []alertTest{{EvalTime: "16m", Alertname: monitoring.AlertPodRestarting}}},
		{Name: "9 % server errors fire; 1 %, or another namespace, do not", InputSeries: []series{
			s("http_requests_total", with(svc, "status", "2xx"), "0+600x20"),
			s("http_requests_total", with(svc, "status", "5xx"), "0+60x20"),
			s("http_requests_total", with(svc, "service", "client", "status", "200"), "0+600x20"),
			s("http_requests_total", with(svc, "service", "client", "status", "503"), "0+6x20"),
			s("http_requests_total", with(otherNS, "status", "2xx"), "0+600x20"),
			s("http_requests_total", with(otherNS, "status", "5xx"), "0+600x20"),
		}, AlertRuleTest: []alertTest{
			{EvalTime: "4m", Alertname: monitoring.AlertHighErrorRatio},
			{EvalTime: "12m", Alertname: monitoring.AlertHighErrorRatio, ExpAlerts: crit(svcAlert)},
		}},
		{Name: "p95 above the threshold for 10 minutes fires; fast requests do not", InputSeries: []series{
			// Every request between 1 s and 2.5 s: p95 interpolates to 2.425 s.
			bucket(svc, "0.5", "0x30"), bucket(svc, "1", "0x30"), bucket(svc, "2.5", "0+60x30"), bucket(svc, "+Inf", "0+60x30"),
			bucket(with(svc, "service", "client"), "0.5", "0+60x30"), bucket(with(svc, "service", "client"), "+Inf", "0+60x30"),
		}, AlertRuleTest: []alertTest{
			{EvalTime: "8m", Alertname: monitoring.AlertLatencyP95High},
			{EvalTime: "17m", Alertname: monitoring.AlertLatencyP95High, ExpAlerts: warn(svcAlert)},
		}},
		{Name: "p95 just under the threshold does not fire", InputSeries: []series{
			// 90 % under 1 s, the rest under 2.5 s: p95 = 1.75 s.
			bucket(svc, "1", "0+54x30"), bucket(svc, "2.5", "0+60x30"), bucket(svc, "+Inf", "0+60x30"),
		}, AlertRuleTest: []alertTest{{EvalTime: "20m", Alertname: monitoring.AlertLatencyP95High}}},
		{Name: "fallback for 2 minutes fires; a blip does not", InputSeries: []series{
			s("cache_fallback_active", svc, "1x10"),
			s("cache_fallback_active", with(svc, "service", "client", "pod", "client-5c4b-xyz12"), "1 0x9"),
		}, AlertRuleTest: []alertTest{
			{EvalTime: "1m", Alertname: monitoring.AlertRedisFallbackActive},
			{EvalTime: "3m", Alertname: monitoring.AlertRedisFallbackActive, ExpAlerts: warn(svcAlert)},
		}},
		{Name: "a sixth of requests limited fires; 2 % does not", InputSeries: []series{
			s("cache_ratelimit_requests_total", with(svc, "limiter", "login", "result", "allowed"), "0+300x30"),
			s("cache_ratelimit_requests_total", with(svc, "limiter", "login", "result", "limited"), "0+60x30"),
			s("cache_ratelimit_requests_total", with(svc, "limiter", "api", "result", "allowed"), "0+300x30"),
			s("cache_ratelimit_requests_total", with(svc, "limiter", "api", "result", "limited"), "0+6x30"),
		}, AlertRuleTest: []alertTest{
			{EvalTime: "8m", Alertname: monitoring.AlertRateLimitingHigh},
			{EvalTime: "17m", Alertname: monitoring.AlertRateLimitingHigh, ExpAlerts: warn(with(svcAlert, "limiter", "login"))},
		}},
	}
	// Every alert has a case that fires it and one that must not.
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests {
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			} else {
				quiet[at.Alertname] = true
			}
		}
	}
	for _, name := range sortedAlerts() {
		if !fires[name] || !quiet[name] {
			t.Errorf("%s: needs a case that fires it (%v) and one that must not (%v)", name, fires[name], quiet[name])
		}
	}
	for i := range tests {
		tests[i].Interval = "1m"
	}
	dir := t.TempDir()
	ruleFile(t, dir, rule.Spec, false)
	writeYAML(t, filepath.Join(dir, "tests.yaml"), map[string]any{
		"rule_files":          []string{"rules.yaml"},
		"evaluation_interval": "1m",
		"tests":               tests,
	})
	out := promtool(t, dir, "test", "rules", "tests.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}

// TestRunbookSelectsTheServicesPods: the logs command selects all of a
// service's pods by the label that carries its name, or falls back to
// its Deployment when the pods carry no such label.
func TestRunbookSelectsTheServicesPods(t *testing.T) {
	runbook := func(a monitoring.Args) string {
		rule, err := monitoring.PrometheusRule(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rule.Spec.Groups[0].Rules {
			if r.Alert == monitoring.AlertHighErrorRatio {
				return r.Annotations["runbook"]
			}
		}
		t.Fatal("no HighErrorRatio")
		return ""
	}
	if got, want := runbook(baseArgs()), "kubectl logs -n "+ns+" -l app.kubernetes.io/name={{ $labels.service }} --since=10m --prefix"; got != want {
		t.Errorf("runbook %q, want %q", got, want)
	}
	a := baseArgs()
	a.Services[1].PodSelector = map[string]string{"app": "web"}
	if got, want := runbook(a), "kubectl logs -n "+ns+" deploy/{{ $labels.service }} --since=10m --prefix"; got != want {
		t.Errorf("runbook %q, want %q", got, want)
	}
}
