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
for f in Pulumi.*.yaml; do
  stack=${f#Pulumi.}; stack=${stack%.yaml}
  diff=$(go run . render --stack "$stack" --diff "$base")
  if [ -z "$diff" ]; then
    echo "- \`$stack\`: no change" >>"$body"
    continue
  fi
  changed=$((changed + 1))
  files=$(grep -c '^diff --git ' <<<"$diff" || true)
  {
    echo "<details><summary><code>$stack</code>: $files file(s) changed</summary>"
    echo
    echo '```diff'
    echo "$diff"
    echo '```'
    echo '</details>'
  } >>"$body"
done
echo "$marker"
echo "### Rendered manifests: $changed stack(s) changed against \`$base\`"
echo
if [ "$(wc -c <"$body")" -gt "$limit" ]; then
  head -c "$limit" "$body"
  echo
  echo '```'
  echo
  echo "> **Trimmed**: the diff is longer than a comment can hold. Run \`go run . render --stack <stack> --diff $base\` locally, or see the job log."
else
  cat "$body"
fi
