// Package stacktest holds the stack configs the tests of several packages
// start from.
package stacktest

import "github.com/cirkelline/infra/stacks"

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
