#!/usr/bin/env bash
# Builds the one file the GPU machine runs (it has no .NET SDK): bench/Crt.Bench, self-contained for linux-x64,
# trimmed (tools/device/TrimRoots.xml keeps what ILGPU reflects on) and compressed into a single file of ~21 MB,
# which also runs the crt command line (`Crt.Bench crt ARGS`). The device tool carries the working tree (~38 MB
# tracked) plus this file within its 64 MiB: run it as `run(command=..., carry=["tools/device/publish"])`.
# Before carrying it, check the build here: tools/device/publish.sh && tools/device/publish/Crt.Bench crt doctor --device ilgpu-cpu
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/tools/device/publish"
rm -rf "$out" "$root/bench/Crt.Bench/obj/Release/net10.0/linux-x64"
dotnet publish "$root/bench/Crt.Bench" -c Release -r linux-x64 --self-contained --nologo -v q \
  -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
  -p:DebugType=none -p:PublishTrimmed=true -p:TrimMode=partial -p:SuppressTrimAnalysisWarnings=true -p:JsonSerializerIsReflectionEnabledByDefault=true -o "$out"
ls -l "$out"
