// Command kube-score runs kube-score (github.com/zegl/kube-score) through its
// Go API on rendered manifests and prints every check result as JSON, for
// the root module's TestKubeScore (kubescore_test.go).
//
// It is a module of its own, like hack/controlplane/tools: kube-score
// v1.20.0 imports k8s.io/api/autoscaling/v2beta1 and v2beta2, which
// k8s.io/api v0.37 (the root module's) no longer has, so it cannot sit in
// the root module's graph; and the program never links it.
//
// The calls are those of kube-score's own command (cmd/kube-score/main.go,
// scoreFiles): parser.New + ParseFiles, score.RegisterAllChecks with a
// config.RunConfiguration, then score.Score.
//
//	go run . [-kubernetes-version v1.37] file.yaml...
//	go run . -list-checks
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/zegl/kube-score/config"
	ks "github.com/zegl/kube-score/domain"
	"github.com/zegl/kube-score/parser"
	"github.com/zegl/kube-score/score"
	"github.com/zegl/kube-score/score/checks"
)

// Check is one of kube-score's checks (ks.Check).
type Check struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Target   string `json:"target"`
	Comment  string `json:"comment"`
	Optional bool   `json:"optional"`
}

// Result is one check on one object.
type Result struct {
	Check     string `json:"check"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Grade is kube-score's: 1 critical, 5 warning, 7 almost OK, 10 OK.
	Grade    int      `json:"grade"`
	Skipped  bool     `json:"skipped,omitempty"`
	Comments []string `json:"comments,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kube-score:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("kube-score", flag.ContinueOnError)
	list := fs.Bool("list-checks", false, "print every check kube-score has, optional ones too")
	// kube-score's --kubernetes-version (default v1.18) only feeds its
	// stable-version check; the project's control plane is v1.37.
	kubeVersion := fs.String("kubernetes-version", "v1.37", "the cluster's Kubernetes version, vMAJOR.MINOR")
	if err := fs.Parse(args); err != nil {
		return err
	}
	all := score.RegisterAllChecks(parser.Empty(), nil, nil).All()
	if *list {
		var cs []Check
		for _, c := range all {
			cs = append(cs, Check{ID: c.ID, Name: c.Name, Target: c.TargetType, Comment: c.Comment, Optional: c.Optional})
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
		return json.NewEncoder(out).Encode(cs)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no files given")
	}
	kubeVer, err := config.ParseSemver(*kubeVersion)
	if err != nil {
		return fmt.Errorf("-kubernetes-version %q: use vMAJOR.MINOR", *kubeVersion)
	}
	// Every optional check is on (the command's --all-default-optional), and
	// the kube-score/ignore and kube-score/enable annotations have no effect
	// (--disable-ignore-checks-annotations, --disable-optional-checks-annotations):
	// what is not followed is decided in one file, not on the objects.
	optional := map[string]struct{}{}
	for _, c := range all {
		if c.Optional {
			optional[c.ID] = struct{}{}
		}
	}
	runConfig := &config.RunConfiguration{
		EnabledOptionalTests: optional,
		KubernetesVersion:    kubeVer,
		// The command's defaults (--min-replicas-deployment, --min-replicas-hpa).
		MinReplicasDeployment: 2,
		MinReplicasHPA:        2,
	}
	var files []ks.NamedReader
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		files = append(files, namedReader{f, name})
	}
	p, err := parser.New(nil)
	if err != nil {
		return err
	}
	parsed, err := p.ParseFiles(files)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	card, err := score.Score(parsed, score.RegisterAllChecks(parsed, &checks.Config{}, runConfig), runConfig)
	if err != nil {
		return err
	}
	var results []Result
	for _, o := range *card {
		for _, c := range o.Checks {
			r := Result{Check: c.Check.ID, Kind: o.TypeMeta.Kind, Namespace: o.ObjectMeta.Namespace, Name: o.ObjectMeta.Name, Grade: int(c.Grade), Skipped: c.Skipped}
			for _, cm := range c.Comments {
				r.Comments = append(r.Comments, fmt.Sprintf("%s: %s", cm.Path, cm.Summary))
			}
			results = append(results, r)
		}
	}
	sort.SliceStable(results, func(i, j int) bool {
		a, b := results[i], results[j]
		if a.Kind+a.Namespace+a.Name != b.Kind+b.Namespace+b.Name {
			return a.Kind+"/"+a.Namespace+"/"+a.Name < b.Kind+"/"+b.Namespace+"/"+b.Name
		}
		return a.Check < b.Check
	})
	return json.NewEncoder(out).Encode(results)
}

type namedReader struct {
	io.Reader
	name string
}

func (n namedReader) Name() string { return n.name }
