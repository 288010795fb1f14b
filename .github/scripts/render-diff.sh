#!/usr/bin/env bash
# Writes the pull request comment: the rendered-manifest diff of every
# shipped stack between the base ref and the head, as Markdown.
# Usage: .github/scripts/render-diff.sh BASE_REF > comment.md
set -euo pipefail
base=$1
limit=${COMMENT_LIMIT:-60000} # GitHub's comment limit is 65,536 characters
marker='<!-- cirkelline-render-diff -->'
body=$(mktemp)
changed=0
close='```' # the longest fence used, to close a trimmed comment
for f in Pulumi.*.yaml; do
  stack=${f#Pulumi.}; stack=${stack%.yaml}
  diff=$(go run . render --stack "$stack" --diff "$base")
  if [ -z "$diff" ]; then
    echo "- \`$stack\`: no change" >>"$body"
    continue
  fi
  changed=$((changed + 1))
  files=$(grep -c '^diff --git ' <<<"$diff" || true)
  # A fence longer than any run of backticks in the diff, so a manifest's
  # text cannot close it and write Markdown of its own into the comment
  # (CommonMark spec, "Fenced code blocks": the closing fence must be at
  # least as long as the opening one).
  longest=$({ grep -o '`*' <<<"$diff" || true; } | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }')
  fence='```'
  while [ "${#fence}" -le "$longest" ]; do fence+='`'; done
  [ "${#fence}" -le "${#close}" ] || close=$fence
  {
    echo "<details><summary><code>$stack</code>: $files file(s) changed</summary>"
    echo
    echo "${fence}diff"
    echo "$diff"
    echo "$fence"
    echo '</details>'
  } >>"$body"
done
echo "$marker"
echo "### Rendered manifests: $changed stack(s) changed against \`$base\`"
echo
if [ "$(wc -c <"$body")" -gt "$limit" ]; then
  head -c "$limit" "$body"
  echo
  echo "$close"
  echo
  echo "> **Trimmed**: the diff is longer than a comment can hold. Run \`go run . render --stack <stack> --diff $base\` locally, or see the job log."
else
  cat "$body"
fi
