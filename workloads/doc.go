// Package workloads composes the components into what runs in a stack's
// cluster: namespace, identity, shared config, the web services, the ALB
// ingress and the network policies. Structure is decided by the plain
// stacks.Config; only values flow through pulumi.Inputs.
package workloads
