package loadtest

import (
	"fmt"
	"os"
	"path/filepath"
)

// OptionsFile is the options document's file name.
const OptionsFile = "options.json"

// Export writes the flow's script, the modules it imports (Flow.Files) and
// the generated options (with the run's tags, as the Job has them) to dir,
// so the same test runs with a local k6: k6 run --config DIR/options.json
// -e ... DIR/<flow>.js, the -e flags being FlowEnv(c). It returns the
// paths written, options first, then the flow's files.
func Export(dir string, c Config, run RunInfo) ([]string, error) {
	shape, thresholds := c.Resolved()
	opts, err := BuildOptions(shape, thresholds, Tags(c, run)).JSON()
	if err != nil {
		return nil, err
	}
	scripts, err := c.Flow.Files()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range append([]File{{Name: OptionsFile, Body: opts}}, scripts...) {
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, f.Body, 0o644); err != nil {
			return nil, fmt.Errorf("export %s: %w", path, err)
		}
		written = append(written, path)
	}
	return written, nil
}
