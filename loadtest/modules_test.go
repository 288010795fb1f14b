package loadtest

import (
	"reflect"
	"strings"
	"testing"
)

func TestLocalImports(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
		err       string
	}{
		{"k6 modules are not files", "import http from 'k6/http';\nimport { check } from \"k6\";\n", nil, ""},
		{"named, default, namespace, bare and re-exports", `import { newPacer } from './pacing.js';
import def, { a as b } from "./b.js";
import * as ns from './c.js';
import './d.js';
export { x } from './e.js';
export * from './f.js';
`, []string{"pacing.js", "b.js", "c.js", "d.js", "e.js", "f.js"}, ""},
		{"an import over several lines", "import {\n  a,\n  b,\n} from './multi.js';\n", []string{"multi.js"}, ""},
		{"strings and comments that only look like imports", "// import x from './no.js';\nexport const s = 'from ./no.js';\nconst t = \"import './no.js'\";\n", nil, ""},
		{"a parent directory", "import x from '../x.js';\n", nil, `scripts/s.js imports "../x.js"`},
		{"a subdirectory", "import x from './lib/x.js';\n", nil, `imports "./lib/x.js"`},
		{"a remote module", "import x from 'https://jslib.k6.io/k6-utils/1.4.0/index.js';\n", nil, "a file next to it (./<name>.js)"},
		{"no extension", "import x from './x';\n", nil, `imports "./x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := localImports("s.js", []byte(tt.src))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestFlowFiles: each flow is its script, then the shared pacing and
// summary modules, and the shipped scripts import nothing else a run would miss.
func TestFlowFiles(t *testing.T) {
	for _, f := range Flows() {
		files, err := f.Files()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var names []string
		for _, file := range files {
			names = append(names, file.Name)
		}
		if want := []string{f.FileName(), "pacing.js", "summary.js"}; !reflect.DeepEqual(names, want) {
			t.Errorf("%s: files %q, want %q", f, names, want)
		}
		script, _ := f.Script()
		if string(files[0].Body) != string(script) {
			t.Errorf("%s: the first file is not the flow's script", f)
		}
	}
	starter, err := scriptFiles(StarterFile)
	if err != nil || len(starter) != 1 {
		t.Errorf("the starter runs alone in its pod's /scripts with the ConfigMap: %d files, %v", len(starter), err)
	}
}
