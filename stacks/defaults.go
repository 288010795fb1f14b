package stacks

import "github.com/cirkelline/infra/components"

// The seed's names and the default image.
const (
	DefaultNamespace   = "cirkelline"
	DefaultServiceName = "cirkelline-backend"
	DefaultImage       = "ghcr.io/cirkelline/cirkelline-backend:latest"
)

// Defaults is the seed's base stack (k8s/base): the cirkelline backend with
// HPA 2–20 at CPU 70 % and memory 80 %, behind an internet-facing ALB.
// A stack file changes only what differs from it. What this project
// chooses is written here; every other default is the owning component's,
// referenced by name, so the decoded config is complete and a value a
// stack file sets to zero can be told from one it leaves out.
func Defaults() Config {
	backend := DefaultService()
	backend.Name = DefaultServiceName
	backend.Image = DefaultImage
	c := Config{
		Environment: Development,
		Namespace:   DefaultNamespace,
		PodSecurity: components.PodSecurityRestricted,
		App: AppEnvConfig{
			LogLevel:  "INFO",
			SecretEnv: map[string]string{"DATABASE_URL": "databaseUrl", "JWT_SECRET_KEY": "jwtSecret"},
		},
		Services: []ServiceConfig{backend},
		Ingress: IngressConfig{
			Enabled:     true,
			IngressSpec: components.IngressSpec{Routes: []components.IngressRoute{{Path: "/", Service: DefaultServiceName}}},
		},
		Redis:    defaultRedis(),
		LoadTest: defaultLoadTest(),
		Cluster:  defaultCluster(),
		NetworkPolicy: NetworkPolicyConfig{
			Enabled:          true,
			HTTPSEgressCIDRs: []string{components.AnyIPv4},
			RedisCIDRs:       []string{components.AnyIPv4},
		},
	}
	c.specDefaults()
	return c
}

// specDefaults applies each component spec's own defaults (its
// WithDefaults): to Defaults, so they show in Pulumi.yaml, and again after
// decoding, to the entries and fields a stack file sets to zero.
func (c *Config) specDefaults() {
	c.Ingress.IngressSpec = c.Ingress.WithDefaults()
	c.LoadTest.LoadTestSpec = c.LoadTest.LoadTestSpec.WithDefaults()
	c.Monitoring.Settings = c.Monitoring.WithDefaults()
}

// DefaultService is what every entry of services starts from, before the
// stack file's fields are applied: everything but Name and Image. The PDB is
// left unset here and defaulted after decoding, so that a stack file can pick
// minAvailable without also clearing maxUnavailable.
func DefaultService() ServiceConfig {
	probe := components.ProbeSpec{}.WithDefaults()
	probe.ReadinessPath = "" // follows Path unless set; see resolveNames
	return ServiceConfig{
		Port:        components.DefaultServicePort,
		MetricsPort: components.DefaultMetricsPort,
		AppConfig:   true,
		Resources:   components.DefaultResources(),
		HPA:         components.DefaultHPA(),
		Probe:       probe,
		Shutdown:    components.DefaultShutdown(),
		RunAsUser:   components.DefaultRunAsUser,
	}
}

// resolveNames fills names derived from other fields.
func (c *Config) resolveNames() {
	if c.ServiceAccount.Name == "" {
		c.ServiceAccount.Name = c.Namespace
	}
	if c.App.ConfigMapName == "" {
		c.App.ConfigMapName = c.Namespace + "-config"
	}
	if c.App.SecretName == "" {
		c.App.SecretName = c.Namespace + "-secrets"
	}
	if c.Ingress.Name == "" {
		c.Ingress.Name = c.Namespace
	}
	if c.Ingress.DeletionProtection == nil {
		c.Ingress.DeletionProtection = ptr(c.Environment == Production)
	}
	c.resolveRedis()
	c.resolveLoadTest()
	for i := range c.Services {
		c.Services[i].PDB = c.Services[i].PDB.WithDefaults()
		if c.Services[i].Probe.ReadinessPath == "" {
			c.Services[i].Probe.ReadinessPath = c.Services[i].Probe.Path
		}
	}
}
