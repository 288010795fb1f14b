package commands

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cirkelline/infra/loadtest"
)

// summaryLog is a runner's log: k6's banner, then the flow's summary line.
func summaryLog(runner int, p95 float64) string { return summaryLogTags(runner, p95, nil) }

// summaryLogTags is a runner's log whose summary line reports tags (as
// the flows' handleSummary does from k6/execution's test.options.tags).
func summaryLogTags(runner int, p95 float64, tags map[string]string) string {
	trend := func(p95 float64) map[string]any {
		return map[string]any{"type": "trend", "contains": "time", "values": map[string]float64{"avg": p95 / 2, "min": 1, "med": p95 / 2, "max": p95, "p(90)": p95, "p(95)": p95, "p(99)": p95, "count": 100}}
	}
	line, _ := json.Marshal(map[string]any{"flow": "cirkelline", "runner": runner, "segment": "0:1", "tags": tags, "summary": map[string]any{
		"state": map[string]any{"testRunDurationMs": 60000},
		"metrics": map[string]any{
			"http_reqs":             map[string]any{"type": "counter", "values": map[string]float64{"count": 200, "rate": 3.3}},
			"http_req_failed":       map[string]any{"type": "rate", "values": map[string]float64{"passes": 0, "fails": 200, "rate": 0}},
			"http_req_duration":     trend(p95),
			"health_check_duration": trend(20),
			"auth_duration":         trend(100),
			"chat_duration":         trend(p95),
		},
	}})
	return "          /\\      Grafana   /‾‾/\n  execution: local\n     script: /scripts/cirkelline.js\n" + loadtest.SummaryMarker + string(line) + "\n"
}

// fakeAPIServer serves the two API calls the report makes, and checks the
// kubeconfig's token reaches it.
func fakeAPIServer(t *testing.T, logs map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-token" {
			http.Error(w, `{"kind":"Status","message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		const pods = "/api/v1/namespaces/cirkelline-staging/pods"
		switch {
		case r.URL.Path == pods:
			if got := r.URL.Query().Get("labelSelector"); got != "job-name=loadtest-1" {
				t.Errorf("label selector %q", got)
			}
			var items []string
			for name := range logs {
				items = append(items, fmt.Sprintf(`{"metadata":{"name":%q}}`, name))
			}
			fmt.Fprintf(w, `{"kind":"PodList","apiVersion":"v1","items":[%s]}`, strings.Join(items, ","))
		case strings.HasPrefix(r.URL.Path, pods+"/") && strings.HasSuffix(r.URL.Path, "/log"):
			name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, pods+"/"), "/log")
			if r.URL.Query().Get("container") != "k6" {
				t.Errorf("log of container %q", r.URL.Query().Get("container"))
			}
			log, ok := logs[name]
			if !ok {
				http.Error(w, `{"kind":"Status","message":"pods not found"}`, http.StatusNotFound)
				return
			}
			fmt.Fprint(w, log)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// serverCA is the test server's certificate, PEM-encoded, for the kubeconfig.
func serverCA(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func kubeconfig(t *testing.T, server string, ca []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, certificate-authority-data: %q}
users:
- name: test
  user: {token: test-token}
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`, server, base64.StdEncoding.EncodeToString(ca))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadtestReportThroughTheAPI(t *testing.T) {
	tests := []struct {
		name    string
		logs    map[string]string
		verdict string
		wantErr bool
	}{
		{"passing run", map[string]string{"loadtest-1-0-x7k2q": summaryLog(0, 300)}, "verdict: PASS", false},
		{"p95 over the threshold", map[string]string{"loadtest-1-0-x7k2q": summaryLog(0, 2500)}, "verdict: FAIL", true},
		{"runner without a summary", map[string]string{"loadtest-1-0-x7k2q": "k6 banner only\n"}, "verdict: INCOMPLETE", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeAPIServer(t, tt.logs)
			var stdout, stderr bytes.Buffer
			err := loadtestReport([]string{"--stack", "staging", "--dir", "..", "--kubeconfig", kubeconfig(t, srv.URL, serverCA(srv))}, &stdout, &stderr)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrRunNotPassed)) {
				t.Fatalf("err %v, want error %v\n%s%s", err, tt.wantErr, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.verdict) || !strings.Contains(stdout.String(), "load test loadtest-1 of stack staging") {
				t.Errorf("output lacks %q:\n%s", tt.verdict, stdout.String())
			}
		})
	}
}

// TestLoadtestReportTags: the report says which tags every sample carries
// and checks them against what each runner's k6 reported; the tags of
// issue 21's runs (only runner=<i>: a --tag on the command line replaced
// the options file's) are called out.
func TestLoadtestReportTags(t *testing.T) {
	full := map[string]string{"environment": "staging", "run": "1", "stack": "staging", "runner": "0"}
	for _, tt := range []struct {
		name string
		tags map[string]string
		want string
	}{
		{"every tag", full, "tags on every sample: environment=staging run=1 stack=staging runner=0 (confirmed by 1 of 1 runners' k6)\n"},
		{"only the runner's", map[string]string{"runner": "0"}, "tags on every sample: environment=staging run=1 stack=staging runner=0 (confirmed by 0 of 1 runners' k6)\n" +
			"runner 0's k6 tagged its samples differently: no environment, no run, no stack\n"},
		{"not reported", nil, "tags on every sample: environment=staging run=1 stack=staging runner=0 (confirmed by 0 of 1 runners' k6)\nrunners:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "loadtest-1-0-abcde.log"), []byte(summaryLogTags(0, 300, tt.tags)), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			_ = loadtestReport([]string{"--stack", "staging", "--dir", "..", "--logs", dir}, &stdout, &stderr)
			if !strings.Contains(stdout.String(), "of stack staging (load shape, cirkelline flow)\n"+tt.want) {
				t.Errorf("output lacks %q:\n%s%s", tt.want, stdout.String(), stderr.String())
			}
		})
	}
}

func TestLoadtestReportFromSavedLogs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "loadtest-1-0-abcde.log"), []byte(summaryLog(0, 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := loadtestReport([]string{"--stack", "staging", "--dir", "..", "--logs", dir}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"tags on every sample: environment=staging run=1 stack=staging runner=0",
		"runners: 1 of 1 reported; test run 1m0s", "requests: 200, 3.3 req/s, 0.00 % failed", "verdict: PASS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestLoadtestReportUnreachableCluster(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := loadtestReport([]string{"--stack", "staging", "--dir", "..", "--kubeconfig", kubeconfig(t, "https://127.0.0.1:1", nil)}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "list runner pods") {
		t.Errorf("want a clear error naming the step, got %v", err)
	}
}
