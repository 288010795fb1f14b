//go:build integration

// Package integration applies every shipped stack to a real Kubernetes
// control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) with a kwok fake node, all on loopback, built from Go
// modules by hack/controlplane/build.sh and started by
// internal/controlplane. Run it with .ci/controlplane.sh, or:
// go test -tags integration ./integration/ (SKIP_CONTROLPLANE=1 skips).
package integration

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cirkelline/infra/commands/rehearse"
	"github.com/cirkelline/infra/internal/controlplane"
)

var cp *controlplane.Cluster

func TestMain(m *testing.M) {
	if os.Getenv("SKIP_CONTROLPLANE") != "" {
		fmt.Println("SKIP_CONTROLPLANE set: skipping the control-plane tests")
		os.Exit(0)
	}
	began := time.Now()
	c, err := controlplane.Start(controlplane.Options{Root: repoRoot(), KeepLogs: os.Getenv("KEEP_CONTROLPLANE_LOGS") != ""})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start control plane:", err)
		os.Exit(1)
	}
	fmt.Printf("control plane up in %s (%s)\n", time.Since(began).Round(100*time.Millisecond), c.Server)
	cp = c
	if err := rehearse.ApplyStackCRDs(c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		c.Stop()
		os.Exit(1)
	}
	// Stop what was started also on Ctrl-C or a CI timeout.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; c.Stop(); os.Exit(2) }()
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}
