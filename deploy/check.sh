#!/usr/bin/env bash
# Validates the deployment files without a container engine or a cluster (neither is on
# these machines, and only package registries are reachable):
#   - compose.yaml against the Compose specification (check-jsonschema's vendored copy);
#   - kubernetes/*.yaml against Kubernetes 1.33's OpenAPI schemas, strictly (unknown
#     fields fail), with the schemas kubernetes-validate ships;
#   - kratos/identity.schema.json as a draft-07 JSON Schema.
# Not checked here: that the images build and start, that Kratos accepts kratos.yml
# (its config schema ships in no registry package), or that the manifests apply.
#
# Settings: DEPLOY_VENV (target/deploy-venv), reused while requirements.txt is unchanged.
set -euo pipefail
deploy_dir="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$deploy_dir")"
venv="${DEPLOY_VENV:-$repo/target/deploy-venv}"
say() { echo "deploy/check: $*"; }

stamp="$venv/polis-requirements.txt"
if ! cmp -s "$deploy_dir/requirements.txt" "$stamp" 2>/dev/null; then
  say "installing check-jsonschema and kubernetes-validate into $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 keeps venv (ensurepip) in a package of its own.
    rm -rf "$venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$deploy_dir/requirements.txt"
  cp "$deploy_dir/requirements.txt" "$stamp"
fi

say "compose.yaml against the Compose specification"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$deploy_dir/compose.yaml"
say "kratos/identity.schema.json is a JSON Schema"
"$venv/bin/check-jsonschema" --check-metaschema "$deploy_dir/kratos/identity.schema.json"
say "kubernetes/*.yaml against Kubernetes 1.33 (strict)"
"$venv/bin/kubernetes-validate" --strict --kubernetes-version 1.33.0 "$deploy_dir"/kubernetes/*.yaml
