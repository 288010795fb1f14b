package stacks

import (
	"fmt"
	"maps"
	"slices"

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
	// The Namespace component owns the namespace's rules; the stack file
	// checks them first, as everything else is named after it.
	keys := map[string]string{"name": "namespace", "podSecurity": "podSecurity"}
	errs.Merge(validate.Map(components.NamespaceArgs{Name: c.Namespace, PodSecurity: c.PodSecurity}.Validate(""), func(p string) string { return keys[p] }))
	validate.OneOf(&errs, "app.logLevel", c.App.LogLevel, logLevels...)
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
			errs.Add(validate.Join(path, "name"), s.Name, fmt.Sprintf("is used twice (also services[%d])", j), "give each service its own name")
		}
		seen[s.Name] = i
		if s.AppConfig {
			for _, env := range slices.Sorted(maps.Keys(s.Env)) {
				// A container's env wins over its envFrom, so the plain value
				// would replace the Secret's and sit in the Deployment in clear text.
				if key := c.App.SecretEnv[env]; key != "" {
					errs.Add(validate.Key(validate.Join(path, "env"), env), nil,
						fmt.Sprintf("shadows the secret app.secretEnv.%s (secret config %q) with a plain value, in clear text in the Deployment", env, key),
						fmt.Sprintf("remove services[%d].env.%s; to change the secret run: pulumi config set --secret %s <value> --stack %s", i, env, key, c.Stack))
				}
			}
		}
	}

	if c.Ingress.Enabled {
		switch in := c.Ingress; {
		case c.Environment == Production && in.CertificateARN == "":
			errs.Add("ingress.certificateArn", nil, "is required in production (HTTPS only)",
				"set ingress.certificateArn to the ACM certificate for "+firstHost(in.Hosts))
		case in.Scheme == components.AlbInternetFacing && in.CertificateARN == "" && !in.AllowPlainHTTP:
			errs.Add("ingress.certificateArn", nil, "is not set on an internet-facing ALB: it would serve plain HTTP to the internet (logins, tokens and uploads in clear)",
				"set ingress.certificateArn to the ACM certificate for "+firstHost(in.Hosts)+`, use scheme "internal", or set ingress.allowPlainHttp: true to accept plain HTTP`)
		}
	}
	if c.Ingress.Enabled && c.NetworkPolicy.Enabled && len(c.NetworkPolicy.IngressCIDRs) == 0 && c.Environment != Development {
		errs.Add("networkPolicy.ingressCidrs", nil, "is empty: the services' ports are open to every pod of the cluster, which can bypass the ALB (its WAF, TLS and routing)",
			"set it to the CIDRs of the subnets the ALB runs in (the cluster stack's public subnets), e.g. [10.0.0.0/22, 10.0.4.0/22, 10.0.8.0/22]; the load-test runners and Prometheus are let in on their own")
	}
	c.validateRedis(&errs, secretsKnown)
	c.validateLoadTest(&errs)
	c.validateMonitoring(&errs)
	c.validateCluster(&errs, secretsKnown)
	c.validateRehearsal(&errs)
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
