#!/usr/bin/env bash
# Fuzzes one of crt's parsers with afl-fuzz (Debian's afl++) through SharpFuzz, then keeps what it learned:
#   fuzz/corpus/TARGET/   the queue, minimised by afl-cmin (replayed by the tests in CI)
#   fuzz/crashes/TARGET/  every crash and hang input (replayed too, once fixed)
#   fuzz/results.tsv      one line per run: execs, paths, edges, time, crashes, hangs
# usage: fuzz/run.sh TARGET SECONDS    (targets: FuzzTargets.All in Crt.Fuzz; afl binds itself to a free core)
# Needs: apt-get install afl++; dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0
set -euo pipefail
cd "$(dirname "$0")"
target=$1; seconds=$2
export PATH="$PATH:$HOME/.dotnet/tools" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_FORKSRV_INIT_TMOUT=60000

# Publish and instrument once per source state, into a folder named by a hash of the sources: parallel runs
# share it, a lock keeps two of them from building it at once, and a rebuild never touches a folder that a
# running fuzzer (whose child process restarts after each crash) still loads from.
dotnet=$(readlink -f "$(command -v dotnet)")
mkdir -p build findings
exec 9>build/.lock
flock 9
stamp=$(find ../src Crt.Fuzz \( -name bin -o -name obj \) -prune -o -type f \( -name '*.cs' -o -name '*.csproj' \) -print \
  | sort | xargs cat | sha1sum | cut -c1-12)
bin=build/$stamp
if [[ ! -d $bin ]]; then
  rm -rf "$bin.tmp"
  dotnet publish Crt.Fuzz/Crt.Fuzz.csproj -c Release -o "$bin.tmp" >build/publish.log
  for dll in Crt.dll Crt.Tensors.dll; do sharpfuzz "$bin.tmp/$dll" >>build/publish.log; done
  mv "$bin.tmp" "$bin"
fi
flock -u 9

seeds=seeds/$target
[[ -d corpus/$target && -n "$(ls -A corpus/$target)" ]] && seeds=corpus/$target  # go on from the last run
out=findings/$target
rm -rf "$out"
dict=(); [[ $target =~ ^(config|plan|state)$ ]] && dict=(-x json.dict)
# CPU time of the whole tree (afl-fuzz, SharpFuzz's .NET master and the .NET worker that parses): polled from /proc
# every 5 s, each process's last reading kept. (The shell's own accounting misses the worker: it is never waited for.)
descendants() { ps -eo pid=,ppid= | awk -v r="$1" '{ up[$1] = $2 } END { for (p in up) { x = p; while (x in up && x != r && x > 1) x = up[x]; if (x == r) print p } }'; }
poll_cpu() {
  declare -A ticks
  while kill -0 "$1" 2>/dev/null; do
    for p in $(descendants "$1"); do
      t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) && [[ -n $t ]] && ticks[$p]=$t
    done
    total=0; for t in "${ticks[@]}"; do total=$((total + t)); done
    echo "$total" >"findings/$target.cpu"
    sleep 5
  done
}
afl-fuzz -i "$seeds" -o "$out" -V "$seconds" -t 5000 -m none "${dict[@]}" \
  -- "$dotnet" "$bin/Crt.Fuzz.dll" afl "$target" >"findings/$target.log" 2>&1 &
afl=$!
poll_cpu "$afl" &
wait "$afl" || { tail -30 "findings/$target.log"; exit 1; }
wait
cpu=$(( $(cat "findings/$target.cpu" 2>/dev/null || echo 0) / $(getconf CLK_TCK) ))

# Kept files are named by their content (AFL's names hold ':' and ',', which not every file system takes).
name_by_content() { for f in "$1"/*; do mv -n "$f" "$1/$(sha1sum <"$f" | cut -c1-16)" 2>/dev/null || true; done; }
stats=$out/default/fuzzer_stats
get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
mkdir -p "crashes/$target"
for f in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
  [[ -e $f ]] && cp "$f" "crashes/$target/$(basename "$(dirname "$f")")-$(sha1sum <"$f" | cut -c1-12)"
done
rm -rf "corpus/$target.new"
afl-cmin -i "$out/default/queue" -o "corpus/$target.new" -t 5000 -m none -- "$dotnet" "$bin/Crt.Fuzz.dll" afl "$target" \
  >"findings/$target.cmin.log" 2>&1 && [[ -n "$(ls -A "corpus/$target.new")" ]] \
  && { rm -rf "corpus/$target"; mv "corpus/$target.new" "corpus/$target"; name_by_content "corpus/$target"; } \
  || echo "afl-cmin failed (findings/$target.cmin.log); corpus/$target kept as it was"
[[ -f results.tsv ]] || printf 'date\ttarget\tseconds\texecs\texecs_per_s\tpaths\tedges\tcrashes\thangs\tcorpus_kept\tcpu_seconds\n' >results.tsv
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "$(get run_time)" "$(get execs_done)" \
  "$(get execs_per_sec)" "$(get corpus_count)" "$(get edges_found)" "$(get saved_crashes)" "$(get saved_hangs)" \
  "$(ls "corpus/$target" 2>/dev/null | wc -l)" "$cpu" >>results.tsv
tail -1 results.tsv
