#!/usr/bin/env bash
# Install the tools the deploy checks need (tests/deploy): helm, promtool, amtool, kubernetes-validate.
#
# Idempotent: each step is skipped when its tool is already there at the pinned version, so a
# second run takes about a second. Binaries built here go to a cache dir (default .ci/.cache/bin,
# override with HBOT_TOOLS_CACHE); put it on PATH or let the tests find it there.
#
#   bash .ci/install-tools.sh            # install what is missing, print per-step timings
#   export PATH="$PWD/.ci/.cache/bin:$PATH"
#
# Sources: Debian packages `prometheus` (promtool) and `prometheus-alertmanager` (amtool);
# helm built from the Go module proxy with `go install` (needs Go; the first build downloads the
# modules into Go's module cache, later builds in a fresh clone reuse Go's caches and take seconds);
# kubernetes-validate from PyPI into the active virtual environment ($VIRTUAL_ENV, or the
# interpreter named by HBOT_PYTHON; a system Python is refused).
#
# Measured on the 2-core dev machine: apt step ~10 s, helm cold ~105 s (module download + build),
# helm with warm Go caches 4-8 s, pip ~4 s, a run with everything present well under 1 s.
set -euo pipefail

HELM_VERSION="${HBOT_HELM_VERSION:-v3.22.0}"
KUBERNETES_VALIDATE_VERSION="${HBOT_KUBERNETES_VALIDATE_VERSION:-1.37.0}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${HBOT_TOOLS_CACHE:-$repo_root/.ci/.cache}"
bin_dir="$cache_dir/bin"
mkdir -p "$bin_dir"
# The cache holds built binaries only: keep it out of git without touching the repo's .gitignore.
[[ -f "$cache_dir/.gitignore" ]] || echo '*' >"$cache_dir/.gitignore"

if [[ -n "${VIRTUAL_ENV:-}" ]]; then
  python="$VIRTUAL_ENV/bin/python"
else
  python="${HBOT_PYTHON:-python3}"
fi

step_started_ms=0
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
step() { step_started_ms=$(now_ms); echo "==> $1"; }
done_step() {
  local ms=$(( $(now_ms) - step_started_ms ))
  printf '    %s took %d.%01d s\n' "$1" $(( ms / 1000 )) $(( ms % 1000 / 100 ))
}

# --- promtool + amtool (Debian) ---------------------------------------------------------------
step "promtool, amtool (apt: prometheus, prometheus-alertmanager)"
if command -v promtool >/dev/null && command -v amtool >/dev/null; then
  echo "    already installed: $(promtool --version 2>&1 | head -1)"
else
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  # A policy-rc.d keeps the packages' postinst from starting the Prometheus/Alertmanager daemons
  # (we only want the CLIs); one the machine already has is left as it is.
  own_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
  if [[ $own_policy -eq 1 ]]; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
  echo "    installed: $(promtool --version 2>&1 | head -1); $(amtool --version 2>&1 | head -1)"
fi
done_step "promtool/amtool"

# --- helm (go install from the Go module proxy) -------------------------------------------------
step "helm $HELM_VERSION (go install into $bin_dir)"
stamp="$bin_dir/.helm-version"
# v2 in the stamp: binaries built before the Kubernetes-version ldflags were added get rebuilt.
stamp_value="$HELM_VERSION build-v2"
if [[ -x "$bin_dir/helm" && -f "$stamp" && "$(cat "$stamp")" == "$stamp_value" ]]; then
  echo "    already built: $("$bin_dir/helm" version --short 2>/dev/null || echo "$HELM_VERSION")"
else
  command -v go >/dev/null || { echo "go is needed to build helm (apt-get install golang-go, or a Go toolchain)" >&2; exit 1; }
  # helm's Makefile stamps the default Kubernetes version (used by `helm template`/`lint` without
  # --kube-version) from its client-go version; plain `go install` would leave it at v1.20.
  helm_dir=$(GOFLAGS=-mod=mod go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  client_go=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_dir/go.mod" | head -1)
  [[ -n "$client_go" ]] || { echo "cannot read the client-go version from $helm_dir/go.mod" >&2; exit 1; }
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$client_go"
  done
  # CGO off: a static binary that needs no C toolchain; -trimpath: reproducible.
  GOBIN="$bin_dir" CGO_ENABLED=0 GOFLAGS="-buildvcs=false" \
    go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$stamp_value" >"$stamp"
  echo "    built: $("$bin_dir/helm" version --short), default Kubernetes version 1.$client_go"
fi
done_step "helm"

# --- kubernetes-validate (PyPI) -----------------------------------------------------------------
step "kubernetes-validate $KUBERNETES_VALIDATE_VERSION (pip, $python)"
# Install only into a virtual environment (or a Python named explicitly), never a system Python.
if [[ -z "${VIRTUAL_ENV:-}${HBOT_PYTHON:-}" ]] && ! "$python" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
  echo "$python is not a virtual environment: activate the project's venv or set HBOT_PYTHON=/path/to/venv/bin/python" >&2
  exit 1
fi
have=$("$python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null || true)
if [[ "$have" == "$KUBERNETES_VALIDATE_VERSION" ]]; then
  echo "    already installed: kubernetes-validate $have"
else
  "$python" -m pip install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  echo "    installed: kubernetes-validate $("$python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))')"
fi
done_step "kubernetes-validate"

echo "tools ready; add to PATH: export PATH=\"$bin_dir:\$PATH\""
