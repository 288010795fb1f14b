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
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/internal/controlplane"
	"github.com/cirkelline/infra/monitoring"
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
	for _, crds := range []fs.FS{monitoring.CRDs, capacity.CRDs} {
		if err := applyCRDs(crds); err != nil {
			fmt.Fprintln(os.Stderr, err)
			c.Stop()
			os.Exit(1)
		}
	}
	// Stop what was started also on Ctrl-C or a CI timeout.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; c.Stop(); os.Exit(2) }()
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

// applyCRDs installs the CRDs of an embedded crds/ directory, copied
// unchanged from their project, and waits until the API server serves them,
// so the stacks' custom resources are validated against the real schemas.
func applyCRDs(crds fs.FS) error {
	files, err := fs.Glob(crds, "crds/*.yaml")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs embedded: %v", err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(crds, f)
		if err != nil {
			return err
		}
		// Server-side: these CRDs are larger than the last-applied
		// annotation client-side apply would write (262144 bytes).
		if out, err := cp.KubectlIn(string(b), "apply", "--server-side", "-f", "-"); err != nil {
			return fmt.Errorf("apply %s: %v\n%s", f, err, out)
		}
	}
	if out, err := cp.Kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"); err != nil {
		return fmt.Errorf("CRDs not established: %v\n%s", err, out)
	}
	return nil
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}
