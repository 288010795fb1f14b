// Package workloads composes the components into what a stack runs. Load
// reads the stack file (stacks) and plans it: NewPlan copies each
// component's spec from the config as it is and wires names and
// references (the ServiceAccount, ConfigMaps and Secrets a service loads,
// the ingress backends, the Redis env, who may reach whom), as plain data;
// Plan.Validate runs each component's own checks under the stack file's
// keys. Deploy registers what the plan holds, adding only what exists once
// registered (the namespace's output, the Redis endpoint, the config
// checksums).
package workloads
