package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// StackConfig is a stack's configuration as the engine would pass it to the
// program, with every secure value replaced by "[secret]" (never decrypted).
type StackConfig struct {
	Project string
	Stack   string
	// Values by fully qualified key; objects and arrays as JSON.
	Values map[string]string
	// SecretKeys are the keys whose values are secure in the stack file.
	SecretKeys []string
}

// Stacks lists the stacks that have a Pulumi.<stack>.yaml in dir.
func Stacks(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	slices.Sort(names)
	return names, nil
}

// LoadStackConfig reads Pulumi.yaml and Pulumi.<stack>.yaml from dir and
// merges them as the Pulumi CLI does: the stack file's values over the
// project's declared defaults.
func LoadStackConfig(dir, stack string) (*StackConfig, error) {
	project, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read Pulumi.yaml: %w", err)
	}
	path := filepath.Join(dir, "Pulumi."+stack+".yaml")
	if _, err := os.Stat(path); err != nil {
		known, _ := Stacks(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("stack %q: no %s (stacks here: %s)", stack, filepath.Base(path), strings.Join(known, ", "))
		}
		return nil, err
	}
	ps, err := workspace.LoadProjectStack(nil, project, path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	values, err := ps.Config.Decrypt(config.NewBlindingDecrypter())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	sc := &StackConfig{Project: project.Name.String(), Stack: stack, Values: map[string]string{}}
	for k, v := range values {
		sc.Values[k.String()] = v
	}
	for _, k := range ps.Config.SecureKeys() {
		sc.SecretKeys = append(sc.SecretKeys, k.String())
	}
	slices.Sort(sc.SecretKeys)
	for key, decl := range project.Config {
		full := key
		if !strings.Contains(key, ":") {
			full = sc.Project + ":" + key
		}
		if _, set := sc.Values[full]; set || decl.Default == nil {
			continue
		}
		switch d := decl.Default.(type) {
		case string:
			sc.Values[full] = d
		default:
			b, err := json.Marshal(d)
			if err != nil {
				return nil, fmt.Errorf("Pulumi.yaml: default of %s: %w", key, err)
			}
			sc.Values[full] = string(b)
		}
	}
	return sc, nil
}
