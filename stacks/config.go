// Package stacks is the whole stack configuration as one typed Go value:
// where it is read from (Pulumi config), its defaults (the seed's base
// values), and its validation. Staging and production differ only by what
// their Pulumi.<stack>.yaml files set on top of Defaults.
package stacks

import (
	"github.com/cirkelline/infra/components"
)

// Environment is the kind of stack; production turns on stricter checks.
type Environment string

// The environments a stack can be.
const (
	Development Environment = "development"
	Staging     Environment = "staging"
	Production  Environment = "production"
)

// Config is everything a stack file can set, under the project's namespace
// ("cirkelline:<key>"), one Pulumi config key per top-level field. The json
// tags are the config keys.
type Config struct {
	// Environment is "development", "staging" or "production". Default "development".
	Environment Environment `json:"environment"`
	// Namespace holds every object of the stack. Default "cirkelline".
	Namespace string `json:"namespace"`
	// PodSecurity is the enforced Pod Security Standards level. Default "restricted".
	PodSecurity components.PodSecurityLevel `json:"podSecurity"`
	// ServiceAccount the services run as.
	ServiceAccount ServiceAccountConfig `json:"serviceAccount"`
	// App is the environment shared by all services (ConfigMap and Secret).
	App AppEnvConfig `json:"app"`
	// Services are the stack's web services. Default: the cirkelline backend.
	Services []ServiceConfig `json:"services"`
	// Ingress is the ALB in front of the services.
	Ingress IngressConfig `json:"ingress"`
	// NetworkPolicy restricts the namespace's traffic.
	NetworkPolicy NetworkPolicyConfig `json:"networkPolicy"`
	// Redis is the stack's cache: ElastiCache, in-cluster, or none.
	Redis RedisConfig `json:"redis"`
	// LoadTest is the stack's k6 load test.
	LoadTest LoadTestConfig `json:"loadtest"`
	// Cluster is how the program reaches the cluster.
	Cluster ClusterConfig `json:"cluster"`
	// Monitoring is how Prometheus and Grafana watch the stack.
	Monitoring MonitoringConfig `json:"monitoring"`
	// Rehearsal holds the stack's named bad days for `go run . rehearse`.
	Rehearsal RehearsalConfig `json:"rehearsal"`

	// Project and Stack name the Pulumi project and stack; not config keys.
	Project string `json:"-"`
	Stack   string `json:"-"`
	// Secrets holds the values of App.SecretEnv, by environment variable name,
	// read from Pulumi secret config; not a config key.
	Secrets map[string]Secret `json:"-"`
	// LoadTestSecrets holds the values of LoadTest.SecretEnv; not a config key.
	LoadTestSecrets map[string]Secret `json:"-"`
}

// ServiceAccountConfig is the pods' identity.
type ServiceAccountConfig struct {
	// Name of the ServiceAccount. Default: the namespace's name.
	Name string `json:"name,omitempty"`
	// IAMRoleARN for IRSA (eks.amazonaws.com/role-arn). Default: none.
	IAMRoleARN string `json:"iamRoleArn,omitempty"`
	// AutomountToken mounts an API token into pods. Default false.
	AutomountToken bool `json:"automountToken,omitempty"`
}

// AppEnvConfig is the shared environment of the services (the
// components.AppConfig ConfigMap and Secret).
type AppEnvConfig struct {
	// LogLevel is written as LOG_LEVEL. Default "INFO".
	LogLevel string `json:"logLevel"`
	// Settings are extra non-secret environment variables (ConfigMap data).
	// ENVIRONMENT and LOG_LEVEL are always set from the fields above.
	Settings map[string]string `json:"settings,omitempty"`
	// SecretEnv maps each secret environment variable to the Pulumi secret
	// config key that holds its value, set with
	// `pulumi config set --secret <key> <value>`. Defaults:
	// DATABASE_URL from "databaseUrl" and JWT_SECRET_KEY from "jwtSecret"
	// (the seed's secrets.yaml). Map a variable to "" to drop a default.
	SecretEnv map[string]string `json:"secretEnv,omitempty"`
	// ConfigMapName and SecretName. Defaults "<namespace>-config" and "<namespace>-secrets".
	ConfigMapName string `json:"configMapName,omitempty"`
	SecretName    string `json:"secretName,omitempty"`
}

// ServiceConfig is one web service. Every field but Name and Image has a
// default; see DefaultService.
type ServiceConfig struct {
	// Name of the service's objects. Required.
	Name string `json:"name"`
	// Image with a pinned tag or digest. Required (production refuses "latest").
	Image string `json:"image"`
	// Port the container listens on. Default components.DefaultServicePort (8000).
	Port int32 `json:"port"`
	// MetricsPort the container serves its Prometheus metrics on, apart
	// from Port (which the Ingress routes to), at monitoring.metricsPath.
	// Default components.DefaultMetricsPort (9090).
	MetricsPort int32 `json:"metricsPort"`
	// Env adds plain environment variables to this service only.
	Env map[string]string `json:"env,omitempty"`
	// AppConfig loads the shared ConfigMap and Secret into the service's
	// environment. Default true; a static web client sets false.
	AppConfig bool `json:"appConfig"`
	// Resources: requests and limits. Default 250m–1000m CPU, 512Mi–2Gi memory.
	Resources components.ResourcesSpec `json:"resources"`
	// HPA: autoscaling. Default 2–20 pods, CPU 70 %, memory 80 %.
	HPA components.HPASpec `json:"hpa"`
	// PDB: disruption budget. Default maxUnavailable 1.
	PDB components.PDBSpec `json:"pdb"`
	// Probe: health endpoints. Default "/health" (startup, readiness);
	// liveness a TCP check on the "http" port unless probe.livenessPath.
	Probe components.ProbeSpec `json:"probe"`
	// Shutdown: preStop sleep, the ALB's deregistration delay and the grace
	// period. Default components.DefaultShutdown (15 s, 30 s, 45 s).
	Shutdown components.ShutdownSpec `json:"shutdown"`
	// RunAsUser is the non-root UID. Default components.DefaultRunAsUser (10001).
	RunAsUser int64 `json:"runAsUser"`
	// WritableRootFilesystem turns off the read-only root filesystem. Default false.
	WritableRootFilesystem bool `json:"writableRootFilesystem,omitempty"`
	// Redis hands the stack's Redis to this service (REDIS_URL, REDIS_DB,
	// REDIS_MAX_CONNECTIONS, REDIS_TLS) and opens egress to it. Default false.
	Redis bool `json:"redis,omitempty"`
}

// IngressConfig is the ALB Ingress: the component's spec (its keys and
// defaults, components.IngressSpec), whether there is one, and what only
// a stack decides.
type IngressConfig struct {
	// Enabled creates the Ingress. Default true.
	Enabled bool `json:"enabled"`
	components.IngressSpec
	// AllowPlainHTTP lets an internet-facing ALB without a certificate
	// serve plain HTTP (logins, tokens and uploads in clear). Default
	// false: such a stack is refused; never allowed in production.
	AllowPlainHTTP bool `json:"allowPlainHttp,omitempty"`
}

// NetworkPolicyConfig restricts traffic in the namespace.
type NetworkPolicyConfig struct {
	// Enabled creates the policies. Default true.
	Enabled bool `json:"enabled"`
	// IngressCIDRs may reach the services' ports, besides the load-test
	// runners and Prometheus: the ALB's subnets (with target-type ip the ALB
	// connects from its own addresses there). Default: anywhere, which
	// lets every pod of the cluster bypass the ALB, so staging and
	// production must set it when they have an ingress.
	IngressCIDRs []string `json:"ingressCidrs,omitempty"`
	// HTTPSEgressCIDRs the services may reach on 443. Default [components.AnyIPv4].
	HTTPSEgressCIDRs []string `json:"httpsEgressCidrs"`
	// RedisCIDRs the services may reach on the Redis port. Default [components.AnyIPv4].
	RedisCIDRs []string `json:"redisCidrs"`
	// ExtraEgress adds rules, e.g. the database. Default: none.
	ExtraEgress []components.EgressRule `json:"extraEgress,omitempty"`
}
