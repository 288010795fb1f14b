package workloads

import (
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/stacks"
)

// deployLoadTest runs the stack's k6 test against its target.
func deployLoadTest(ctx *pulumi.Context, cfg *stacks.Config, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (*components.LoadTest, error) {
	lt := cfg.LoadTest
	credentials := map[string]pulumi.StringInput{}
	for env, secret := range cfg.LoadTestSecrets {
		credentials[env] = secret.Input()
	}
	return components.NewLoadTest(ctx, cfg.Namespace+"-"+cfg.LoadTestJobName(), components.LoadTestArgs{
		JobName: cfg.LoadTestJobName(), Namespace: namespace, PartOf: cfg.Namespace,
		Test:  lt.Config,
		Run:   cfg.LoadTestRun(),
		Image: lt.Image, TargetURL: pulumi.String(cfg.LoadTestTargetURL()), Credentials: credentials,
		Resources: lt.RunnerResources, SpreadRunners: lt.SpreadRunners, SkipAwait: !lt.Await,
		StartTimeout:             time.Duration(lt.StartTimeout),
		PrometheusRemoteWriteURL: lt.PrometheusRemoteWriteURL,
	}, opts...)
}
