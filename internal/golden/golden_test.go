package golden_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cirkelline/infra/internal/golden"
)

// recorder is a testing.TB that keeps what Check reports instead of failing
// the test running it.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper()                   {}
func (r *recorder) Name() string              { return "TestSomething/sub" }
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(a ...any)            { r.fatal = true }

func TestCheck(t *testing.T) {
	if golden.Update() {
		t.Skip("compares, so it cannot run under -update")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	if err := golden.Write(path, []byte("one\ntwo\nthree\n")); err != nil {
		t.Fatal(err)
	}

	same := &recorder{TB: t}
	golden.Check(same, path, []byte("one\ntwo\nthree\n"))
	if len(same.errors) != 0 || same.fatal {
		t.Errorf("equal content reported %q", same.errors)
	}

	differs := &recorder{TB: t}
	golden.Check(differs, path, []byte("one\nTWO\nthree\n"))
	if len(differs.errors) != 1 {
		t.Fatalf("a changed line reported %q, want one error", differs.errors)
	}
	msg := differs.errors[0]
	for _, want := range []string{
		path + " differs",
		"go test ./internal/golden -run '^TestSomething$' -update",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report lacks %q:\n%s", want, msg)
		}
	}
	// The changed line on each side of the diff, and only it (go-cmp varies
	// its spacing on purpose, so the lines are read by their first rune).
	var removed, added []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "-"):
			removed = append(removed, strings.TrimSpace(l[1:]))
		case strings.HasPrefix(l, "+"):
			added = append(added, strings.TrimSpace(l[1:]))
		}
	}
	if !slices.Equal(removed, []string{`"two",`}) || !slices.Equal(added, []string{`"TWO",`}) {
		t.Errorf("the diff removes %q and adds %q, want \"two\" and \"TWO\":\n%s", removed, added, msg)
	}

	missing := &recorder{TB: t}
	golden.Check(missing, filepath.Join(dir, "none.txt"), []byte("x"))
	if len(missing.errors) != 1 || !strings.Contains(missing.errors[0], "no golden file") {
		t.Errorf("a missing file reported %q", missing.errors)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.txt")); err == nil {
		t.Error("Check without -update wrote the missing file")
	}
}

// TestCheckUpdateWrites: under -update, Check writes what the test produced,
// creating the directory, and reports nothing.
func TestCheckUpdateWrites(t *testing.T) {
	was := flag.Lookup("update").Value.String()
	if err := flag.Set("update", "true"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("update", was) })

	path := filepath.Join(t.TempDir(), "new", "b.txt")
	r := &recorder{TB: t}
	golden.Check(r, path, []byte("rendered\n"))
	if len(r.errors) != 0 || r.fatal {
		t.Errorf("Check under -update reported %q", r.errors)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "rendered\n" {
		t.Errorf("golden file holds %q (%v), want %q", b, err, "rendered\n")
	}
}
