package workloads_test

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/stacks/stacktest"
	"github.com/cirkelline/infra/workloads"
)

// kubeconfigMarker is in every kubeconfig these tests hand the program:
// it must reach the provider, as a secret, and nothing else.
const kubeconfigMarker = "token-kc-7f3a9e"

const testKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: eks, cluster: {server: "https://eks.example.com"}}]
users: [{name: ci, user: {token: ` + kubeconfigMarker + `}}]
contexts: [{name: eks, context: {cluster: eks, user: ci}}]
current-context: eks
`

// registration is one resource as the engine receives it.
type registration struct {
	typ, name, provider string
	custom              bool
	inputs              resource.PropertyMap
}

// clusterMonitor records registrations and answers StackReference reads
// with outputs, as the other stack would (not marked secret: the program
// must not rely on the cluster stack's marking).
type clusterMonitor struct {
	mu      sync.Mutex
	regs    []registration
	outputs map[string]resource.PropertyMap
}

func (m *clusterMonitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.regs = append(m.regs, registration{typ: args.TypeToken, name: args.Name, provider: args.Provider, custom: args.Custom, inputs: args.Inputs})
	state := args.Inputs.Copy()
	switch args.TypeToken {
	case "pulumi:pulumi:StackReference":
		state["outputs"] = resource.NewObjectProperty(m.outputs[args.Inputs["name"].StringValue()])
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		state["primaryEndpointAddress"] = resource.NewStringProperty("master.redis.example.cache.amazonaws.com")
	}
	return args.Name + "-id", state, nil
}

func (m *clusterMonitor) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// plainStrings are every string of v that is not inside a secret.
func plainStrings(v resource.PropertyValue) []string {
	switch {
	case v.IsSecret():
		return nil
	case v.IsOutput():
		if v.OutputValue().Secret {
			return nil
		}
		return plainStrings(v.OutputValue().Element)
	case v.IsString():
		return []string{v.StringValue()}
	case v.IsArray():
		var out []string
		for _, e := range v.ArrayValue() {
			out = append(out, plainStrings(e)...)
		}
		return out
	case v.IsObject():
		var out []string
		for _, e := range v.ObjectValue() {
			out = append(out, plainStrings(e)...)
		}
		return out
	}
	return nil
}

// deployWith runs the program on the production stack with the cluster
// block set by mutate, and returns what it registered and logged.
func deployWith(t *testing.T, mutate func(*stacks.MapSource), outputs map[string]resource.PropertyMap) []registration {
	t.Helper()
	regs, err := deployErr(mutate, outputs)
	if err != nil {
		t.Fatal(err)
	}
	return regs
}

// deployErr is deployWith returning the program's error.
func deployErr(mutate func(*stacks.MapSource), outputs map[string]resource.PropertyMap) ([]registration, error) {
	src := stacktest.ProductionSource()
	src.Values = maps.Clone(src.Values)
	mutate(&src)
	mon := &clusterMonitor{outputs: outputs}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		plan, err := workloads.Load(src, project, "production")
		if err != nil {
			return err
		}
		out, err := workloads.Deploy(ctx, plan)
		if err != nil {
			return err
		}
		out.Export(ctx, plan.Config)
		return nil
	}, pulumi.WithMocks(project, "production", mon))
	return mon.regs, err
}

// TestClusterProvider: with a kubeconfig (from the cluster's stack or
// from secret config) every Kubernetes resource uses one explicit
// provider, whose kubeconfig input is secret and is the only place the
// credentials appear; AWS resources keep their default provider; without
// a cluster block, nothing has an explicit provider, as before.
func TestClusterProvider(t *testing.T) {
	const clusterStack = "acme/eks-cluster/production"
	tests := []struct {
		name         string
		mutate       func(*stacks.MapSource)
		outputs      map[string]resource.PropertyMap
		wantIdentity string
	}{
		{"kubeconfig from the cluster's stack", func(s *stacks.MapSource) {
			s.Values["cirkelline:cluster"] = `{"stackReference":"` + clusterStack + `"}`
		}, map[string]resource.PropertyMap{clusterStack: {"kubeconfig": resource.MakeSecret(resource.NewStringProperty(testKubeconfig))}}, clusterStack},
		{"kubeconfig object from the cluster's stack (pulumi-eks)", func(s *stacks.MapSource) {
			s.Values["cirkelline:cluster"] = `{"stackReference":"` + clusterStack + `","outputs":{"kubeconfig":"kc"}}`
		}, map[string]resource.PropertyMap{clusterStack: {"kc": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
			"apiVersion": resource.NewStringProperty("v1"),
			"users": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
				"name": resource.NewStringProperty("ci"), "user": resource.NewObjectProperty(resource.PropertyMap{"token": resource.NewStringProperty(kubeconfigMarker)}),
			})}),
		}))}}, clusterStack},
		{"kubeconfig from secret config: named by its current cluster", func(s *stacks.MapSource) {
			s.Values["cirkelline:cluster"] = fmt.Sprintf(`{"kubeconfig":%q}`, testKubeconfig)
			s.Secrets = append(s.Secrets, "cirkelline:cluster")
		}, nil, "eks"},
		{"an identifier of the stack's own", func(s *stacks.MapSource) {
			s.Values["cirkelline:cluster"] = fmt.Sprintf(`{"kubeconfig":%q,"identifier":"arn:aws:eks:eu-west-1:1:cluster/prod"}`, testKubeconfig)
			s.Secrets = append(s.Secrets, "cirkelline:cluster")
		}, nil, "arn:aws:eks:eu-west-1:1:cluster/prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			regs := deployWith(t, tt.mutate, tt.outputs)
			var providerRef string
			for _, r := range regs {
				if r.typ == "pulumi:providers:kubernetes" {
					if providerRef != "" {
						t.Fatalf("two Kubernetes providers registered")
					}
					providerRef = r.name
					kc := r.inputs["kubeconfig"]
					if !kc.ContainsSecrets() {
						t.Errorf("the provider's kubeconfig input is not secret")
					}
					if !strings.Contains(fmt.Sprint(reveal(kc)), kubeconfigMarker) {
						t.Errorf("the provider's kubeconfig lacks the credentials: %v", reveal(kc))
					}
					if id := r.inputs["clusterIdentifier"]; !id.IsString() || id.StringValue() != tt.wantIdentity {
						t.Errorf("the provider's clusterIdentifier is %v, want %q", id, tt.wantIdentity)
					}
				}
			}
			if providerRef != workloads.ClusterProviderName {
				t.Fatalf("no Kubernetes provider named %q registered", workloads.ClusterProviderName)
			}
			kubernetesResources := 0
			for _, r := range regs {
				switch {
				case strings.HasPrefix(r.typ, "kubernetes:"):
					kubernetesResources++
					if !strings.Contains(r.provider, "pulumi:providers:kubernetes::"+workloads.ClusterProviderName+"::") {
						t.Errorf("%s %s uses provider %q, not the cluster's", r.typ, r.name, r.provider)
					}
				case strings.HasPrefix(r.typ, "aws:") && r.provider != "":
					t.Errorf("%s %s uses provider %q; AWS resources keep the default", r.typ, r.name, r.provider)
				}
				if r.typ == "pulumi:providers:kubernetes" {
					continue
				}
				for _, s := range plainStrings(resource.NewObjectProperty(r.inputs)) {
					if strings.Contains(s, kubeconfigMarker) {
						t.Errorf("%s %s carries the kubeconfig's credentials in plain text", r.typ, r.name)
					}
				}
			}
			if kubernetesResources < 10 {
				t.Errorf("only %d Kubernetes resources registered", kubernetesResources)
			}
		})
	}
	t.Run("no cluster block: the default provider", func(t *testing.T) {
		for _, r := range deployWith(t, func(*stacks.MapSource) {}, nil) {
			if r.typ == "pulumi:providers:kubernetes" || (r.custom && r.provider != "") {
				t.Errorf("%s %s: provider %q; want the default provider, as before", r.typ, r.name, r.provider)
			}
		}
	})
}

// TestClusterOneReference: staging's cluster stack gives both the
// kubeconfig and the ElastiCache network through one StackReference.
func TestClusterOneReference(t *testing.T) {
	const clusterStack = "acme/eks-cluster/staging"
	regs := deployWith(t, func(s *stacks.MapSource) {
		s.Values["cirkelline:cluster"] = `{"stackReference":"` + clusterStack + `"}`
		s.Values["cirkelline:redis"] = `{"mode":"elasticache","authToken":"` + strings.Repeat("ab", 32) + `"}`
		s.Secrets = append(s.Secrets, "cirkelline:redis")
		s.Values["cirkelline:services"] = `[{"name":"cirkelline-backend","image":"ghcr.io/cirkelline/cirkelline-backend:1.0.0","redis":true}]`
	}, map[string]resource.PropertyMap{clusterStack: {
		"kubeconfig":             resource.MakeSecret(resource.NewStringProperty(testKubeconfig)),
		"vpcId":                  resource.NewStringProperty("vpc-1"),
		"privateSubnetIds":       resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("subnet-1")}),
		"clusterSecurityGroupId": resource.NewStringProperty("sg-1"),
	}})
	refs := 0
	for _, r := range regs {
		if r.typ == "pulumi:pulumi:StackReference" {
			refs++
		}
		if r.typ == "aws:elasticache/subnetGroup:SubnetGroup" {
			if ids := plainStrings(reveal(r.inputs["subnetIds"])); len(ids) != 1 || ids[0] != "subnet-1" {
				t.Errorf("the subnet group's subnets %v are not the cluster stack's", ids)
			}
		}
	}
	if refs != 1 {
		t.Errorf("%d StackReferences registered; want one for the kubeconfig and the network", refs)
	}
}

// TestClusterRefusesPlainKubeconfig: a cluster stack exporting its
// kubeconfig in plain text is refused with the commands that fix it, and
// nothing but the StackReference is registered.
func TestClusterRefusesPlainKubeconfig(t *testing.T) {
	const clusterStack = "acme/eks-cluster/production"
	regs, err := deployErr(func(s *stacks.MapSource) {
		s.Values["cirkelline:cluster"] = `{"stackReference":"` + clusterStack + `"}`
	}, map[string]resource.PropertyMap{clusterStack: {"kubeconfig": resource.NewStringProperty(testKubeconfig)}})
	if err == nil {
		t.Fatal("a plain-text kubeconfig output was accepted")
	}
	for _, want := range []string{
		`cluster.stackReference acme/eks-cluster/production: its output "kubeconfig" is not a secret`,
		`ctx.Export("kubeconfig", pulumi.ToSecret(kubeconfig))`,
		"pulumi stack output kubeconfig --show-secrets --stack acme/eks-cluster/production | pulumi config set --secret --path cluster.kubeconfig --stack production",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), kubeconfigMarker) {
		t.Errorf("the refusal quotes the credentials: %v", err)
	}
	for _, r := range regs {
		if r.typ != "pulumi:pulumi:StackReference" {
			t.Errorf("%s %s registered before the refusal", r.typ, r.name)
		}
	}
}

// TestHeadroomFollowsSelectPolicy: the pause pods hold the HPA's first
// scale-up step as its selectPolicy makes it. Production's backend scales
// 3–50 with 4 pods or 100 % per 15 s: Max takes 3 + 4 = 7 (4 pods), Min
// takes 3 × 2 = 6 (3 pods).
func TestHeadroomFollowsSelectPolicy(t *testing.T) {
	for _, tt := range []struct {
		selectPolicy string
		pods         int
	}{{"Max", 4}, {"Min", 3}} {
		src := stacktest.ProductionSource()
		src.Values = maps.Clone(src.Values)
		src.Values["cirkelline:services"] = `[{"name":"cirkelline-backend","image":"ghcr.io/cirkelline/cirkelline-backend:1.0.0","hpa":{"minReplicas":3,"maxReplicas":50,"scaleUp":{"selectPolicy":"` + tt.selectPolicy + `"}}}]`
		src.Values["cirkelline:cluster"] = `{"headroom":{"enabled":true}}`
		p, err := workloads.Load(src, "cirkelline", "production")
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Headroom.Steps[0].Pods; got != tt.pods {
			t.Errorf("selectPolicy %s: the headroom holds %d pods, want %d", tt.selectPolicy, got, tt.pods)
		}
	}
}
