package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cirkelline/infra/internal/mockrun"
)

// TestURNsKeepLiveStacks: every resource a shipped stack registered at the
// last accepted render (testdata/rendered/<stack>/urns.txt) is still
// registered under its URN or an alias of it. A rename without an alias
// would replace the object on every live stack; engine/ checks the same
// file against the state the real engine writes, and that the engine
// replaces exactly what LostURNs reports.
func TestURNsKeepLiveStacks(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		t.Run(stack, func(t *testing.T) {
			res := renderStack(t, stack)
			path := filepath.Join("testdata", "rendered", stack, mockrun.URNsFile)
			got := mockrun.URNs(res.Resources)
			if *update {
				if err := os.WriteFile(path, mockrun.FormatURNs(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no URN list (run go test . -update): %v", err)
			}
			before := mockrun.ParseURNs(b)
			if lost := mockrun.LostURNs(before, res.Resources); len(lost) > 0 {
				t.Fatal(mockrun.ExplainLostURNs(lost))
			}
			if d := cmp.Diff(before, got); d != "" {
				t.Errorf("the URNs differ from %s (resources added, or renamed under an alias): run go test . -update and review (-golden +now):\n%s", path, d)
			}
		})
	}
}
