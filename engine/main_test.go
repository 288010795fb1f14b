//go:build engine

// Package engine takes every stack that needs no AWS provider (local,
// partypic) through its whole life with the real Pulumi engine: the CLI and
// the Kubernetes provider built from the Go module proxy by
// hack/engine/build.sh, driven through the Automation API with the
// program's own run function in-process (workloads.Program, an inline
// program: no Go language host is served), a file:// backend in a temporary
// folder and the passphrase secrets provider, against the project's real
// control plane (internal/controlplane). Every step is asserted from the
// engine's own results and events, never from its log text.
//
// Run it with .ci/engine.sh, or: go test -tags engine ./engine/
// (SKIP_ENGINE=1 skips it).
package engine

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cirkelline/infra/commands/rehearse"
	"github.com/cirkelline/infra/internal/controlplane"
)

var (
	cp *controlplane.Cluster
	// engineDir is hack/engine/build.sh's output: bin/pulumi,
	// bin/pulumi-resource-kubernetes and home/ (a PULUMI_HOME holding the
	// installed plugin).
	engineDir string
)

func TestMain(m *testing.M) {
	if os.Getenv("SKIP_ENGINE") != "" {
		fmt.Println("SKIP_ENGINE set: skipping the engine lifecycle tests")
		os.Exit(0)
	}
	dir, err := buildEngine(repoRoot())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	engineDir = dir
	// Stop what was started also on Ctrl-C or a CI timeout.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; stopCluster(); os.Exit(2) }()
	code := m.Run()
	stopCluster()
	os.Exit(code)
}

var (
	clusterOnce sync.Once
	clusterErr  error
)

// needCluster starts the control plane the first time a test needs it
// (the renderYamlToDirectory test does not) and sets cp.
func needCluster(t *testing.T) {
	t.Helper()
	clusterOnce.Do(func() {
		began := time.Now()
		c, err := controlplane.Start(controlplane.Options{Root: repoRoot(), KeepLogs: os.Getenv("KEEP_CONTROLPLANE_LOGS") != ""})
		if err != nil {
			clusterErr = fmt.Errorf("start control plane: %w", err)
			return
		}
		fmt.Printf("control plane up in %s (%s)\n", time.Since(began).Round(100*time.Millisecond), c.Server)
		if err := rehearse.ApplyStackCRDs(c); err != nil {
			c.Stop()
			clusterErr = err
			return
		}
		cp = c
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
}

func stopCluster() {
	if cp != nil {
		cp.Stop()
	}
}

// buildEngine runs hack/engine/build.sh (cached by its version stamp) and
// returns its output directory.
func buildEngine(root string) (string, error) {
	build := exec.Command("bash", filepath.Join(root, "hack", "engine", "build.sh"))
	build.Stderr = os.Stderr
	out, err := build.Output()
	if err != nil {
		return "", fmt.Errorf("build the engine (hack/engine/build.sh): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}
