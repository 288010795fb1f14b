package workloads_test

import (
	"math"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/stacks/stacktest"
)

// Issue 25's "done when": production with a million-users load test
// reserves at most a quarter of the runners' former 20 CPU (20 runners of
// 1 CPU), and no runner's memory limit is below the runner model's need at
// the shape's peak; the capacity plan counts the runners as rendered.
func TestMillionUsersRunnersFromTheModel(t *testing.T) {
	src := stacktest.ProductionSource()
	src.Values["cirkelline:loadtest"] = `{"enabled":true,"allowProduction":true,"shape":"million-users"}`
	src.Values["cirkelline:loadtestEmail"], src.Values["cirkelline:loadtestPassword"] = "lt@example.com", "password"
	src.Secrets = append(src.Secrets, "cirkelline:loadtestEmail", "cirkelline:loadtestPassword")
	// Pulumi.production.yaml's node group.
	src.Values["cirkelline:cluster"] = `{"capacity":{"nodes":6,"node":{"cpu":"7910m","memory":"29Gi","pods":58},"overhead":{"cpu":"250m","memory":"512Mi","pods":4}}}`
	p := plan(t, src, "production")
	lt := p.LoadTest.WithDefaults()
	sizing := lt.Sizing()
	need := resource.MustParse(resource.NewQuantity(int64(math.Ceil(sizing.Need.MiB))<<20, resource.BinarySI).String())
	if limit := resource.MustParse(lt.RunnerResources.MemoryLimit); limit.Cmp(need) < 0 {
		t.Errorf("runner memory limit %s below the model's need %s", lt.RunnerResources.MemoryLimit, need.String())
	}
	if p.Capacity == nil {
		t.Fatal("production plans its capacity")
	}
	var runners *capacity.Row
	for i, r := range p.Capacity.Rows {
		if r.Name == "loadtest-1" {
			runners = &p.Capacity.Rows[i]
		}
	}
	if runners == nil {
		t.Fatalf("no runner row in %+v", p.Capacity.Rows)
	}
	if quarter := resource.MustParse("5"); runners.TotalCPU.Cmp(quarter) > 0 {
		t.Errorf("the runners request %s CPU, more than a quarter of the former 20", runners.TotalCPU.String())
	}
	if runners.Pods != sizing.Runners || runners.CPU.String() != lt.RunnerResources.CPURequest || runners.Memory.String() != lt.RunnerResources.MemoryRequest {
		t.Errorf("the plan's runners %+v are not the rendered ones: %d × %s / %s", runners, sizing.Runners, lt.RunnerResources.CPURequest, lt.RunnerResources.MemoryRequest)
	}
	if runners.Pods != 5 || lt.RunnerResources.MemoryLimit != "1672Mi" || lt.RunnerResources.CPURequest != "100m" {
		t.Errorf("want 5 runners of 100m / 1672Mi, got %d × %+v", runners.Pods, lt.RunnerResources)
	}
}
