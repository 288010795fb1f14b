// Command deliverycheck checks the GitHub workflows for what actionlint does
// not: credentials outside environments, deploy credentials on the review
// path, deploy jobs off main, actions not pinned by SHA (the rules are in
// workflows.go). Run by .ci/actionlint.sh:
//
//	go run ./commands/deliverycheck [.github/workflows]
//
// It prints one line a finding and exits 1 when there is any.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	dir := ".github/workflows"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	findings, n, err := checkDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deliverycheck:", err)
		os.Exit(2)
	}
	for _, f := range findings {
		fmt.Println(f)
	}
	if len(findings) > 0 {
		fmt.Fprintf(os.Stderr, "deliverycheck: %d finding(s) in %s\n", len(findings), dir)
		os.Exit(1)
	}
	fmt.Printf("deliverycheck: %d workflows clean\n", n)
}

// checkDir checks every *.yml and *.yaml file of dir.
func checkDir(dir string) ([]Finding, int, error) {
	var files []string
	for _, pattern := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, 0, err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("no workflow files in %s", dir)
	}
	sort.Strings(files)
	var all []Finding
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, err
		}
		found, err := CheckWorkflow(f, src)
		if err != nil {
			return nil, 0, err
		}
		all = append(all, found...)
	}
	return all, len(files), nil
}
