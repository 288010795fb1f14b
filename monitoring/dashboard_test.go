package monitoring_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/cirkelline/infra/monitoring"
)

// decodeDashboard reads the JSON back into the foundation SDK's types,
// with only the panel and query kinds the dashboard uses registered.
func decodeDashboard(t *testing.T, raw []byte) dashboard.Dashboard {
	t.Helper()
	rt := cog.NewRuntime()
	rt.RegisterPanelcfgVariant(timeseries.VariantConfig())
	rt.RegisterDataqueryVariant(prometheus.VariantConfig())
	var d dashboard.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("the dashboard does not decode into the SDK's types: %v", err)
	}
	return d
}

// TestDashboardRoundTrips: the JSON decodes into the SDK's types and
// encodes back to the same JSON, its panels are DashboardPanels in order
// (rows between), every query is a typed Prometheus query, and the run
// selector lists the stack's runs.
func TestDashboardRoundTrips(t *testing.T) {
	a := baseArgs()
	raw, err := monitoring.Dashboard(a)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeDashboard(t, raw)
	again, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var first, second any
	if err := json.Unmarshal(raw, &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &second); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("the dashboard changes through the SDK's types:\nbefore %s\nafter  %s", raw, again)
	}
	if d.Uid == nil || *d.Uid != "cirkelline-staging" {
		t.Errorf("uid %v", d.Uid)
	}

	panels, err := monitoring.DashboardPanels(a)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	row := ""
	for _, p := range panels {
		if p.Row != row {
			row = p.Row
			want = append(want, "row "+row)
		}
		want = append(want, fmt.Sprintf("%s [%s]", p.Title, p.Unit))
		for _, q := range p.Queries {
			want = append(want, "  "+q.Expr+" | "+q.Legend)
		}
	}
	for _, p := range d.Panels {
		if p.RowPanel != nil {
			got = append(got, "row "+*p.RowPanel.Title)
			continue
		}
		got = append(got, fmt.Sprintf("%s [%s]", *p.Panel.Title, *p.Panel.FieldConfig.Defaults.Unit))
		if p.Panel.Type != "timeseries" {
			t.Errorf("%s: type %q", *p.Panel.Title, p.Panel.Type)
		}
		for _, target := range p.Panel.Targets {
			q, ok := target.(*prometheus.Dataquery)
			if !ok {
				t.Fatalf("%s: query %T, want a Prometheus query", *p.Panel.Title, target)
			}
			got = append(got, "  "+q.Expr+" | "+*q.LegendFormat)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("panels:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	vars := map[string]string{}
	for _, v := range d.Templating.List {
		q := ""
		if v.Query != nil && v.Query.String != nil {
			q = *v.Query.String
		}
		vars[v.Name] = string(v.Type) + " " + q
	}
	wantVars := map[string]string{"datasource": "datasource prometheus", "run": `query label_values(k6_vus{stack="staging"}, run)`}
	if !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("variables %v, want %v", vars, wantVars)
	}
}

// TestDashboardPanels: the panels a team reads during a
// load test, and nothing else, in this order.
func TestDashboardPanels(t *testing.T) {
	panels, err := monitoring.DashboardPanels(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range panels {
		got = append(got, p.Row+": "+p.Title)
	}
	want := []string{
		"Scaling: Replicas per HPA", "Scaling: CPU utilisation vs HPA target", "Scaling: Memory utilisation vs HPA target",
		"Traffic: Request rate", "Traffic: Error ratio (5xx)", "Traffic: Latency percentiles",
		"Cache: Cache hit ratio", "Cache: Redis fallback", "Cache: Rate limiting",
		"Load test (k6): k6 virtual users", "Load test (k6): k6 request rate", "Load test (k6): k6 p95 duration vs threshold", "Load test (k6): k6 failed requests",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("panels:\n%s", strings.Join(got, "\n"))
	}
}

// TestDashboardQueriesParse hands every panel query to promtool as a
// recording rule, with Grafana's variables replaced by values of their
// kind: Prometheus's own parser checks them.
func TestDashboardQueriesParse(t *testing.T) {
	panels, err := monitoring.DashboardPanels(baseArgs())
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$__rate_interval", "1m", "$run", "1")
	type record struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []record
	for i, p := range panels {
		for j, q := range p.Queries {
			expr := vars.Replace(q.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("%s: a variable is left: %s", p.Title, expr)
			}
			rules = append(rules, record{Record: fmt.Sprintf("panel_%d_query_%d", i, j), Expr: expr})
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "panels.yaml")
	writeYAML(t, path, map[string]any{"groups": []map[string]any{{"name": "panels", "rules": rules}}})
	out := promtool(t, dir, "check", "rules", path)
	if !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", len(rules))) {
		t.Errorf("promtool check rules:\n%s", out)
	}
}
