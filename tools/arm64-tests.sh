#!/usr/bin/env bash
# The engine tests (tests/Crt.Tensors.Tests) on linux-arm64, emulated by qemu-user on an x86-64 machine:
# a correctness check of the ARM64 paths (128-bit AdvSimd kernels), not a speed measurement — qemu
# translates every instruction, so timings say nothing about a real ARM64 CPU.
#
#   tools/arm64-tests.sh                       # every engine test
#   tools/arm64-tests.sh --filter Gemm         # tests whose Class.Method name contains Gemm (repeatable)
#   tools/arm64-tests.sh --verbose             # names each test as it starts
#
# Publishes tools/arm64/Crt.TestRunner (a small in-process xunit runner: no SDK needed on the target)
# self-contained for linux-arm64 into .artifacts/arm64 and runs it under qemu-aarch64-static with the
# arm64 C/C++ runtime from Debian's cross packages and OpenSSL's arm64 library. Not part of CI (too slow; see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross libgcc-s1-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing ${need[*]}; run: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# .NET's SHA-256 (safetensors checksums) calls OpenSSL: the arm64 libssl3 is unpacked into a folder of
# ours (no arm64 package is installed on the machine; apt only learns the arm64 package lists).
sysroot=.artifacts/arm64-sysroot
if [ ! -e "$sysroot/usr/lib/aarch64-linux-gnu/libssl.so.3" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: the arm64 libssl3 is needed; run: sudo dpkg --add-architecture arm64 && sudo apt-get update" >&2
      exit 1
    fi
    dpkg --add-architecture arm64
    apt-get update -q
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q libssl3:arm64)
  mkdir -p "$sysroot"
  dpkg -x "$tmp"/libssl3_*_arm64.deb "$sysroot"
  rm -rf "$tmp"
fi

echo "publishing the engine tests for linux-arm64..." >&2
dotnet publish tools/arm64/Crt.TestRunner -c Release -r linux-arm64 --self-contained \
  -o .artifacts/arm64 --nologo -v q >&2
start=$(date +%s)
status=0
# DOTNET_EnableWriteXorExecute=0: with W^X the runtime writes code and stubs through a second (writable) mapping of
# the same memory, which qemu-user does not see as a code change, so it keeps running its stale translation of the
# old bytes. With it on, the full suite failed with reflection type mismatches and then a segfault; every subset
# that failed passed with it off (nothing in the kernels is at fault).
qemu-aarch64-static -L /usr/aarch64-linux-gnu -E "LD_LIBRARY_PATH=$PWD/$sysroot/usr/lib/aarch64-linux-gnu" \
  -E DOTNET_EnableWriteXorExecute=0 \
  .artifacts/arm64/Crt.TestRunner "$@" || status=$?
echo "wall time under qemu: $(( $(date +%s) - start )) s" >&2
exit $status
