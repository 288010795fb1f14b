package loadtest

import (
	"fmt"
	"os"
	"path/filepath"
)

// OptionsFile is the options document's file name.
const OptionsFile = "options.json"

// Export writes the flow's script and the generated options (with the
// run's tags, as the Job has them) to dir, so the same test runs with a
// local k6: k6 run --config DIR/options.json -e ... DIR/<flow>.js, the -e
// flags being FlowEnv(c).
func Export(dir string, c Config, run RunInfo) ([]string, error) {
	shape, thresholds := c.Resolved()
	opts, err := BuildOptions(shape, thresholds, Tags(c, run)).JSON()
	if err != nil {
		return nil, err
	}
	script, err := c.Flow.Script()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range []struct {
		name string
		body []byte
	}{{OptionsFile, opts}, {c.Flow.FileName(), script}} {
		name, body := f.name, f.body
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return nil, fmt.Errorf("export %s: %w", path, err)
		}
		written = append(written, path)
	}
	return written, nil
}
