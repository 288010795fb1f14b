package workloads

import (
	"fmt"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/stacks"
)

// Suffixes of the names the plan derives from the namespace.
const (
	redisSuffix      = "-redis"
	headroomSuffix   = "-headroom"
	monitoringSuffix = "-monitoring"
)

// derivedName is a name the plan makes from the namespace: the user sets
// only the namespace, so a namespace that makes it too long is a problem
// of namespace, with the limit the derived name puts on it.
type derivedName struct {
	suffix string
	// what carries the name, and limit its length limit there.
	what  string
	limit int
	used  func(*stacks.Config) bool
}

// derivedNames are the names of this plan that grow from the namespace
// beyond it (the namespace's own 63 are checked by the stack file).
// Kubernetes' limits: a Service name is an RFC 1035 label of at most 63
// characters (k8s.io/apimachinery pkg/util/validation:
// DNS1035LabelMaxLength); the headroom's PriorityClass and Deployment
// names are held to a DNS label by the capacity library. Label values
// made from the namespace are shortened to fit (components.LabelValue).
var derivedNames = []derivedName{
	{redisSuffix, "the in-cluster Redis's Service", 63, func(c *stacks.Config) bool { return c.Redis.Mode == stacks.RedisInCluster }},
	{headroomSuffix, "the headroom's PriorityClass and Deployment", 63, func(c *stacks.Config) bool { return c.Cluster.Headroom.Enabled }},
}

// checkDerivedNames reports a namespace too long for a name derived from
// it, at namespace (the key the user sets), with the length that fits
// once every derived name of this stack is counted.
func checkDerivedNames(c *stacks.Config, errs *validate.Errors) {
	if len(c.Namespace) > 63 {
		return // the stack file's own check of namespace says so
	}
	fits, by := 63, derivedName{}
	for _, d := range derivedNames {
		if d.used(c) && d.limit-len(d.suffix) < fits {
			fits, by = d.limit-len(d.suffix), d
		}
	}
	if len(c.Namespace) > fits {
		errs.Add("namespace", c.Namespace,
			fmt.Sprintf("is %d characters long; at most %d fit in this stack, which names %s after it: %q (%d characters, at most %d)",
				len(c.Namespace), fits, by.what, c.Namespace+by.suffix, len(c.Namespace+by.suffix), by.limit),
			fmt.Sprintf("shorten namespace to %d characters or fewer", fits))
	}
}
