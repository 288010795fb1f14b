package stacks

import (
	"encoding/json"
	"os"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Source is where the stack's config comes from: the Pulumi engine during
// `pulumi up`, or the stack files themselves during an offline render.
// Keys are fully qualified ("cirkelline:namespace").
type Source interface {
	// Keys lists every key that is set, in any namespace.
	Keys() []string
	// Get returns a key's value; objects and arrays come as JSON text.
	Get(key string) (string, bool)
	// IsSecret reports whether the key was set with --secret.
	IsSecret(key string) bool
}

// MapSource is a Source over plain maps.
type MapSource struct {
	Values  map[string]string
	Secrets []string
}

// Keys implements Source.
func (m MapSource) Keys() []string {
	keys := make([]string, 0, len(m.Values))
	for k := range m.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Get implements Source.
func (m MapSource) Get(key string) (string, bool) { v, ok := m.Values[key]; return v, ok }

// IsSecret implements Source.
func (m MapSource) IsSecret(key string) bool { return slices.Contains(m.Secrets, key) }

// EnvSource reads the config the Pulumi language host hands a Go program
// (PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS, as pulumi.Run does), so that
// unknown keys can be listed and rejected.
func EnvSource() (MapSource, error) {
	var src MapSource
	if raw := os.Getenv(pulumi.EnvConfig); raw != "" {
		if err := json.Unmarshal([]byte(raw), &src.Values); err != nil {
			return src, err
		}
	}
	if raw := os.Getenv(pulumi.EnvConfigSecretKeys); raw != "" {
		if err := json.Unmarshal([]byte(raw), &src.Secrets); err != nil {
			return src, err
		}
	}
	return src, nil
}
