package render

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Diff renders the stack at a git ref (with that ref's own code, built from
// `git archive`) and in the working tree, and returns the unified diff of
// the manifests: empty when nothing changes. A stack that does not exist at
// ref shows as all new.
func Diff(opts Options, program Program, ref string) (string, error) {
	if opts.Dir == "" {
		opts.Dir = "."
	}
	head, err := Stack(opts, program)
	if err != nil {
		return "", fmt.Errorf("render the working tree: %w", err)
	}
	work, err := os.MkdirTemp("", "render-diff-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	for _, d := range []string{"base", "head", "src"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return "", err
		}
	}
	// As Run writes them, so a dashboard change shows as JSON too, and a
	// renamed resource as a URN gone.
	if err := WriteResult(filepath.Join(work, "head"), head); err != nil {
		return "", err
	}
	if err := checkout(opts.Dir, ref, filepath.Join(work, "src")); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(work, "src", "Pulumi."+opts.Stack+".yaml")); err == nil {
		// The ref's own program renders the ref's stack: code changes show too.
		cmd := exec.Command("go", "run", ".", "render", "--stack", opts.Stack, "--out", filepath.Join(work, "base"))
		cmd.Dir = filepath.Join(work, "src")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("render %s at %s: %v\n%s", opts.Stack, ref, err, stderr.String())
		}
	}
	cmd := exec.Command("git", "diff", "--no-index", "--no-color", "--no-renames", "base", "head")
	cmd.Dir = work
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) { // 1: there are differences
		return "", fmt.Errorf("git diff: %v\n%s", err, stderr.String())
	}
	return out.String(), nil
}

// checkout writes the tree of ref into dir, without touching the work tree.
func checkout(repo, ref, dir string) error {
	cmd := exec.Command("git", "archive", "--format=tar", ref)
	cmd.Dir = repo
	var archive, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &archive, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git archive %s: %v: %s", ref, err, strings.TrimSpace(stderr.String()))
	}
	tr := tar.NewReader(&archive)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive of %s: %w", ref, err)
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, filepath.Clean(dir)+string(os.PathSeparator)) {
			continue // never write outside dir
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
}
