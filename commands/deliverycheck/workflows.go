package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// The rules of the delivery path that actionlint does not know (issue 22):
//
//   - credentials: a job that can reach a credential (a secret other than
//     GITHUB_TOKEN, `secrets: inherit`, or `id-token: write`, its own or the
//     workflow's) runs in an environment. Environment secrets "are only
//     available to workflow jobs that use the environment", and the
//     environment's protection rules (required reviewers, deployment
//     branches) "must pass before a job referencing the environment is sent
//     to a runner" (docs.github.com, actions/reference/workflows-and-actions/
//     deployments-and-environments); the OIDC `sub` of such a job is
//     `repo:ORG/REPO:environment:NAME` (docs.github.com, actions/reference/
//     security/oidc, "Filtering for a specific environment"), which is what
//     the AWS roles' trust policies pin (docs/cluster.md).
//   - review path: a workflow a pull request triggers names no deploy
//     credential and no deploy environment; previews have credentials of
//     their own (PULUMI_PREVIEW_TOKEN, AWS_PREVIEW_ROLE_ARN).
//   - main only: a job in a deploy environment runs only for refs/heads/main
//     (its `if:` says so; the environment's deployment branch rule says the
//     same on GitHub's side).
//   - pinned: every action is pinned by a full commit SHA with its tag as a
//     comment (`uses: actions/checkout@<sha> # v4.2.2`), so Dependabot can
//     move both and a moved tag changes nothing.

// deployCredentials are the secrets that change a stack: the Pulumi token
// with write access and the role that deploys (deploy.yml). They live only in
// the deploy environments.
var deployCredentials = []string{"PULUMI_ACCESS_TOKEN", "AWS_ROLE_ARN"}

// deployEnvironments can change a stack; deployable from main only.
var deployEnvironments = []string{"staging", "production"}

// mainGuard is the job condition that keeps a deploy job on main.
const mainGuard = "github.ref == 'refs/heads/main'"

// Finding is one broken rule, at a line of a workflow file.
type Finding struct {
	File string
	Line int
	Job  string // empty for the workflow as a whole
	Msg  string
}

func (f Finding) String() string {
	where := f.File
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if f.Job != "" {
		return fmt.Sprintf("%s: job %q: %s", where, f.Job, f.Msg)
	}
	return fmt.Sprintf("%s: %s", where, f.Msg)
}

// secretRef matches `secrets.NAME` and `secrets['NAME']` / `secrets["NAME"]`
// in an expression.
var secretRef = regexp.MustCompile(`secrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\])`)

// pinnedRef is owner/repo[/path]@<40 hex>.
var pinnedRef = regexp.MustCompile(`^[^@\s]+@[0-9a-f]{40}$`)

// tagComment is the version comment after a pinned SHA.
var tagComment = regexp.MustCompile(`^#\s*v\d+(\.\d+)*\S*$`)

// CheckWorkflow returns every broken rule of one workflow file (file names it
// in the findings), or an error if it is not a workflow.
func CheckWorkflow(file string, src []byte) ([]Finding, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a workflow (a mapping at the top)", file)
	}
	root := doc.Content[0]
	jobs := get(root, "jobs")
	if jobs == nil || jobs.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: no jobs mapping", file)
	}
	var out []Finding
	add := func(line int, job, format string, args ...any) {
		out = append(out, Finding{File: file, Line: line, Job: job, Msg: fmt.Sprintf(format, args...)})
	}

	prTriggered := triggeredByPullRequest(get(root, "on"))
	workflowSecrets := secretsIn(get(root, "env"))
	if len(workflowSecrets) > 0 {
		add(get(root, "env").Line, "", "workflow-level env holds secrets %s: every job gets them; move them into the env of the job that needs them, in an environment",
			strings.Join(workflowSecrets, ", "))
	}
	workflowPerms := get(root, "permissions")

	for i := 0; i+1 < len(jobs.Content); i += 2 {
		name, job := jobs.Content[i].Value, jobs.Content[i+1]
		line := jobs.Content[i].Line
		env := environmentName(get(job, "environment"))

		secrets := secretsIn(job)
		held := append([]string(nil), secrets...)
		held = append(held, workflowSecrets...)
		if s := get(job, "secrets"); s != nil && s.Kind == yaml.ScalarNode && s.Value == "inherit" {
			held = append(held, "secrets: inherit")
		}
		perms := get(job, "permissions")
		if perms == nil {
			perms = workflowPerms
		}
		if writesIDToken(perms) {
			held = append(held, "id-token: write")
		}
		held = uniq(held)

		if len(held) > 0 && env == "" {
			add(line, name, "holds %s without an environment: a branch's code could use them unreviewed; put the secrets in a GitHub environment (required reviewers, deployment branches) and give the job `environment:`",
				strings.Join(held, ", "))
		}
		if prTriggered {
			for _, s := range secrets {
				if contains(deployCredentials, s) {
					add(line, name, "a pull request's workflow names the deploy credential %s: previews use their own read-only credentials (PULUMI_PREVIEW_TOKEN, AWS_PREVIEW_ROLE_ARN) in the preview environments", s)
				}
			}
			if contains(deployEnvironments, env) {
				add(line, name, "a pull request's workflow uses the deploy environment %q: previews run in preview-<stack>", env)
			}
		} else if contains(deployEnvironments, env) {
			if cond := get(job, "if"); cond == nil || !strings.Contains(normalizeSpace(cond.Value), mainGuard) {
				add(line, name, "deploys to %q without `if: %s`: a workflow_dispatch from another branch would deploy it", env, mainGuard)
			}
		}

		// Reusable workflows at job level, actions in steps.
		if u := get(job, "uses"); u != nil {
			checkPinned(u, name, add)
		}
		if steps := get(job, "steps"); steps != nil {
			for _, step := range steps.Content {
				if u := get(step, "uses"); u != nil {
					checkPinned(u, name, add)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out, nil
}

// checkPinned reports a remote action or reusable workflow that is not
// pinned by a full commit SHA with a version comment.
func checkPinned(u *yaml.Node, job string, add func(int, string, string, ...any)) {
	ref := u.Value
	if strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "docker://") {
		return
	}
	if !pinnedRef.MatchString(ref) {
		add(u.Line, job, "%s is not pinned by commit SHA: use owner/repo@<40-hex commit> # <tag> (git rev-parse '<tag>^{commit}')", ref)
		return
	}
	if !tagComment.MatchString(strings.TrimSpace(u.LineComment)) {
		add(u.Line, job, "%s has no tag comment: add `# vX.Y.Z` after the SHA so readers and Dependabot see the version", ref)
	}
}

// get returns the value of key in a mapping node, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// secretsIn returns the names of the secrets every scalar under n refers to,
// except GITHUB_TOKEN (the job's own token, scoped by `permissions`).
func secretsIn(n *yaml.Node) []string {
	var names []string
	var walk func(*yaml.Node)
	walk = func(x *yaml.Node) {
		if x == nil {
			return
		}
		if x.Kind == yaml.ScalarNode {
			for _, m := range secretRef.FindAllStringSubmatch(x.Value, -1) {
				name := m[1] + m[2]
				if name != "GITHUB_TOKEN" {
					names = append(names, name)
				}
			}
		}
		for _, c := range x.Content {
			walk(c)
		}
	}
	walk(n)
	return uniq(names)
}

// writesIDToken: `permissions: write-all` or `id-token: write`.
func writesIDToken(p *yaml.Node) bool {
	if p == nil {
		return false
	}
	if p.Kind == yaml.ScalarNode {
		return p.Value == "write-all"
	}
	v := get(p, "id-token")
	return v != nil && v.Value == "write"
}

// environmentName: `environment: NAME` or `environment: {name: NAME, url: ...}`.
func environmentName(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		return strings.TrimSpace(n.Value)
	}
	if v := get(n, "name"); v != nil {
		return strings.TrimSpace(v.Value)
	}
	return ""
}

// triggeredByPullRequest: `on` names pull_request or pull_request_target (a
// string, a list or a mapping).
func triggeredByPullRequest(on *yaml.Node) bool {
	if on == nil {
		return false
	}
	is := func(v string) bool { return v == "pull_request" || v == "pull_request_target" }
	switch on.Kind {
	case yaml.ScalarNode:
		return is(on.Value)
	case yaml.SequenceNode:
		for _, c := range on.Content {
			if is(c.Value) {
				return true
			}
		}
	case yaml.MappingNode:
		for i := 0; i < len(on.Content); i += 2 {
			if is(on.Content[i].Value) {
				return true
			}
		}
	}
	return false
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
