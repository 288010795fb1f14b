// Package golden holds the module's one -update flag and the comparison of
// a test's output with its golden file. Every test package imports it, so
// `go test ./... -update` rewrites every golden file at once and no test
// binary refuses the flag.
package golden

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the tests produce, instead of comparing")

// Update reports whether the tests run with -update: a golden file is then
// rewritten, not compared.
func Update() bool { return *update }

// Check compares got with the golden file at path (relative to the test's
// package directory). With -update it writes got there first, creating the
// directory. A difference or a missing file fails t with the diff and the
// command that rewrites the file.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := Write(path, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: no golden file (%s writes it)", path, Command(t))
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from what the test produces (-golden +got); review, then %s:\n%s", path, Command(t), Diff(want, got))
	}
}

// Write writes a golden file, creating its directory.
func Write(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write golden file: %w", err)
	}
	return nil
}

// Diff is a line diff of a golden file's content and a test's output
// (-want +got); runs of unchanged lines are elided.
func Diff(want, got []byte) string {
	return cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n"))
}

// Command is the command that rewrites the golden files of t's test:
// `go test ./<package> -run '^TestX$' -update`, the package as a path from
// the module's root.
func Command(t testing.TB) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	return fmt.Sprintf("go test %s -run '^%s$' -update", packageDir(), name)
}

// packageDir is the test's working directory (its package's) as a path
// from the directory holding go.mod, "./..." style.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for root := wd; ; {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			rel, err := filepath.Rel(root, wd)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "."
		}
		root = parent
	}
}
