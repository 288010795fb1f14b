//go:build tools

// Package tools pins the Pulumi CLI that build.sh builds, so go mod tidy
// keeps it. The Kubernetes provider is not pinned here: it is built from a
// writable copy of its module (see build.sh).
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
