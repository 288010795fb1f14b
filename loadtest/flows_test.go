package loadtest_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/loadtest"
)

// flowContract is what the Node contract tests hold a flow's script to:
// the metrics it declares at init, whether it exports setup(), and the env
// every runner of an unpaced run gets from the Go side (FlowEnv), which
// the harness gives each run as the runners get it.
type flowContract struct {
	Script  string                         `json:"script"`
	Metrics map[string]loadtest.MetricType `json:"metrics"`
	Setup   bool                           `json:"setup"`
	Env     map[string]string              `json:"env"`
}

// TestFlowContractsGolden writes the registry's side of the scripts'
// contract to testdata/flows.json, which test/flows.test.mjs and
// test/harness.mjs read: the Go registry owns these facts, the Node tests
// check the scripts against them.
func TestFlowContractsGolden(t *testing.T) {
	contracts := map[loadtest.Flow]flowContract{}
	for _, f := range loadtest.Flows() {
		c := loadtest.DefaultConfig()
		c.Flow = f
		spec := f.Spec()
		contracts[f] = flowContract{Script: f.FileName(), Metrics: spec.Metrics, Setup: spec.Setup, Env: loadtest.FlowEnv(c)}
	}
	got, err := json.MarshalIndent(contracts, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// Then bash .ci/check-k6-scripts.sh runs the Node tests against it.
	golden.Check(t, filepath.Join("testdata", "flows.json"), append(got, '\n'))
}

// TestFlowRegistry: every flow's entry is whole, and every shipped script
// is a flow, a module a flow imports, or the starter, so a script without
// an entry cannot sit unused.
func TestFlowRegistry(t *testing.T) {
	shipped := map[string]bool{loadtest.StarterFile: true}
	for _, f := range loadtest.Flows() {
		spec := f.Spec()
		if spec.Iteration == nil || spec.Measured.VUs <= 0 || spec.ThinkSeconds < 0 || len(spec.Metrics) == 0 {
			t.Errorf("%s: the entry needs Metrics, ThinkSeconds >= 0, an Iteration and a Measured run: %+v", f, spec)
		}
		files, err := f.Files()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, file := range files {
			shipped[file.Name] = true
		}
	}
	scripts, err := fs.Glob(os.DirFS("scripts"), "*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		if !shipped[s] {
			t.Errorf("scripts/%s is not a flow of loadtest.Flows(), a module a flow imports, or the starter: add its entry to flows (loadtest/flows.go)", s)
		}
	}
}
