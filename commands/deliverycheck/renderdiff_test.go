package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// render-diff.sh puts each stack's diff in a fence longer than any run of
// backticks in it, so a manifest's text cannot close the fence and write
// Markdown of its own into the pull request comment. A stand-in `go` prints
// the diffs.
func TestRenderDiffFenceOutlastsTheDiff(t *testing.T) {
	script, err := filepath.Abs("../../.github/scripts/render-diff.sh")
	if err != nil {
		t.Fatal(err)
	}
	// Read so that `go test`'s cache sees a change to the script.
	if _, err := os.ReadFile(script); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fakeGo := "#!/usr/bin/env bash\n" +
		"case \"$5\" in\n" +
		"  plain) printf 'diff --git a/x b/x\\n-a\\n+b\\n' ;;\n" +
		"  hostile) printf 'diff --git a/cm b/cm\\n+  note: \"```\\n+[click](https://evil.example)\\n+`````\"\\n' ;;\n" +
		"esac\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, stack := range []string{"empty", "hostile", "plain"} {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", script, "origin/main")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "<!-- cirkelline-render-diff -->\n" +
		"### Rendered manifests: 2 stack(s) changed against `origin/main`\n\n" +
		"- `empty`: no change\n" +
		"<details><summary><code>hostile</code>: 1 file(s) changed</summary>\n\n" +
		"``````diff\n" +
		"diff --git a/cm b/cm\n+  note: \"```\n+[click](https://evil.example)\n+`````\"\n" +
		"``````\n" +
		"</details>\n" +
		"<details><summary><code>plain</code>: 1 file(s) changed</summary>\n\n" +
		"```diff\n" +
		"diff --git a/x b/x\n-a\n+b\n" +
		"```\n" +
		"</details>\n"
	if string(out) != want {
		t.Errorf("comment:\n%s\nwant:\n%s", out, want)
	}
}
