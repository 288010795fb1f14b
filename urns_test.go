package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cirkelline/infra/internal/golden"
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
			// -update accepts the replaces along with the new list.
			if b, err := os.ReadFile(path); err == nil && !golden.Update() {
				if lost := mockrun.LostURNs(mockrun.ParseURNs(b), res.Resources); len(lost) > 0 {
					t.Fatal(mockrun.ExplainLostURNs(lost))
				}
			}
			golden.Check(t, path, mockrun.FormatURNs(mockrun.URNs(res.Resources)))
		})
	}
}
