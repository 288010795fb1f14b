package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The pull request workflow as it was before issue 22: its preview job held
// the deploy token and role without an environment, and every action was
// pinned by tag. Every rule fires on it.
const todaysPullRequest = "../../.ci/testdata/pull-request.yml"

func TestTodaysPullRequestWorkflowFails(t *testing.T) {
	src, err := os.ReadFile(todaysPullRequest)
	if err != nil {
		t.Fatal(err)
	}
	got, err := CheckWorkflow("pull-request.yml", src)
	if err != nil {
		t.Fatal(err)
	}
	unpinned := func(line int, job, ref string) Finding {
		return Finding{"pull-request.yml", line, job, ref + " is not pinned by commit SHA: use owner/repo@<40-hex commit> # <tag> (git rev-parse '<tag>^{commit}')"}
	}
	want := []Finding{
		unpinned(19, "test", "actions/checkout@v4.2.2"),
		unpinned(20, "test", "actions/setup-go@v5.5.0"),
		unpinned(39, "render-diff", "actions/checkout@v4.2.2"),
		unpinned(42, "render-diff", "actions/setup-go@v5.5.0"),
		unpinned(54, "render-diff", "actions/github-script@v7.0.1"),
		{"pull-request.yml", 70, "preview", "holds PULUMI_ACCESS_TOKEN, AWS_ROLE_ARN, id-token: write without an environment: a branch's code could use them unreviewed; put the secrets in a GitHub environment (required reviewers, deployment branches) and give the job `environment:`"},
		{"pull-request.yml", 70, "preview", "a pull request's workflow names the deploy credential PULUMI_ACCESS_TOKEN: previews use their own read-only credentials (PULUMI_PREVIEW_TOKEN, AWS_PREVIEW_ROLE_ARN) in the preview environments"},
		{"pull-request.yml", 70, "preview", "a pull request's workflow names the deploy credential AWS_ROLE_ARN: previews use their own read-only credentials (PULUMI_PREVIEW_TOKEN, AWS_PREVIEW_ROLE_ARN) in the preview environments"},
		unpinned(102, "preview", "actions/checkout@v4.2.2"),
		unpinned(104, "preview", "actions/setup-go@v5.5.0"),
		unpinned(111, "preview", "aws-actions/configure-aws-credentials@v4.2.1"),
		unpinned(124, "preview", "pulumi/actions@v6.0.0"),
		unpinned(134, "preview", "pulumi/actions@v6.0.0"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings on today's pull-request.yml:\n got:\n%s\nwant:\n%s", lines(got), lines(want))
	}
}

// The shipped workflows pass (CI also runs the tool on them).
func TestRepositoryWorkflowsPass(t *testing.T) {
	got, n, err := checkDir("../../.github/workflows")
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 || len(got) > 0 {
		t.Errorf("%d workflows, findings:\n%s", n, lines(got))
	}
}

// One base workflow that passes, one change per row, and the whole list of
// findings it must give.
func TestRules(t *testing.T) {
	const base = `name: deploy
on:
  push:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - uses: ./.github/actions/local
      - run: go test ./...
  staging:
    if: github.ref == 'refs/heads/main'
    environment: staging
    runs-on: ubuntu-24.04
    permissions:
      id-token: write
    steps:
      - run: pulumi up
        env:
          PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}
`
	f := func(line int, job, msg string) Finding { return Finding{"w.yml", line, job, msg} }
	for _, tc := range []struct {
		name string
		edit func(string) string
		want []Finding
	}{
		{"base passes", func(s string) string { return s }, nil},
		{"secret in a job without environment", func(s string) string {
			return strings.Replace(s, "      - run: go test ./...\n", "      - run: go test ./...\n        env:\n          T: ${{ secrets['NPM_TOKEN'] }}\n", 1)
		}, []Finding{f(9, "build", "holds NPM_TOKEN without an environment: a branch's code could use them unreviewed; put the secrets in a GitHub environment (required reviewers, deployment branches) and give the job `environment:`")}},
		{"GITHUB_TOKEN is the job's own", func(s string) string {
			return strings.Replace(s, "      - run: go test ./...\n", "      - run: go test ./...\n        env:\n          T: ${{ secrets.GITHUB_TOKEN }}\n", 1)
		}, nil},
		{"id-token from the workflow's permissions", func(s string) string {
			return strings.Replace(s, "permissions:\n  contents: read\n", "permissions:\n  contents: read\n  id-token: write\n", 1)
		}, []Finding{f(10, "build", "holds id-token: write without an environment: a branch's code could use them unreviewed; put the secrets in a GitHub environment (required reviewers, deployment branches) and give the job `environment:`")}},
		{"write-all", func(s string) string {
			return strings.Replace(s, "    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout", "    runs-on: ubuntu-24.04\n    permissions: write-all\n    steps:\n      - uses: actions/checkout", 1)
		}, []Finding{f(9, "build", "holds id-token: write without an environment: a branch's code could use them unreviewed; put the secrets in a GitHub environment (required reviewers, deployment branches) and give the job `environment:`")}},
		{"secrets: inherit", func(s string) string {
			return s + "  call:\n    uses: org/repo/.github/workflows/x.yml@11bd71901bbe5b1630ceea73d27597364c9af683 # v1.0.0\n    secrets: inherit\n"
		}, []Finding{f(25, "call", "holds secrets: inherit without an environment: a branch's code could use them unreviewed; put the secrets in a GitHub environment (required reviewers, deployment branches) and give the job `environment:`")}},
		{"environment as a mapping counts", func(s string) string {
			return strings.Replace(s, "    environment: staging\n", "    environment:\n      name: staging\n      url: https://example.com\n", 1)
		}, nil},
		{"workflow-level env with a secret", func(s string) string {
			return strings.Replace(s, "permissions:\n", "env:\n  T: ${{ secrets.X }}\npermissions:\n", 1)
		}, []Finding{
			f(7, "", "workflow-level env holds secrets X: every job gets them; move them into the env of the job that needs them, in an environment"),
			f(11, "build", "holds X without an environment: a branch's code could use them unreviewed; put the secrets in a GitHub environment (required reviewers, deployment branches) and give the job `environment:`"),
		}},
		{"deploy job without the main guard", func(s string) string {
			return strings.Replace(s, "    if: github.ref == 'refs/heads/main'\n", "", 1)
		}, []Finding{f(15, "staging", "deploys to \"staging\" without `if: github.ref == 'refs/heads/main'`: a workflow_dispatch from another branch would deploy it")}},
		{"pull request workflow with deploy credentials and environment", func(s string) string {
			return strings.Replace(s, "on:\n  push:\n    branches: [main]\n  workflow_dispatch:\n", "on: [pull_request]\n", 1)
		}, []Finding{
			f(12, "staging", "a pull request's workflow names the deploy credential PULUMI_ACCESS_TOKEN: previews use their own read-only credentials (PULUMI_PREVIEW_TOKEN, AWS_PREVIEW_ROLE_ARN) in the preview environments"),
			f(12, "staging", "a pull request's workflow uses the deploy environment \"staging\": previews run in preview-<stack>"),
		}},
		{"tag instead of SHA", func(s string) string {
			return strings.Replace(s, "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "actions/checkout@v4", 1)
		}, []Finding{f(12, "build", "actions/checkout@v4 is not pinned by commit SHA: use owner/repo@<40-hex commit> # <tag> (git rev-parse '<tag>^{commit}')")}},
		{"short SHA", func(s string) string {
			return strings.Replace(s, "@11bd71901bbe5b1630ceea73d27597364c9af683", "@11bd719", 1)
		}, []Finding{f(12, "build", "actions/checkout@11bd719 is not pinned by commit SHA: use owner/repo@<40-hex commit> # <tag> (git rev-parse '<tag>^{commit}')")}},
		{"SHA without its tag", func(s string) string {
			return strings.Replace(s, " # v4.2.2", "", 1)
		}, []Finding{f(12, "build", "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 has no tag comment: add `# vX.Y.Z` after the SHA so readers and Dependabot see the version")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckWorkflow("w.yml", []byte(tc.edit(base)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", lines(got), lines(tc.want))
			}
		})
	}
}

func lines(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	return b.String()
}
