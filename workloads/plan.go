package workloads

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/cache/redisenv"
	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/monitoring"
	"github.com/cirkelline/infra/stacks"
)

// Plan is what a stack runs: every component's arguments, computed from the
// stack config alone. It is plain data (no engine, no outputs): the Inputs
// it holds are values known from config (names, secrets). Deploy registers
// it and fills in what only exists once registered (the namespace's
// output, the Redis endpoint).
type Plan struct {
	// Config is the stack it was planned from (outputs, kubectl commands).
	Config *stacks.Config

	Namespace components.NamespaceArgs
	Identity  components.ServiceIdentityArgs
	App       components.AppConfigArgs
	Services  []ServicePlan
	// Ingress, NetworkPolicies, Redis and LoadTest are nil when the stack
	// turns them off.
	Ingress         *components.AlbIngressArgs
	NetworkPolicies *components.NetworkPoliciesArgs
	Redis           *RedisPlan
	LoadTest        *components.LoadTestArgs
	// Monitoring is nil unless monitoring.enabled.
	Monitoring *components.MonitoringArgs
	// Capacity is the worst case against cluster.capacity (nil without a
	// node shape); Karpenter and Headroom are nil unless turned on.
	Capacity    *capacity.Plan
	Karpenter   *capacity.KarpenterArgs
	Headroom    *capacity.HeadroomArgs
	capacityErr error
}

// ServicePlan is one web service and the shared environments it loads.
type ServicePlan struct {
	Args components.WebServiceArgs
	// AppConfig loads the app's ConfigMap and Secret; Redis the REDIS_* env.
	AppConfig, Redis bool
}

// RedisPlan is the stack's Redis: one of ElastiCache or InCluster, and the
// env contract its clients load.
type RedisPlan struct {
	// ElastiCache is set in elasticache mode; its network is Network's.
	ElastiCache *components.ElastiCacheRedisArgs
	Network     *stacks.ElastiCacheNetwork
	// InCluster is set in in-cluster mode.
	InCluster *components.InClusterRedisArgs
	// Env is the REDIS_* ConfigMap and Secret; Deploy adds REDIS_URL, which
	// needs the endpoint.
	Env components.AppConfigArgs
	// Host is the in-cluster Redis Service's DNS name, known from the plan,
	// so its clients' env does not wait on the Service (ElastiCache's
	// endpoint is known only once the group exists).
	Host string
	// Password is the AUTH token (secret), empty without one.
	Password pulumi.StringInput
	TLS      bool
	DB       int
	Name     string
}

// Load reads the stack's config and plans it. Every problem comes back in
// one *stacks.ConfigError with the stack file's paths, before anything is
// registered: first the stack file's own (every one of them); once those
// pass, the plan's (each component's own checks, every one of them). The
// plan is never built from a config that failed the stack file's checks:
// NewPlan may rely on what they guarantee (an ingress target has a host, a
// named service exists).
func Load(src stacks.Source, project, stack string, opts ...stacks.LoadOption) (*Plan, error) {
	var plan *Plan
	check := stacks.Check(func(cfg *stacks.Config, errs *validate.Errors) {
		// The names the plan derives from the stack file's keys are the
		// stack file's problems, at the keys they come from.
		checkDerivedNames(cfg, errs)
		if errs.Len() > 0 {
			return
		}
		plan = NewPlan(cfg)
		errs.Merge(plan.Validate())
	})
	if _, err := stacks.Load(src, project, stack, append(opts, check)...); err != nil {
		return nil, err
	}
	return plan, nil
}

// NewPlan copies each component's spec from the config as it is (the
// stack file's loader applied every spec's defaults) and wires names and
// references: who loads which ConfigMap and Secret, the ingress backends,
// the Redis env, who may reach whom. It computes no setting.
func NewPlan(cfg *stacks.Config) *Plan {
	// One key for the secret checksums of the app's and the Redis env's
	// Secrets.
	key := checksumKey(cfg)
	p := &Plan{
		Config: cfg,
		// With an ALB (target-type ip), pods count as ready only once their
		// target is healthy.
		Namespace: components.NamespaceArgs{Name: cfg.Namespace, PodSecurity: cfg.PodSecurity, PodReadinessGate: cfg.Ingress.Enabled},
		Identity:  identityArgs(cfg),
		App:       appConfigArgs(cfg, key),
		Redis:     redisPlan(cfg, key),
	}
	if p.Redis != nil && p.Identity.AutomountToken {
		// The pods may read the Redis env too.
		p.Identity.ReadableConfigMaps = append(p.Identity.ReadableConfigMaps, p.Redis.Env.ConfigMapName)
		p.Identity.ReadableSecrets = append(p.Identity.ReadableSecrets, p.Redis.Env.SecretName)
	}
	backends := map[string]components.IngressBackend{}
	for _, s := range cfg.Services {
		args := webServiceArgs(cfg, s)
		// Names known from the plan, not taken from the resources' outputs:
		// a rollout waits on no other object (see "what pulumi up waits for").
		args.ServiceAccountName = pulumi.String(p.Identity.Name)
		if s.AppConfig {
			args.ConfigMaps = append(args.ConfigMaps, pulumi.String(p.App.ConfigMapName))
			args.Secrets = append(args.Secrets, pulumi.String(p.App.SecretName))
		}
		if s.Redis {
			args.ConfigMaps = append(args.ConfigMaps, pulumi.String(p.Redis.Env.ConfigMapName))
			args.Secrets = append(args.Secrets, pulumi.String(p.Redis.Env.SecretName))
		}
		p.Services = append(p.Services, ServicePlan{Args: args, AppConfig: s.AppConfig, Redis: s.Redis})
		backends[s.Name] = components.IngressBackend{ServiceName: pulumi.String(s.Name), Port: s.Port}
	}
	if cfg.Ingress.Enabled {
		p.Ingress = &components.AlbIngressArgs{IngressSpec: cfg.Ingress.IngressSpec, PartOf: cfg.Namespace, Backends: backends}
	}
	if cfg.Monitoring.Enabled {
		args := monitoringArgs(cfg)
		p.Monitoring = &args
	}
	if cfg.NetworkPolicy.Enabled {
		args := networkPoliciesArgs(cfg)
		if p.Monitoring != nil {
			// Invalid monitoring args give no rules; Validate reports them.
			scrapes, _ := monitoring.ScrapeIngresses(p.Monitoring.Watch)
			for i := range scrapes {
				args.Services[i].Scrape = &scrapes[i]
			}
		}
		p.NetworkPolicies = &args
	}
	if cfg.LoadTest.Enabled {
		args := loadTestArgs(cfg)
		p.LoadTest = &args
	}
	p.planCapacity(cfg)
	return p
}

// Warning is something a user should know about a valid plan: Deploy logs
// it on the resource it concerns (`pulumi preview` and `up` show it).
type Warning struct {
	// Path is the stack file's key it is about.
	Path, Message string
}

func (w Warning) String() string { return w.Path + ": " + w.Message }

// Warnings lists what the plan does that a reviewer should not miss: a
// capacity check overridden, traffic in plain HTTP.
func (p *Plan) Warnings() []Warning {
	var ws []Warning
	cfg := p.Config
	if p.Ingress != nil && p.Ingress.CertificateARN == "" {
		if cfg.Ingress.AllowPlainHTTP {
			ws = append(ws, Warning{"ingress.allowPlainHttp", "the internet-facing ALB listens on plain HTTP (port 80) only; set ingress.certificateArn to an ACM certificate to serve HTTPS"})
		} else {
			ws = append(ws, Warning{"ingress.certificateArn", "not set: the internal ALB listens on plain HTTP (port 80) only; set an ACM certificate to serve HTTPS"})
		}
	}
	if p.Ingress != nil && cfg.Environment == stacks.Production && cfg.Ingress.AccessLogs == nil {
		ws = append(ws, Warning{"ingress.accessLogs", "not set: the production ALB keeps no access logs; set {bucket: <S3 bucket>, prefix: <stack>} to record every request"})
	}
	if p.Monitoring != nil && len(cfg.Monitoring.Prometheus.SelectorLabels) == 0 {
		ws = append(ws, Warning{"monitoring.prometheus.selectorLabels", "not set: only a Prometheus that selects every ServiceMonitor and PrometheusRule picks this stack's up (kube-prometheus-stack selects {release: <its release>})"})
	}
	if p.LoadTest == nil {
		return ws
	}
	if cfg.LoadTest.Target.Ingress && p.Ingress != nil && p.Ingress.CertificateARN == "" {
		ws = append(ws, Warning{"loadtest.target.ingress", "the ingress has no certificate: the runners send plain HTTP to " + LoadTestTargetURL(cfg)})
	}
	if v, i, judged := cfg.CapacityVerdict(); judged && !v.OK() && cfg.LoadTest.AllowCapacityOverride {
		ws = append(ws, Warning{"loadtest.allowCapacityOverride", fmt.Sprintf(
			"the capacity check is overridden: the %s peak needs %d pods of %s but services[%d].hpa.maxReplicas is %d, so the test will hold the HPA at its ceiling and may fail its thresholds",
			v.Shape, v.PodsNeeded, v.Service, i, v.MaxReplicas)})
	}
	return ws
}

// Validate runs every component's own checks, under the stack file's paths.
func (p *Plan) Validate() error {
	var errs validate.Errors
	errs.Merge(p.Identity.Validate("serviceAccount"))
	errs.Merge(p.App.Validate("app"))
	for i, s := range p.Services {
		errs.Merge(s.Args.Validate(validate.Index("services", i)))
	}
	if p.Ingress != nil {
		errs.Merge(p.Ingress.Validate("ingress", p.Config.ServiceNames()))
	}
	if p.NetworkPolicies != nil {
		errs.Merge(p.NetworkPolicies.Validate("networkPolicy"))
	}
	if r := p.Redis; r != nil {
		if r.ElastiCache != nil {
			// The network is checked by stacks (IDs or a stack reference);
			// its values exist only once Deploy reads them.
			errs.Merge(r.ElastiCache.ValidateSettings("redis.elasticache"))
		}
		// A Redis without clients is reported on redis.mode by the stack
		// file's checks; the component's own check would say it again.
		if r.InCluster != nil && len(r.InCluster.Clients) > 0 {
			errs.Merge(r.InCluster.Validate("redis.inCluster"))
		}
	}
	if p.LoadTest != nil {
		errs.Merge(p.LoadTest.WithDefaults().Validate("loadtest"))
	}
	p.validateCapacity(&errs)
	if p.Monitoring != nil {
		// The settings only: the rest is wired from keys other checks own
		// (the services', the namespace), and the latency threshold is the
		// stack file's own check.
		errs.Merge(validate.Under("monitoring", p.Monitoring.Watch.Settings.Validate()))
	}
	return errs.Err()
}

// webServiceArgs maps a service's config onto the component's plain args;
// Deploy adds the Inputs (namespace, config names, annotations).
func webServiceArgs(c *stacks.Config, s stacks.ServiceConfig) components.WebServiceArgs {
	return components.WebServiceArgs{
		Name: s.Name, PartOf: c.Namespace, Image: s.Image, Port: s.Port, MetricsPort: s.MetricsPort, Env: s.Env,
		Resources: s.Resources, HPA: s.HPA, PDB: s.PDB, Probe: s.Probe, Shutdown: s.Shutdown,
		RunAsUser: s.RunAsUser, WritableRootFilesystem: s.WritableRootFilesystem, Zones: c.Cluster.Zones,
		RequirePinnedImage: c.Environment == stacks.Production, Placement: placement(c),
	}
}

// identityArgs: with an API token mounted, the Role may read exactly the
// app's ConfigMap and Secret; without one (the default) the pods cannot
// use a Role, and get none.
func identityArgs(c *stacks.Config) components.ServiceIdentityArgs {
	args := components.ServiceIdentityArgs{
		Name: c.ServiceAccount.Name, PartOf: c.Namespace,
		IAMRoleARN: c.ServiceAccount.IAMRoleARN, AutomountToken: c.ServiceAccount.AutomountToken,
	}
	if args.AutomountToken {
		args.ReadableConfigMaps, args.ReadableSecrets = []string{c.App.ConfigMapName}, []string{c.App.SecretName}
	}
	return args
}

// appConfigArgs: the ConfigMap holds the settings, the Secret the secret
// config values, as secret inputs.
func appConfigArgs(c *stacks.Config, key pulumi.StringInput) components.AppConfigArgs {
	secrets := map[string]pulumi.StringInput{}
	for env, key := range c.App.SecretEnv {
		if key != "" {
			secrets[env] = c.Secrets[env].Input()
		}
	}
	return components.AppConfigArgs{
		ConfigMapName: c.App.ConfigMapName, SecretName: c.App.SecretName, PartOf: c.Namespace,
		Settings: c.AppSettings(), Secrets: secrets, ChecksumKey: key,
	}
}

// checksumKey keys the pods' secret checksums: a digest of the stack's
// secret values the pods receive (the app's secrets and the Redis token),
// length-prefixed in key order, itself a secret. A reader of pods has none
// of it; rotating one of them rolls the pods, as the checksum must.
func checksumKey(c *stacks.Config) pulumi.StringInput {
	h := sha256.New()
	fmt.Fprint(h, "cirkelline checksum key v1\n")
	for _, env := range slices.Sorted(maps.Keys(c.Secrets)) {
		v := c.Secrets[env].Reveal()
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(env), env, len(v), v)
	}
	token := c.Redis.AuthToken.Reveal()
	fmt.Fprintf(h, "redis=%d:%s\n", len(token), token)
	return stacks.NewSecret(hex.EncodeToString(h.Sum(nil))).Input()
}

// networkPoliciesArgs: default deny, then what each service needs.
func networkPoliciesArgs(c *stacks.Config) components.NetworkPoliciesArgs {
	n := c.NetworkPolicy
	args := components.NetworkPoliciesArgs{
		PartOf: c.Namespace, IngressCIDRs: n.IngressCIDRs, HTTPSEgressCIDRs: n.HTTPSEgressCIDRs,
		RedisCIDRs: n.RedisCIDRs, RedisPort: int32(c.Redis.ElastiCache.Port), ExtraEgress: n.ExtraEgress,
	}
	if c.Redis.Mode == stacks.RedisInCluster {
		// ipBlock rules need not match pod IPs; select the Redis pod instead.
		args.RedisPort = components.RedisPort
		args.RedisPodSelector = components.SelectorLabels(c.Namespace, redisName(c))
	}
	for _, s := range c.Services {
		args.Services = append(args.Services, components.PolicyService{Name: s.Name, Port: s.Port, UsesRedis: s.Redis})
	}
	if c.LoadTest.Enabled {
		// The runners must reach the services even when ingressCidrs narrows who else may.
		args.AllowFromPods = components.SelectorLabels(c.Namespace, components.LoadTestName)
	}
	return args
}

// monitoringArgs: a ServiceMonitor and alerts per service, through its
// ClusterIP Service's "metrics" port, the latency alert at the load test's
// p95 threshold.
func monitoringArgs(c *stacks.Config) components.MonitoringArgs {
	watch := monitoring.Args{
		Settings: c.Monitoring.Settings, Stack: c.Stack, Namespace: c.Namespace,
		Labels: components.Labels(c.Namespace, c.Namespace+monitoringSuffix, "monitoring"),
	}
	watch.Thresholds.LatencyP95, _ = c.LatencyP95()
	for _, s := range c.Services {
		svc := monitoring.Service{
			Name: s.Name, Selector: webServiceSelector(c.Namespace, s.Name),
			PodSelector: components.SelectorLabels(c.Namespace, s.Name),
			Port:        components.MetricsPortName, Container: components.AppContainerName,
		}
		if !s.HPA.Disabled {
			svc.HPA = s.Name + components.HPASuffix
		}
		watch.Services = append(watch.Services, svc)
	}
	return components.MonitoringArgs{Watch: watch, Dashboard: components.DashboardConfigMapArgs{Name: c.DashboardConfigMapName()}}
}

// webServiceSelector selects a web service's ClusterIP Service, not its
// headless one (whose component is components.PeersComponent): each pod is
// scraped once.
func webServiceSelector(partOf, name string) map[string]string {
	l := components.SelectorLabels(partOf, name)
	l[components.LabelComponent] = components.WebComponent
	return l
}

// redisName names the stack's Redis objects.
func redisName(c *stacks.Config) string { return c.Namespace + redisSuffix }

// RedisEnvName names the ConfigMap and Secret holding the REDIS_* env.
func RedisEnvName(c *stacks.Config) string { return redisName(c) + "-env" }

// redisClients are the services that asked for Redis.
func redisClients(c *stacks.Config) []string {
	var names []string
	for _, s := range c.Services {
		if s.Redis {
			names = append(names, s.Name)
		}
	}
	return names
}

func redisPlan(c *stacks.Config, key pulumi.StringInput) *RedisPlan {
	r := c.Redis
	if r.Mode != stacks.RedisElastiCache && r.Mode != stacks.RedisInCluster {
		return nil
	}
	tls := r.Mode == stacks.RedisElastiCache && *r.ElastiCache.TransitEncryption
	_, plain := redisenv.Env{DB: r.DB, MaxConnections: r.MaxConnections, TLS: tls}.Vars()
	p := &RedisPlan{
		Name: redisName(c), TLS: tls, DB: r.DB, Password: r.AuthToken.Input(),
		Env: components.AppConfigArgs{
			ConfigMapName: RedisEnvName(c), SecretName: RedisEnvName(c), PartOf: c.Namespace,
			Settings: plain, ChecksumName: "redis", ChecksumKey: key,
		},
	}
	switch r.Mode {
	case stacks.RedisElastiCache:
		args := components.ElastiCacheRedisArgs{ElastiCacheSpec: r.ElastiCache.ElastiCacheSpec}
		p.Network = &r.ElastiCache.ElastiCacheNetwork
		if !r.AuthToken.IsZero() {
			args.AuthToken = r.AuthToken.Input()
		}
		p.ElastiCache = &args
	case stacks.RedisInCluster:
		p.Host = components.ServiceDNSName(redisName(c), c.Namespace)
		p.InCluster = &components.InClusterRedisArgs{
			Name: redisName(c), PartOf: c.Namespace, Image: r.InCluster.Image, Resources: r.InCluster.Resources,
			Password: r.AuthToken.Input(), Clients: redisClients(c), Placement: placement(c),
		}
	}
	return p
}

// loadTestArgs runs the stack's k6 test against its target.
func loadTestArgs(c *stacks.Config) components.LoadTestArgs {
	lt := c.LoadTest
	credentials := map[string]pulumi.StringInput{}
	for env, secret := range c.LoadTestSecrets {
		credentials[env] = secret.Input()
	}
	return components.LoadTestArgs{
		LoadTestSpec: lt.LoadTestSpec, JobName: c.LoadTestJobName(), PartOf: c.Namespace, Run: c.LoadTestRun(),
		TargetURL: pulumi.String(LoadTestTargetURL(c)), Target: loadTestEgress(c), Credentials: credentials,
		Placement: placement(c),
	}
}

// loadTestEgress is where the runners' load goes, for their egress
// policy:
//   - a service (the default): its pods, on their port;
//   - the ingress: the ALB's listener, 443 (80 without a certificate), on
//     networkPolicy.ingressCidrs (the ALB's subnets) when the ALB is
//     internal; an internet-facing ALB's host resolves to public
//     addresses AWS assigns and changes, which the runners reach through
//     the NAT gateway and the stack does not know, so any address there;
//   - a URL: its port, on its address when it is an IP, else any address.
//
// Zero when the config names no target (which its checks refuse).
func loadTestEgress(c *stacks.Config) components.LoadTestEgress {
	t := c.LoadTest.Target
	switch {
	case t.URL != "":
		u, err := url.Parse(t.URL)
		if err != nil {
			return components.LoadTestEgress{}
		}
		port := map[string]int32{"http": 80, "https": 443}[u.Scheme]
		if n, err := strconv.Atoi(u.Port()); err == nil {
			port = int32(n)
		}
		cidr := components.AnyIPv4
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
			cidr = netip.PrefixFrom(ip, ip.BitLen()).String()
		}
		return components.LoadTestEgress{CIDRs: []string{cidr}, Port: port}
	case t.Ingress && len(c.Ingress.Hosts) > 0:
		port := int32(443)
		if c.Ingress.CertificateARN == "" {
			port = 80
		}
		cidrs := []string{components.AnyIPv4}
		if c.Ingress.Scheme == components.AlbInternal && len(c.NetworkPolicy.IngressCIDRs) > 0 {
			cidrs = slices.Clone(c.NetworkPolicy.IngressCIDRs)
		}
		return components.LoadTestEgress{CIDRs: cidrs, Port: port}
	}
	svc, _, ok := c.LoadTestTargetService()
	if !ok {
		return components.LoadTestEgress{}
	}
	return components.LoadTestEgress{Pods: components.SelectorLabels(c.Namespace, svc.Name), Port: svc.Port}
}

// LoadTestTargetURL is BASE_URL: an explicit URL, the first ingress host
// (https, or http without a certificate), or the target service's
// in-cluster name; "" when the config names no target at all. An ingress
// target without a host (which the stack file's checks refuse) falls back
// to the target service, so no config makes it fail.
func LoadTestTargetURL(c *stacks.Config) string {
	t := c.LoadTest.Target
	switch {
	case t.URL != "":
		return t.URL
	case t.Ingress && len(c.Ingress.Hosts) > 0:
		scheme := "https"
		if c.Ingress.CertificateARN == "" {
			scheme = "http"
		}
		return scheme + "://" + c.Ingress.Hosts[0]
	}
	svc, _, ok := c.LoadTestTargetService()
	if !ok {
		return ""
	}
	return fmt.Sprintf("http://%s:%d", components.ServiceDNSName(svc.Name, c.Namespace), svc.Port)
}
