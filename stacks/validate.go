package stacks

import (
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/validate"
)

// logLevels are the levels the backend's logger accepts.
var logLevels = []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

// Validate checks the whole config and returns every problem, joined.
func (c *Config) Validate() error { return c.validate(true) }

// validate checks everything; secret contents only when secretsKnown.
func (c *Config) validate(secretsKnown bool) error {
	var errs validate.Errors
	validate.OneOf(&errs, "environment", c.Environment, Development, Staging, Production)
	validate.DNSLabel(&errs, "namespace", c.Namespace, 63)
	errs.Merge(components.NamespaceArgs{Name: c.Namespace, PodSecurity: c.PodSecurity}.Validate(""))
	errs.Merge(c.ServiceIdentityArgs().Validate("serviceAccount"))
	validate.OneOf(&errs, "app.logLevel", c.App.LogLevel, logLevels...)
	errs.Merge(c.AppConfigArgs().Validate("app"))
	for env := range c.App.Settings {
		if env == "ENVIRONMENT" || env == "LOG_LEVEL" {
			errs.Add(validate.Key("app.settings", env), nil, "is set from the stack config", "set environment or app.logLevel instead")
		}
	}

	if len(c.Services) == 0 {
		errs.Add("services", nil, "must list at least one service", "add e.g. {name: cirkelline-backend, image: ...}")
	}
	seen := map[string]int{}
	for i, s := range c.Services {
		path := validate.Index("services", i)
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			errs.Addf(validate.Join(path, "name"), s.Name, "give each service its own name", "is used twice (also services[%d])", j)
		}
		seen[s.Name] = i
		errs.Merge(c.WebServiceArgs(s).Validate(path))
	}

	if c.Ingress.Enabled {
		errs.Merge(c.AlbIngressArgs().Validate("ingress", c.ServiceNames()))
		if c.Environment == Production && c.Ingress.CertificateARN == "" {
			errs.Add("ingress.certificateArn", nil, "is required in production (HTTPS only)",
				"set ingress.certificateArn to the ACM certificate for "+firstHost(c.Ingress.Hosts))
		}
	}
	if c.NetworkPolicy.Enabled {
		errs.Merge(c.NetworkPoliciesArgs().Validate("networkPolicy"))
	}
	c.validateRedis(&errs, secretsKnown)
	c.validateLoadTest(&errs)
	return errs.Err()
}

func firstHost(hosts []string) string {
	if len(hosts) == 0 {
		return "the ingress hosts"
	}
	return hosts[0]
}

// ServiceNames lists the distinct service names in stack order.
func (c *Config) ServiceNames() []string {
	var names []string
	for _, s := range c.Services {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	return names
}

// Service returns the named service.
func (c *Config) Service(name string) (ServiceConfig, bool) {
	i := slices.IndexFunc(c.Services, func(s ServiceConfig) bool { return s.Name == name })
	if i < 0 {
		return ServiceConfig{}, false
	}
	return c.Services[i], true
}

// WebServiceArgs maps a service's config onto the component's plain args;
// workloads/ adds the Inputs (namespace, config names, annotations).
func (c *Config) WebServiceArgs(s ServiceConfig) components.WebServiceArgs {
	return components.WebServiceArgs{
		Name: s.Name, PartOf: c.Namespace, Image: s.Image, Port: s.Port, Env: s.Env,
		Resources: s.Resources, HPA: s.HPA, PDB: s.PDB, Probe: s.Probe,
		RunAsUser: s.RunAsUser, WritableRootFilesystem: s.WritableRootFilesystem,
		RequirePinnedImage: c.Environment == Production,
	}
}

// AlbIngressArgs maps the ingress config onto the component's plain args.
func (c *Config) AlbIngressArgs() components.AlbIngressArgs {
	i := c.Ingress
	return components.AlbIngressArgs{
		Name: i.Name, PartOf: c.Namespace, Scheme: i.Scheme, CertificateARN: i.CertificateARN,
		GroupName: i.GroupName, WAFv2ACLARN: i.WAFACLARN, HealthCheckPath: i.HealthCheckPath,
		SSLPolicy: i.SSLPolicy, Hosts: i.Hosts, Routes: i.Routes, ExtraAnnotations: i.Annotations,
	}
}

// ServiceIdentityArgs maps the service account config onto the component's
// plain args; the Role may read exactly the app's ConfigMap and Secret.
func (c *Config) ServiceIdentityArgs() components.ServiceIdentityArgs {
	return components.ServiceIdentityArgs{
		Name: c.ServiceAccount.Name, PartOf: c.Namespace,
		IAMRoleARN: c.ServiceAccount.IAMRoleARN, AutomountToken: c.ServiceAccount.AutomountToken,
		ReadableConfigMaps: []string{c.App.ConfigMapName}, ReadableSecrets: []string{c.App.SecretName},
	}
}

// AppSettings is the ConfigMap data: the typed settings plus app.settings.
func (c *Config) AppSettings() map[string]string {
	data := map[string]string{"ENVIRONMENT": string(c.Environment), "LOG_LEVEL": c.App.LogLevel}
	for k, v := range c.App.Settings {
		if _, fixed := data[k]; !fixed {
			data[k] = v
		}
	}
	return data
}

// AppConfigArgs maps the app config onto the component's args, with the
// secret values of c.Secrets as secret inputs.
func (c *Config) AppConfigArgs() components.AppConfigArgs {
	secrets := map[string]pulumi.StringInput{}
	for env, key := range c.App.SecretEnv {
		if key != "" {
			secrets[env] = c.Secrets[env].Input()
		}
	}
	return components.AppConfigArgs{
		ConfigMapName: c.App.ConfigMapName, SecretName: c.App.SecretName, PartOf: c.Namespace,
		Settings: c.AppSettings(), Secrets: secrets,
	}
}

// NetworkPoliciesArgs maps the network policy config onto the component's plain args.
func (c *Config) NetworkPoliciesArgs() components.NetworkPoliciesArgs {
	n := c.NetworkPolicy
	args := components.NetworkPoliciesArgs{
		PartOf: c.Namespace, IngressCIDRs: n.IngressCIDRs, HTTPSEgressCIDRs: n.HTTPSEgressCIDRs,
		RedisCIDRs: n.RedisCIDRs, RedisPort: int32(c.Redis.ElastiCache.Port), ExtraEgress: n.ExtraEgress,
	}
	if c.Redis.Mode == RedisInCluster {
		// ipBlock rules need not match pod IPs; select the Redis pod instead.
		args.RedisPort = components.RedisPort
		args.RedisPodSelector = components.SelectorLabels(c.Namespace, c.RedisName())
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
