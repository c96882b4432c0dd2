#!/usr/bin/env bash
# Installs every Debian package fpusim needs (on a new machine that has none
# of them), then configures and builds it in build/. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ pkg-config meson ninja-build
  libsystemc-dev                 # SystemC 2.3.4 (the timed shell)
  libboost-program-options-dev   # command line
  nlohmann-json3-dev             # configs and reports
  libvalijson-dev                # JSON Schema validation of inputs
  libsimdjson-dev                # fast event decoding
  libgtest-dev                   # unit tests
  python3                        # tests (timeline, cli) and tools/ (trace conversion)
  jq                             # tests (convert) and bench/compare_outputs.sh
  gnuplot-nox                    # scripts/plot_sweep.sh (SVG plots of sweeps); not needed to build; its test is skipped without it
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release >/dev/null
fi
ninja -C build >/dev/null
echo "setup: build/fpusim is ready" >&2
