package stacks

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/validate"
)

// ClusterConfig is how the program reaches the cluster (config key
// "cluster"): through the cluster's own stack, a kubeconfig in secret
// config, or (neither) the default Kubernetes provider with the ambient
// kubeconfig, as for `local` and laptops.
type ClusterConfig struct {
	// StackReference is the cluster's stack ("org/project/stack", e.g. a
	// pulumi-eks stack). Its Outputs.Kubeconfig output becomes one explicit
	// Kubernetes provider, and redis.elasticache reads its network from the
	// same reference unless it names its own. Default: none.
	StackReference string `json:"stackReference,omitempty"`
	// Outputs names what is read from StackReference.
	Outputs ClusterOutputNames `json:"outputs"`
	// Kubeconfig, from secret config (`pulumi config set --secret --path
	// cluster.kubeconfig "$(cat kubeconfig)"`), when there is no cluster
	// stack. Default: none.
	Kubeconfig Secret `json:"kubeconfig,omitzero"`
}

// ClusterOutputNames are the cluster stack's outputs the program reads.
type ClusterOutputNames struct {
	// Kubeconfig is a secret output holding the kubeconfig, as YAML or
	// JSON text or as an object (pulumi-eks exports an object). Default
	// "kubeconfig".
	Kubeconfig string `json:"kubeconfig"`
}

func defaultCluster() ClusterConfig {
	return ClusterConfig{Outputs: ClusterOutputNames{Kubeconfig: "kubeconfig"}}
}

// ExplicitProvider reports whether the stack registers its own Kubernetes
// provider (a kubeconfig from the cluster's stack or from secret config)
// instead of using the default one.
func (c *Config) ExplicitProvider() bool {
	return c.Cluster.StackReference != "" || !c.Cluster.Kubeconfig.IsZero()
}

// validStackReference checks the "org/project/stack" form of a stack name.
func validStackReference(errs *validate.Errors, path, ref string) {
	if parts := strings.Split(ref, "/"); len(parts) != 3 || slices.Contains(parts, "") {
		errs.Add(path, ref, `must be "<org>/<project>/<stack>"`, `use e.g. "acme/eks-cluster/production"`)
	}
}

// validateCluster checks the cluster block; the kubeconfig's content only
// when secretsKnown (never printing it).
func (c *Config) validateCluster(errs *validate.Errors, secretsKnown bool) {
	cl := c.Cluster
	if cl.StackReference != "" {
		validStackReference(errs, "cluster.stackReference", cl.StackReference)
		if cl.Outputs.Kubeconfig == "" {
			errs.Add("cluster.outputs.kubeconfig", nil, "is empty", `name the cluster stack's kubeconfig output, e.g. "kubeconfig"`)
		}
		if !cl.Kubeconfig.IsZero() {
			errs.Add("cluster.kubeconfig", nil, "is set together with cluster.stackReference",
				fmt.Sprintf("take the kubeconfig from one place: remove it with pulumi config rm --path cluster.kubeconfig --stack %s, or drop cluster.stackReference", c.Stack))
		}
	}
	if !cl.Kubeconfig.IsZero() && secretsKnown {
		if err := checkKubeconfig(cl.Kubeconfig.Reveal()); err != nil {
			errs.Add("cluster.kubeconfig", nil, err.Error(), fmt.Sprintf(`set the whole file: pulumi config set --secret --path cluster.kubeconfig "$(cat kubeconfig)" --stack %s`, c.Stack))
		}
	}
}

// checkKubeconfig reports what makes text no kubeconfig, without quoting
// it: a kubeconfig is a YAML (or JSON) Config object with clusters, users
// and contexts (k8s.io/client-go tools/clientcmd/api/v1 Config).
func checkKubeconfig(text string) error {
	var kc struct {
		Kind     string `json:"kind"`
		Clusters []any  `json:"clusters"`
		Users    []any  `json:"users"`
		Contexts []any  `json:"contexts"`
	}
	if err := yaml.Unmarshal([]byte(text), &kc); err != nil {
		return fmt.Errorf("is not YAML or JSON (a kubeconfig is)")
	}
	var missing []string
	for name, list := range map[string][]any{"clusters": kc.Clusters, "users": kc.Users, "contexts": kc.Contexts} {
		if len(list) == 0 {
			missing = append(missing, name)
		}
	}
	if kc.Kind != "" && kc.Kind != "Config" {
		return fmt.Errorf("is a %q, not a kubeconfig (kind: Config)", kc.Kind)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("is not a kubeconfig: it has no %s", strings.Join(missing, ", "))
	}
	return nil
}
