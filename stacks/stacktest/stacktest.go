// Package stacktest holds the stack configs the tests of several packages
// start from.
package stacktest

import (
	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/stacks"
)

// ProductionSource is a valid production stack of the cirkelline project;
// each bad-config test case mutates one thing of a fresh copy.
func ProductionSource() stacks.MapSource {
	return stacks.MapSource{
		Values: map[string]string{
			"cirkelline:environment":   "production",
			"cirkelline:services":      `[{"name":"cirkelline-backend","image":"ghcr.io/cirkelline/cirkelline-backend:1.0.0","hpa":{"minReplicas":3,"maxReplicas":50}}]`,
			"cirkelline:ingress":       `{"hosts":["api.cirkelline.com"],"certificateArn":"arn:aws:acm:eu-north-1:123456789012:certificate/abc-123","accessLogs":{"bucket":"cirkelline-alb-logs","prefix":"production"}}`,
			"cirkelline:networkPolicy": `{"ingressCidrs":["10.0.0.0/22"]}`,
			"cirkelline:databaseUrl":   "postgres://u:p@db:5432/cirkelline",
			"cirkelline:jwtSecret":     "s3cr3t-s3cr3t-s3cr3t",
			"kubernetes:context":       "prod",
		},
		Secrets: []string{"cirkelline:databaseUrl", "cirkelline:jwtSecret"},
	}
}

// ProductionService is the service ProductionSource loads to, written out:
// its own values on the seed's defaults (README, "Config reference"), so
// that a test comparing with it fails on a wrong default.
func ProductionService() stacks.ServiceConfig {
	zero, three, one := int32(0), int32(300), int32(1)
	return stacks.ServiceConfig{
		Name: "cirkelline-backend", Image: "ghcr.io/cirkelline/cirkelline-backend:1.0.0",
		Port: 8000, MetricsPort: 9090, AppConfig: true, RunAsUser: 10001,
		Resources: components.ResourcesSpec{CPURequest: "250m", CPULimit: "1000m", MemoryRequest: "512Mi", MemoryLimit: "2Gi"},
		HPA: components.HPASpec{
			MinReplicas: 3, MaxReplicas: 50, CPUUtilization: 70, MemoryUtilization: 80,
			ScaleUp:   components.ScalingRules{StabilizationSeconds: &zero, Percent: 100, Pods: 4, PeriodSeconds: 15, SelectPolicy: "Max"},
			ScaleDown: components.ScalingRules{StabilizationSeconds: &three, Percent: 10, Pods: 1, PeriodSeconds: 60, SelectPolicy: "Max"},
		},
		PDB:      components.PDBSpec{MaxUnavailable: &one},
		Probe:    components.ProbeSpec{Path: "/health", ReadinessPath: "/health", StartupSeconds: 120, PeriodSeconds: 10, TimeoutSeconds: 3},
		Shutdown: components.ShutdownSpec{PreStopSeconds: 15, DeregistrationDelaySeconds: 30, GracePeriodSeconds: 45},
	}
}
