package workloads

import (
	"fmt"
	"maps"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/stacks"
)

// Outputs are what a stack exports.
type Outputs struct {
	Namespace pulumi.StringOutput
	// ServiceDNSNames maps each service to its in-cluster DNS name.
	ServiceDNSNames pulumi.StringMap
	// IngressHost is the ALB's DNS name (empty until provisioned, or without ingress).
	IngressHost pulumi.StringOutput
	// Hosts are the configured public host names.
	Hosts []string
	// RedisEndpoint and RedisPort locate the stack's Redis (nil without one);
	// RedisAuthToken is exported only as a secret.
	RedisEndpoint  pulumi.StringOutput
	RedisPort      pulumi.IntOutput
	RedisAuthToken pulumi.StringInput
	// LoadTestJob is the k6 Job's name (nil without a load test).
	LoadTestJob pulumi.StringOutput
}

// Deploy registers what the plan says, in dependency order. plan must come
// from Load (or NewPlan and Validate), so it is valid.
func Deploy(ctx *pulumi.Context, plan *Plan) (*Outputs, error) {
	cfg := plan.Config
	refs := &stackRefs{ctx: ctx}
	// Every component gets the cluster's provider when the stack names
	// one; without, the default provider (nothing changes for such stacks).
	onCluster := pulumi.Composite()
	if p, err := clusterProvider(ctx, cfg, refs); err != nil {
		return nil, err
	} else if p != nil {
		onCluster = p
	}
	ns, err := components.NewNamespace(ctx, cfg.Namespace, plan.Namespace, onCluster)
	if err != nil {
		return nil, err
	}
	inNamespace := pulumi.Composite(pulumi.DependsOn([]pulumi.Resource{ns}), onCluster)

	redis, err := deployRedis(ctx, plan.Redis, refs, ns.Name, inNamespace)
	if err != nil {
		return nil, err
	}

	identityArgs := plan.Identity
	identityArgs.Namespace = ns.Name
	if _, err := components.NewServiceIdentity(ctx, cfg.Namespace, identityArgs, inNamespace); err != nil {
		return nil, err
	}

	appArgs := plan.App
	appArgs.Namespace = ns.Name
	app, err := components.NewAppConfig(ctx, cfg.Namespace, appArgs, inNamespace)
	if err != nil {
		return nil, err
	}

	out := &Outputs{Namespace: ns.Name, ServiceDNSNames: pulumi.StringMap{}, IngressHost: pulumi.String("").ToStringOutput(), Hosts: cfg.Ingress.Hosts}
	if redis != nil {
		out.RedisEndpoint, out.RedisPort = redis.endpoint, redis.port
		out.RedisAuthToken = cfg.Redis.AuthToken.Input()
	}
	// warnings maps a component to the stack keys whose warnings it shows.
	warnings := map[pulumi.Resource]string{}
	var services []pulumi.Resource
	for _, s := range plan.Services {
		args := s.Args
		args.Namespace = ns.Name
		// The checksums of the ConfigMaps and Secrets the pods load.
		args.PodAnnotations = pulumi.StringMap{}
		if s.AppConfig {
			maps.Copy(args.PodAnnotations, app.PodAnnotations)
		}
		if s.Redis {
			maps.Copy(args.PodAnnotations, redis.env.PodAnnotations)
		}
		if len(args.PodAnnotations) == 0 {
			args.PodAnnotations = nil
		}
		svc, err := components.NewWebService(ctx, args.Name, args, inNamespace)
		if err != nil {
			return nil, err
		}
		services = append(services, svc.Deployment)
		out.ServiceDNSNames[args.Name] = svc.DNSName
	}

	if plan.Ingress != nil {
		args := *plan.Ingress
		args.Namespace = ns.Name
		ing, err := components.NewAlbIngress(ctx, args.Name, args, inNamespace)
		if err != nil {
			return nil, err
		}
		out.IngressHost = ing.Hostname
		warnings[ing] = "ingress."
	}
	if plan.LoadTest != nil {
		args := *plan.LoadTest
		args.Namespace = ns.Name
		// The runners start once the services they test are up (Pulumi
		// waits for each Deployment to be ready).
		lt, err := components.NewLoadTest(ctx, cfg.Namespace+"-"+args.JobName, args, inNamespace, pulumi.DependsOn(services))
		if err != nil {
			return nil, err
		}
		out.LoadTestJob = lt.JobName
		warnings[lt] = "loadtest."
	}
	if plan.Karpenter != nil || plan.Headroom != nil {
		// Room for the worst case: the stack's NodePool, the pause pods.
		args := components.NodeCapacityArgs{Namespace: ns.Name, Plan: plan.Capacity, Karpenter: plan.Karpenter, Headroom: plan.Headroom}
		if _, err := components.NewNodeCapacity(ctx, cfg.Namespace+"-capacity", args, inNamespace); err != nil {
			return nil, err
		}
	}
	if plan.Monitoring != nil {
		args := *plan.Monitoring
		args.Namespace = ns.Name
		m, err := components.NewMonitoring(ctx, cfg.Namespace, args, inNamespace)
		if err != nil {
			return nil, err
		}
		warnings[m] = "monitoring."
	}
	if plan.NetworkPolicies != nil {
		args := *plan.NetworkPolicies
		args.Namespace = ns.Name
		if _, err := components.NewNetworkPolicies(ctx, cfg.Namespace, args, inNamespace); err != nil {
			return nil, err
		}
	}
	for _, w := range plan.Warnings() {
		var on pulumi.Resource = ns
		for r, prefix := range warnings {
			if strings.HasPrefix(w.Path, prefix) {
				on = r
			}
		}
		if err := ctx.Log.Warn(w.String(), &pulumi.LogArgs{Resource: on}); err != nil {
			return nil, fmt.Errorf("log warning %s: %w", w.Path, err)
		}
	}
	return out, nil
}

// Export writes the stack outputs, including the kubectl commands of the
// seed's deployment checklist.
func (o *Outputs) Export(ctx *pulumi.Context, cfg *stacks.Config) {
	ctx.Export("namespace", o.Namespace)
	ctx.Export("serviceDnsNames", o.ServiceDNSNames)
	ctx.Export("ingressHost", o.IngressHost)
	ctx.Export("hosts", pulumi.ToStringArray(o.Hosts))
	ctx.Export("kubectl", pulumi.ToStringMap(KubectlCommands(cfg)))
	if cfg.LoadTest.Enabled {
		ctx.Export("loadTestJob", o.LoadTestJob)
	}
	if o.RedisAuthToken != nil {
		ctx.Export("redisEndpoint", o.RedisEndpoint)
		ctx.Export("redisPort", o.RedisPort)
		ctx.Export("redisAuthToken", pulumi.ToSecret(o.RedisAuthToken))
	}
}

// KubectlCommands are the commands to watch the stack's autoscaling.
func KubectlCommands(cfg *stacks.Config) map[string]string {
	cmds := map[string]string{
		"pods":    fmt.Sprintf("kubectl get pods -n %s -w", cfg.Namespace),
		"hpa":     fmt.Sprintf("kubectl get hpa -n %s -w", cfg.Namespace),
		"topPods": fmt.Sprintf("kubectl top pods -n %s", cfg.Namespace),
		"allInNs": fmt.Sprintf("kubectl get all -n %s", cfg.Namespace),
	}
	for _, s := range cfg.Services {
		cmds["describeHpa:"+s.Name] = fmt.Sprintf("kubectl describe hpa %s%s -n %s", s.Name, components.HPASuffix, cfg.Namespace)
		cmds["logs:"+s.Name] = fmt.Sprintf("kubectl logs -f deployment/%s -n %s", s.Name, cfg.Namespace)
	}
	if cfg.LoadTest.Enabled {
		job := cfg.LoadTestJobName()
		cmds["loadtest:status"] = fmt.Sprintf("kubectl get job %s -n %s -w", job, cfg.Namespace)
		cmds["loadtest:results"] = fmt.Sprintf("kubectl logs -l job-name=%s -n %s --tail=-1 --prefix", job, cfg.Namespace)
	}
	return cmds
}
