#!/usr/bin/env bash
# Installs every Debian package fpusim needs (on a new machine that has none
# of them), then configures and builds it in build/. Safe to run again.
#   scripts/setup.sh [--sanitizers]
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
  libtracecmd-dev libtraceevent-dev libtracefs-dev  # fpusim import / validate: trace.dat (libtracecmd.pc requires libtracefs)
  python3                        # tests (timeline, cli) and tools/capture_fpu_trace.sh
  jq                             # tests (convert) and bench/compare_outputs.sh
  gnuplot-nox                    # scripts/plot_sweep.sh (SVG plots of sweeps); not needed to build; its test is skipped without it
  slurm-client slurmctld slurmd munge iproute2  # sweep --slurm's test: a private cluster (scripts/local_slurm.sh; ss)
)

# --sanitizers: also what the CI's second stage needs (scripts/sanitize.sh,
# scripts/fuzz.sh): clang and libFuzzer (Debian's compiler-rt).
if [ "${1:-}" = "--sanitizers" ]; then
  packages+=(clang libclang-rt-dev)
elif [ -n "${1:-}" ]; then
  echo "usage: scripts/setup.sh [--sanitizers]" >&2
  exit 2
fi

# Each step is quiet when it works; when it fails, its own output (the last
# lines) and the command to rerun. In a terminal, the build shows ninja's
# progress as it goes.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() {  # step WHAT COMMAND...
  local what=$1
  shift
  if [ -t 2 ] && [ "$what" = build ]; then
    "$@" >&2 || { echo "setup: the $what failed (above); rerun: $*" >&2; exit 1; }
  elif ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: the $what failed (its last lines above); rerun: $*" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  step "package list update" "${sudo[@]}" apt-get update -qq
  step "package install" "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f build/build.ninja ]; then
  echo "setup: configuring build/ (meson, release)" >&2
  step "configuration" meson setup build --buildtype=release
fi
echo "setup: building (ninja -C build)" >&2
step build ninja -C build
echo "setup: build/fpusim is ready" >&2
