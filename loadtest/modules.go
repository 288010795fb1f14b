package loadtest

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// File is a script file k6 loads: its name in the Job's ConfigMap (and so
// in /scripts) and in an export directory, and its content.
type File struct {
	Name string
	Body []byte
}

// Files returns the flow's script, then the modules it imports by a
// relative path (scripts/pacing.js), transitively, in the order first
// imported. k6 resolves './pacing.js' against the importing script's
// directory (see scripts/pacing.js), so these files must stand next to each
// other: the Job's ConfigMap and `loadtest export` carry all of them.
func (f Flow) Files() ([]File, error) { return scriptFiles(f.FileName()) }

// scriptFiles reads name from scripts/ and every script it imports by a
// relative path, each once.
func scriptFiles(name string) ([]File, error) {
	var files []File
	seen := map[string]bool{name: true}
	for queue := []string{name}; len(queue) > 0; queue = queue[1:] {
		body, err := scripts.ReadFile("scripts/" + queue[0])
		if err != nil {
			return nil, err
		}
		imports, err := localImports(queue[0], body)
		if err != nil {
			return nil, err
		}
		for _, m := range imports {
			if !seen[m] {
				seen[m] = true
				queue = append(queue, m)
			}
		}
		files = append(files, File{Name: queue[0], Body: body})
	}
	return files, nil
}

// importRE matches a static import or re-export's module specifier:
// `import x from 'm'`, `import { a, b as c } from "m"` (over several lines
// too), `import * as ns from 'm'`, `import 'm'`, `export { a } from 'm'`,
// `export * from 'm'`. k6 has no import maps or bare package names: a
// specifier is a k6 module ("k6", "k6/..."), a path or a URL.
var importRE = regexp.MustCompile(`(?m)^[ \t]*(?:(?:import|export)\b[\w$\s{},*]*?\bfrom\s*|import\s*)['"]([^'"]+)['"]`)

// localImports lists the files a script imports by a relative path, by
// file name. k6's own modules are left out. Any other specifier is an
// error: the ConfigMap is one flat directory, so a module must be a file
// next to the script ('./x.js'), and remote modules would make a run
// depend on a host the Job's network policy may not reach.
func localImports(script string, body []byte) ([]string, error) {
	var names []string
	for _, m := range importRE.FindAllSubmatch(body, -1) {
		spec := string(m[1])
		if spec == "k6" || strings.HasPrefix(spec, "k6/") {
			continue
		}
		name, ok := strings.CutPrefix(spec, "./")
		if !ok || name == "" || strings.Contains(name, "/") || path.Ext(name) != ".js" {
			return nil, fmt.Errorf("scripts/%s imports %q: a script may import k6's modules (k6, k6/...) or a file next to it (./<name>.js)", script, spec)
		}
		names = append(names, name)
	}
	return names, nil
}
