package workloads_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/stacks/stacktest"
	"github.com/cirkelline/infra/workloads"
)

// secret stands in for a secret input in a plan's view.
var secret = pulumi.String(stacks.Redacted)

// view is the plan as plain data: secret inputs shown as [secret], the
// config it came from left out, so two plans compare whole.
func view(t *testing.T, p *workloads.Plan) workloads.Plan {
	t.Helper()
	v := *p
	v.Config = nil
	hide := func(in pulumi.StringInput) pulumi.StringInput {
		if in == nil {
			return nil
		}
		return secret
	}
	v.App.ChecksumKey = hide(v.App.ChecksumKey)
	v.App.Secrets = maps.Clone(v.App.Secrets)
	for k := range v.App.Secrets {
		v.App.Secrets[k] = secret
	}
	v.Services = append([]workloads.ServicePlan(nil), p.Services...)
	if p.Redis != nil {
		r := *p.Redis
		r.Password = hide(r.Password)
		r.Env.ChecksumKey = hide(r.Env.ChecksumKey)
		if r.ElastiCache != nil {
			e := *r.ElastiCache
			e.AuthToken = hide(e.AuthToken)
			r.ElastiCache = &e
		}
		if r.InCluster != nil {
			c := *r.InCluster
			c.Password = hide(c.Password)
			r.InCluster = &c
		}
		v.Redis = &r
	}
	if p.LoadTest != nil {
		lt := *p.LoadTest
		lt.Credentials = maps.Clone(lt.Credentials)
		for k := range lt.Credentials {
			lt.Credentials[k] = secret
		}
		v.LoadTest = &lt
	}
	if p.Ingress != nil {
		i := *p.Ingress
		v.Ingress = &i
	}
	if p.NetworkPolicies != nil {
		n := *p.NetworkPolicies
		v.NetworkPolicies = &n
	}
	return v
}

func plan(t *testing.T, src stacks.MapSource, stack string) *workloads.Plan {
	t.Helper()
	p, err := workloads.Load(src, "cirkelline", stack)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanOfEveryShippedStack: what the plan of each stack file decides
// that its rendered manifests (testdata/rendered) do not show, the
// warnings and the capacity plan, as JSON against testdata/plans (go test
// ./workloads -update rewrites them).
func TestPlanOfEveryShippedStack(t *testing.T) {
	files, _ := filepath.Glob("../Pulumi.*.yaml")
	if len(files) == 0 {
		t.Fatal("no stack files found")
	}
	for _, f := range files {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		t.Run(stack, func(t *testing.T) {
			sc, err := stackfile.LoadStackConfig("..", stack)
			if err != nil {
				t.Fatal(err)
			}
			var missing []string
			p, err := workloads.Load(stacks.MapSource{Values: sc.Values, Secrets: sc.SecretKeys}, sc.Project, sc.Stack, stacks.OfflineSecrets(&missing))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(struct {
				Warnings []workloads.Warning
				Capacity any
			}{p.Warnings(), p.Capacity}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "plans", stack+".json"), append(got, '\n'))
		})
	}
}

// basePlan is the plan of stacktest.ProductionSource, written out (its
// service's settings are stacktest.ProductionService), so that a wrong
// default fails TestPlan's first row.
func basePlan() workloads.Plan {
	const ns, backend = "cirkelline", "cirkelline-backend"
	svc := stacktest.ProductionService()
	return workloads.Plan{
		Namespace: components.NamespaceArgs{Name: ns, PodSecurity: "restricted", PodReadinessGate: true},
		Identity:  components.ServiceIdentityArgs{Name: ns, PartOf: ns},
		App: components.AppConfigArgs{
			ConfigMapName: "cirkelline-config", SecretName: "cirkelline-secrets", PartOf: ns,
			Settings:    map[string]string{"ENVIRONMENT": "production", "LOG_LEVEL": "INFO"},
			Secrets:     map[string]pulumi.StringInput{"DATABASE_URL": secret, "JWT_SECRET_KEY": secret},
			ChecksumKey: secret,
		},
		Services: []workloads.ServicePlan{{AppConfig: true, Args: components.WebServiceArgs{
			Name: svc.Name, PartOf: ns, Image: svc.Image, Port: svc.Port, MetricsPort: svc.MetricsPort,
			ConfigMaps: []pulumi.StringInput{pulumi.String("cirkelline-config")}, Secrets: []pulumi.StringInput{pulumi.String("cirkelline-secrets")},
			ServiceAccountName: pulumi.String(ns),
			Resources:          svc.Resources, HPA: svc.HPA, PDB: svc.PDB, Probe: svc.Probe, Shutdown: svc.Shutdown, RunAsUser: svc.RunAsUser,
			RequirePinnedImage: true,
		}}},
		Ingress: &components.AlbIngressArgs{
			IngressSpec: components.IngressSpec{
				Name: ns, Scheme: "internet-facing", CertificateARN: "arn:aws:acm:eu-north-1:123456789012:certificate/abc-123",
				HealthCheckPath: "/health", SSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06", Hosts: []string{"api.cirkelline.com"},
				Routes:             []components.IngressRoute{{Path: "/", PathType: "Prefix", Service: backend}},
				DeletionProtection: ptr(true), AccessLogs: &components.AlbAccessLogs{Bucket: "cirkelline-alb-logs", Prefix: "production"},
				SuccessCodes: "200",
			},
			PartOf:   ns,
			Backends: map[string]components.IngressBackend{backend: {ServiceName: pulumi.String(backend), Port: 8000}},
		},
		NetworkPolicies: &components.NetworkPoliciesArgs{
			PartOf: ns, IngressCIDRs: []string{"10.0.0.0/22"}, HTTPSEgressCIDRs: []string{"0.0.0.0/0"}, RedisCIDRs: []string{"0.0.0.0/0"},
			RedisPort: 6379, Services: []components.PolicyService{{Name: backend, Port: 8000}},
		},
	}
}

// TestPlan: one base stack, one change per row, and the whole plan that
// change must give (in the style of k6-operator's job builder tests); the
// first row holds the base itself against basePlan.
func TestPlan(t *testing.T) {
	backend := "cirkelline-backend"
	tests := []struct {
		name   string
		mutate func(*stacks.MapSource)
		want   func(*workloads.Plan)
	}{
		{"the base stack", func(*stacks.MapSource) {}, func(*workloads.Plan) {}},
		{"staging allows unpinned images", func(s *stacks.MapSource) { s.Values["cirkelline:environment"] = "staging" }, func(p *workloads.Plan) {
			p.Services[0].Args.RequirePinnedImage = false
			p.Ingress.DeletionProtection = ptr(false) // production's default only
			p.App.Settings = map[string]string{"ENVIRONMENT": "staging", "LOG_LEVEL": "INFO"}
		}},
		{"ingress and network policies off", func(s *stacks.MapSource) {
			s.Values["cirkelline:ingress"] = `{"enabled":false}`
			s.Values["cirkelline:networkPolicy"] = `{"enabled":false}`
			s.Values["cirkelline:environment"] = "staging"
		}, func(p *workloads.Plan) {
			p.Ingress, p.NetworkPolicies = nil, nil
			// No ALB, no readiness gate on the namespace.
			p.Namespace.PodReadinessGate = false
			p.Services[0].Args.RequirePinnedImage = false
			p.App.Settings = map[string]string{"ENVIRONMENT": "staging", "LOG_LEVEL": "INFO"}
		}},
		{"zones declared", func(s *stacks.MapSource) {
			s.Values["cirkelline:cluster"] = `{"zones":3}`
		}, func(p *workloads.Plan) { p.Services[0].Args.Zones = 3 }},
		{"ingress await skipped, zero values take the defaults", func(s *stacks.MapSource) {
			s.Values["cirkelline:ingress"] = `{"hosts":["api.cirkelline.com"],"certificateArn":"arn:aws:acm:eu-north-1:123456789012:certificate/abc-123","skipAwait":true,"sslPolicy":"","routes":[{"path":"/","service":"cirkelline-backend"}]}`
		}, func(p *workloads.Plan) { p.Ingress.SkipAwait, p.Ingress.AccessLogs = true, nil }},
		{"in-cluster Redis for the backend", func(s *stacks.MapSource) {
			s.Values["cirkelline:services"] = `[{"name":"cirkelline-backend","image":"ghcr.io/cirkelline/cirkelline-backend:1.0.0","hpa":{"minReplicas":3,"maxReplicas":50},"redis":true}]`
			s.Values["cirkelline:redis"] = `{"mode":"in-cluster","authToken":"0123456789abcdef0123","db":2}`
			s.Secrets = append(s.Secrets, "cirkelline:redis")
		}, func(p *workloads.Plan) {
			p.Services[0].Redis = true
			p.Services[0].Args.ConfigMaps = append(p.Services[0].Args.ConfigMaps, pulumi.String("cirkelline-redis-env"))
			p.Services[0].Args.Secrets = append(p.Services[0].Args.Secrets, pulumi.String("cirkelline-redis-env"))
			p.NetworkPolicies.RedisPort = components.RedisPort
			p.NetworkPolicies.RedisPodSelector = components.SelectorLabels("cirkelline", "cirkelline-redis")
			p.NetworkPolicies.Services = []components.PolicyService{{Name: backend, Port: 8000, UsesRedis: true}}
			p.Redis = &workloads.RedisPlan{
				Name: "cirkelline-redis", DB: 2, Password: secret, Host: "cirkelline-redis.cirkelline.svc.cluster.local",
				InCluster: &components.InClusterRedisArgs{
					Name: "cirkelline-redis", PartOf: "cirkelline", Image: "redis:7.4-alpine",
					Resources: components.ResourcesSpec{CPURequest: "100m", CPULimit: "500m", MemoryRequest: "128Mi", MemoryLimit: "256Mi"},
					Password:  secret, Clients: []string{backend},
				},
				Env: components.AppConfigArgs{
					ConfigMapName: "cirkelline-redis-env", SecretName: "cirkelline-redis-env", PartOf: "cirkelline", ChecksumName: "redis", ChecksumKey: secret,
					Settings: map[string]string{"REDIS_DB": "2", "REDIS_MAX_CONNECTIONS": "50", "REDIS_TLS": "false"},
				},
			}
		}},
		{"a load test against production", func(s *stacks.MapSource) {
			s.Values["cirkelline:loadtest"] = `{"enabled":true,"allowProduction":true,"shape":"spike","runId":"7","tags":{"team":"growth"}}`
			s.Values["cirkelline:loadtestEmail"], s.Values["cirkelline:loadtestPassword"] = "lt@example.com", "password"
			s.Secrets = append(s.Secrets, "cirkelline:loadtestEmail", "cirkelline:loadtestPassword")
		}, func(p *workloads.Plan) {
			p.NetworkPolicies.AllowFromPods = components.SelectorLabels("cirkelline", components.LoadTestName)
			p.LoadTest = &components.LoadTestArgs{
				LoadTestSpec: components.LoadTestSpec{
					Config: loadtest.Config{
						Shape: loadtest.Spike, Flow: loadtest.Cirkelline, Tags: map[string]string{"team": "growth"},
						Capacity: loadtest.Capacity{Users: 1_000_000, ConcurrencyShare: 0.01, RequestIntervalSeconds: 30, PerPodRPS: 25},
					},
					Image: "grafana/k6:1.3.0", StartTimeout: loadtest.Duration(10 * time.Minute),
					SpreadRunners: ptr(true), Await: ptr(true),
				},
				JobName: "loadtest-7", PartOf: "cirkelline",
				Run:         loadtest.RunInfo{Stack: "production", RunID: "7", Environment: "production"},
				TargetURL:   pulumi.String("http://cirkelline-backend.cirkelline.svc.cluster.local:8000"),
				Target:      components.LoadTestEgress{Pods: components.SelectorLabels("cirkelline", "cirkelline-backend"), Port: 8000},
				Credentials: map[string]pulumi.StringInput{"TEST_EMAIL": secret, "TEST_PASSWORD": secret},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := stacktest.ProductionSource()
			tt.mutate(&src)
			want := basePlan()
			tt.want(&want)
			g, err := json.MarshalIndent(view(t, plan(t, src, "production")), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			w, err := json.MarshalIndent(want, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(w), string(g)); diff != "" {
				t.Errorf("plan differs (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestPlanWarnings(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*stacks.MapSource)
		want   []workloads.Warning
	}{
		{"nothing to say", func(*stacks.MapSource) {}, nil},
		{"production ALB without access logs", func(s *stacks.MapSource) {
			s.Values["cirkelline:ingress"] = `{"hosts":["api.cirkelline.com"],"certificateArn":"arn:aws:acm:eu-north-1:123456789012:certificate/abc-123"}`
		}, []workloads.Warning{{"ingress.accessLogs", "not set: the production ALB keeps no access logs; set {bucket: <S3 bucket>, prefix: <stack>} to record every request"}}},
		{"plain HTTP", func(s *stacks.MapSource) {
			s.Values["cirkelline:environment"] = "staging"
			s.Values["cirkelline:ingress"] = `{"hosts":["api.example.com"],"allowPlainHttp":true}`
		}, []workloads.Warning{{"ingress.allowPlainHttp", "the internet-facing ALB listens on plain HTTP (port 80) only; set ingress.certificateArn to an ACM certificate to serve HTTPS"}}},
		{"load test through a plain-HTTP ingress, capacity overridden", func(s *stacks.MapSource) {
			s.Values["cirkelline:environment"] = "staging"
			s.Values["cirkelline:ingress"] = `{"hosts":["api.example.com"],"allowPlainHttp":true}`
			s.Values["cirkelline:services"] = `[{"name":"cirkelline-backend","image":"ghcr.io/cirkelline/cirkelline-backend:1.0.0","hpa":{"maxReplicas":10}}]`
			s.Values["cirkelline:loadtest"] = `{"enabled":true,"shape":"million-users","allowCapacityOverride":true,"target":{"ingress":true}}`
			s.Values["cirkelline:loadtestEmail"], s.Values["cirkelline:loadtestPassword"] = "lt@example.com", "password"
			s.Secrets = append(s.Secrets, "cirkelline:loadtestEmail", "cirkelline:loadtestPassword")
		}, []workloads.Warning{
			{"ingress.allowPlainHttp", "the internet-facing ALB listens on plain HTTP (port 80) only; set ingress.certificateArn to an ACM certificate to serve HTTPS"},
			{"loadtest.target.ingress", "the ingress has no certificate: the runners send plain HTTP to http://api.example.com"},
			{"loadtest.allowCapacityOverride", "the capacity check is overridden: the million-users peak needs 14 pods of cirkelline-backend but services[0].hpa.maxReplicas is 10, so the test will hold the HPA at its ceiling and may fail its thresholds"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := stacktest.ProductionSource()
			tt.mutate(&src)
			env := "production"
			if src.Values["cirkelline:environment"] == "staging" {
				env = "staging"
			}
			if got := plan(t, src, env).Warnings(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("warnings\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestIdentityGrantsOnlyWhatATokenCanUse: without an API token (the
// default) the pods get no Role; with one, get on exactly the app's and
// the Redis env's ConfigMap and Secret.
func TestIdentityGrantsOnlyWhatATokenCanUse(t *testing.T) {
	src := stacktest.ProductionSource()
	src.Values["cirkelline:redis"] = `{"mode":"in-cluster","authToken":"0123456789abcdef0123"}`
	src.Values["cirkelline:services"] = `[{"name":"cirkelline-backend","image":"ghcr.io/cirkelline/cirkelline-backend:1.0.0","redis":true}]`
	src.Secrets = append(src.Secrets, "cirkelline:redis")
	if id := plan(t, src, "production").Identity; len(id.ReadableConfigMaps)+len(id.ReadableSecrets) != 0 {
		t.Errorf("no token, yet the Role grants %v and %v", id.ReadableConfigMaps, id.ReadableSecrets)
	}
	src.Values["cirkelline:serviceAccount"] = `{"automountToken":true}`
	id := plan(t, src, "production").Identity
	if !reflect.DeepEqual(id.ReadableConfigMaps, []string{"cirkelline-config", "cirkelline-redis-env"}) ||
		!reflect.DeepEqual(id.ReadableSecrets, []string{"cirkelline-secrets", "cirkelline-redis-env"}) {
		t.Errorf("with a token the Role grants %v and %v; want the app's and the Redis env's", id.ReadableConfigMaps, id.ReadableSecrets)
	}
}

// TestLoadTestEgress: where each kind of target lets the runners' traffic
// go (the runners' NetworkPolicy): a service's pods on their port; the
// ingress on its listener port, to the ALB's subnets when the ALB is
// internal and ingressCidrs names them, else anywhere (an internet-facing
// ALB's public addresses are not known); a URL on its port, to its address
// when it is one.
func TestLoadTestEgress(t *testing.T) {
	const lt = `{"enabled":true,"allowProduction":true,"runId":"7",%s}`
	tests := []struct {
		name   string
		target string
		mutate func(*stacks.MapSource)
		want   components.LoadTestEgress
	}{
		{"the first service", `"shape":"smoke"`, nil,
			components.LoadTestEgress{Pods: components.SelectorLabels("cirkelline", "cirkelline-backend"), Port: 8000}},
		{"an internet-facing ALB with a certificate", `"target":{"ingress":true}`, nil,
			components.LoadTestEgress{CIDRs: []string{"0.0.0.0/0"}, Port: 443}},
		{"an internal ALB: its subnets", `"target":{"ingress":true}`, func(s *stacks.MapSource) {
			s.Values["cirkelline:ingress"] = `{"scheme":"internal","hosts":["api.internal"],"certificateArn":"arn:aws:acm:eu-north-1:123456789012:certificate/abc-123","accessLogs":{"bucket":"cirkelline-alb-logs","prefix":"p"}}`
			s.Values["cirkelline:networkPolicy"] = `{"ingressCidrs":["10.0.0.0/22","10.0.4.0/22"]}`
		}, components.LoadTestEgress{CIDRs: []string{"10.0.0.0/22", "10.0.4.0/22"}, Port: 443}},
		{"a URL by address", `"target":{"url":"http://10.1.2.3:8080"}`, nil,
			components.LoadTestEgress{CIDRs: []string{"10.1.2.3/32"}, Port: 8080}},
		{"a URL by name", `"target":{"url":"https://api.example.com"}`, nil,
			components.LoadTestEgress{CIDRs: []string{"0.0.0.0/0"}, Port: 443}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := stacktest.ProductionSource()
			src.Values["cirkelline:loadtest"] = fmt.Sprintf(lt, tt.target)
			src.Values["cirkelline:loadtestEmail"], src.Values["cirkelline:loadtestPassword"] = "lt@example.com", "password"
			src.Secrets = append(src.Secrets, "cirkelline:loadtestEmail", "cirkelline:loadtestPassword")
			if tt.mutate != nil {
				tt.mutate(&src)
			}
			p := plan(t, src, "production")
			if !reflect.DeepEqual(p.LoadTest.Target, tt.want) {
				t.Errorf("runners' egress %+v, want %+v", p.LoadTest.Target, tt.want)
			}
		})
	}
}
