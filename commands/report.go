package commands

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cirkelline/infra/loadtest"
)

// ErrRunNotPassed is returned when the combined verdict is not PASS, so the
// command exits non-zero in a pipeline.
var ErrRunNotPassed = errors.New("the load test did not pass")

// loadtestReport prints one combined result for a stack's run: it reads
// every runner pod's log through the Kubernetes API (or saved logs with
// --logs) and merges their summary lines.
func loadtestReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stack := fs.String("stack", "", "stack whose load test to report")
	dir := fs.String("dir", ".", "project directory (holds Pulumi.yaml)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context (default: the current one)")
	logs := fs.String("logs", "", "read runner logs from this directory (one file per runner) instead of the cluster")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stack == "" {
		return fmt.Errorf("loadtest report: --stack is required")
	}
	cfg, err := loadOffline(*dir, *stack)
	if err != nil {
		return err
	}
	_, thresholds := cfg.LoadTest.Resolved()
	runners := cfg.LoadTest.Runners()
	job := cfg.LoadTestJobName()

	var runnerLogs map[string][]byte
	if *logs != "" {
		runnerLogs, err = readLogDir(*logs)
	} else {
		var restConfig *rest.Config
		restConfig, err = clientConfig(*kubeconfig, *kubeContext)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			runnerLogs, err = fetchRunnerLogs(ctx, restConfig, cfg.Namespace, job)
		}
	}
	if err != nil {
		return fmt.Errorf("loadtest report: %w", err)
	}
	var summaries []loadtest.RunnerSummary
	for _, name := range sortedNames(runnerLogs) {
		s, err := loadtest.ParseRunnerLog(runnerLogs[name])
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			continue
		}
		summaries = append(summaries, s)
	}
	combined := loadtest.Combine(summaries, runners, thresholds)
	fmt.Fprintf(stdout, "load test %s of stack %s (%s shape, %s flow)\n", job, cfg.Stack, cfg.LoadTest.Shape, cfg.LoadTest.Flow)
	fmt.Fprint(stdout, combined.TagsReport(loadtest.Tags(cfg.LoadTest.Config, cfg.LoadTestRun())))
	fmt.Fprint(stdout, combined.Table())
	if combined.Verdict() != "PASS" {
		return fmt.Errorf("%w: %s", ErrRunNotPassed, combined.Verdict())
	}
	return nil
}

func clientConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// fetchRunnerLogs lists the Job's pods (the Job controller labels them
// job-name=<job>) and reads each k6 container's log.
func fetchRunnerLogs(ctx context.Context, cfg *rest.Config, namespace, job string) (map[string][]byte, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	base := strings.TrimSuffix(cfg.Host, "/") + "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods"
	body, err := get(ctx, client, base+"?labelSelector="+url.QueryEscape("job-name="+job))
	if err != nil {
		return nil, fmt.Errorf("list runner pods: %w", err)
	}
	var pods corev1.PodList
	if err := json.Unmarshal(body, &pods); err != nil {
		return nil, fmt.Errorf("list runner pods: %w", err)
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("no pods of job %s in namespace %s (has the run started? kubectl get job %s -n %s)", job, namespace, job, namespace)
	}
	logs := map[string][]byte{}
	for _, pod := range pods.Items {
		log, err := get(ctx, client, base+"/"+url.PathEscape(pod.Name)+"/log?container=k6")
		if err != nil {
			return nil, fmt.Errorf("log of %s: %w", pod.Name, err)
		}
		logs[pod.Name] = log
	}
	return logs, nil
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var status struct{ Message string }
		_ = json.Unmarshal(body, &status)
		return nil, fmt.Errorf("%s: %s", resp.Status, status.Message)
	}
	return body, nil
}

func readLogDir(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	logs := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		logs[e.Name()] = b
	}
	return logs, nil
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	// Runner pods are named <job>-<index>-<suffix>: order by index where
	// the name says it, so messages come in runner order.
	index := func(n string) int {
		parts := strings.Split(n, "-")
		for i := len(parts) - 1; i >= 0; i-- {
			if v, err := strconv.Atoi(parts[i]); err == nil {
				return v
			}
		}
		return -1
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(index(a), index(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return names
}
