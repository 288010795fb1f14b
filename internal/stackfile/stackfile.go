// Package stackfile reads a stack's Pulumi.<stack>.yaml and the project's
// Pulumi.yaml into the config the engine would pass the program, without
// decrypting a secure value.
package stackfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/encoding"
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
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseStackConfig(project, stack, data)
}

// ParseStackConfig reads a stack file's content (Pulumi.<stack>.yaml) as
// LoadStackConfig does, for a project already read: the stack file's
// values over the project's declared defaults.
func ParseStackConfig(project *workspace.Project, stack string, data []byte) (*StackConfig, error) {
	name := "Pulumi." + stack + ".yaml"
	// As workspace.LoadProjectStack reads a file: without a UTF-8 BOM.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	ps, err := workspace.LoadProjectStackBytes(nil, project, data, name, encoding.YAML)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	values, err := ps.Config.Decrypt(config.NewBlindingDecrypter())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	sc := &StackConfig{Project: project.Name.String(), Stack: stack, Values: map[string]string{}}
	for k, v := range values {
		sc.Values[k.String()] = v
	}
	for _, k := range ps.Config.SecureKeys() {
		sc.SecretKeys = append(sc.SecretKeys, k.String())
	}
	slices.Sort(sc.SecretKeys)
	defaults, err := projectDefaults(project)
	if err != nil {
		return nil, err
	}
	for k, v := range defaults {
		if _, set := sc.Values[k]; !set {
			sc.Values[k] = v
		}
	}
	return sc, nil
}

// ProjectDefaults returns the defaults Pulumi.yaml in dir declares, by fully
// qualified key, as the engine would pass them (objects as JSON).
func ProjectDefaults(dir string) (map[string]string, error) {
	project, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read Pulumi.yaml: %w", err)
	}
	return projectDefaults(project)
}

func projectDefaults(project *workspace.Project) (map[string]string, error) {
	out := map[string]string{}
	for key, decl := range project.Config {
		if decl.Default == nil {
			continue
		}
		full := key
		if !strings.Contains(key, ":") {
			full = project.Name.String() + ":" + key
		}
		if d, ok := decl.Default.(string); ok {
			out[full] = d
			continue
		}
		b, err := json.Marshal(decl.Default)
		if err != nil {
			return nil, fmt.Errorf("Pulumi.yaml: default of %s: %w", key, err)
		}
		out[full] = string(b)
	}
	return out, nil
}
