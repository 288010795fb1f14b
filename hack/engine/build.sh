#!/usr/bin/env bash
# Builds the Pulumi engine the lifecycle test (engine/) and the deploy-speed
# benchmark (bench/deploy.sh) run, from the Go module proxy only, into a
# cache outside the repository, reused between runs:
#   ${ENGINE_CACHE:-$HOME/.cache/cirkelline-engine}/<versions>/
#     bin/pulumi                        the Pulumi CLI
#     bin/pulumi-resource-kubernetes    the Kubernetes provider plugin
#     home/                             a private PULUMI_HOME with that plugin
#                                       installed, so the engine never
#                                       downloads one
# Prints that directory. A cold build is long (see README.md); warm runs
# return at once.
# See README.md beside this file for what each part is built from.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# The CLI: pinned by tools/go.mod (github.com/pulumi/pulumi/pkg/v3). It has
# to be at or above the SDK the program uses (root go.mod: sdk/v3 v3.263.0).
cli_version=v3.274.0
# The provider: the only version of provider/v4 the proxy serves, a
# pseudo-version of 2026-01-15.
provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4
provider_source=v4.0.0-20260115033456-f47bc2d6f199
# The plugin version the program's SDK asks the engine for:
# github.com/pulumi/pulumi-kubernetes/sdk/v4@v4.25.0
# go/kubernetes/utilities/pulumiUtilities.go, PkgResourceDefaultOpts:
# `version := semver.MustParse("4.25.0")` ... `pulumi.Version(version.String())`
# (and go/kubernetes/pulumi-plugin.json "version": "4.25.0"). Keep it equal
# to that SDK's version in the root go.mod.
plugin_version=4.25.0

dir=${ENGINE_CACHE:-$HOME/.cache/cirkelline-engine}/pulumi-$cli_version-kubernetes-$plugin_version
bin=$dir/bin
stamp=$dir/.stamp

# The Automation API parses the CLI's `pulumi version` output as a semver
# (sdk/v3/go/auto/local_workspace.go, getPulumiVersion / parseAndValidatePulumiVersion);
# the CLI prints sdk/v3/go/common/version.Version, empty unless linked in.
cli_ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$cli_version"
# The provider hands provider/v4/pkg/version.Version to provider.Serve
# (cmd/pulumi-resource-kubernetes/main.go: provider.Serve(providerName,
# version.Version, ...)); it reports it to the engine in GetPluginInfo.
provider_ldflags="-s -w -X $provider_module/pkg/version.Version=$plugin_version"

want=$( (cat "$here/tools/go.mod" "$here/tools/go.sum"; echo "$cli_ldflags"; echo "$provider_module@$provider_source $provider_ldflags") | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$dir"
  exit 0
fi
# Only one build at a time (parallel CI steps may call this script).
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$dir"
  exit 0
fi
rm -rf "$bin" "$dir/home"
mkdir -p "$bin"
start=$(date +%s)

# The CLI and the provider build at the same time: two module graphs with
# little in common, each ending in a long single-threaded link, so together
# they keep more cores busy than one after the other.
echo "building pulumi $cli_version" >&2
(cd "$here/tools" && nice -n 10 go build -trimpath -ldflags "$cli_ldflags" -o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2) &
cli_build=$!

echo "building pulumi-resource-kubernetes $plugin_version from $provider_module@$provider_source" >&2
src=$(cd "$here/tools" && go mod download -json "$provider_module@$provider_source" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
work=$(mktemp -d "$dir/provider-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work"
chmod -R u+w "$work"
# cmd/pulumi-resource-kubernetes/main.go embeds schema-embed.json and
# terraform-mapping-embed.json (`//go:embed schema-embed.json`), which the
# upstream Makefile copies from the schema.json and terraform-mapping.json
# the module zip ships beside them.
cp "$work/cmd/pulumi-resource-kubernetes/schema.json" "$work/cmd/pulumi-resource-kubernetes/schema-embed.json"
cp "$work/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$work/cmd/pulumi-resource-kubernetes/terraform-mapping-embed.json"
# go.mod replaces sdk/v4 with ../sdk (the repository's sibling folder), which
# a module zip does not have: take the version go.mod requires from the proxy.
(cd "$work" && go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4)
(cd "$work" && nice -n 10 go build -mod=mod -trimpath -ldflags "$provider_ldflags" -o "$bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes >&2)
wait "$cli_build" || { echo "building pulumi $cli_version failed" >&2; exit 1; }

echo "installing the plugin into $dir/home" >&2
PULUMI_HOME="$dir/home" PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" plugin install resource kubernetes "$plugin_version" --file "$bin/pulumi-resource-kubernetes" >&2
PULUMI_HOME="$dir/home" PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" plugin ls >&2

echo "built in $(( $(date +%s) - start )) s" >&2
echo "$want" >"$stamp"
echo "$dir"
