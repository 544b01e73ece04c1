#!/bin/sh
# Builds and runs one libFuzzer target for SECONDS, keeping crash, timeout and out-of-memory inputs.
#   Fuzz/run.sh TARGET SECONDS      TARGET: safetensors gguf zip pickle adapter-config index
# The corpus grows in Fuzz/corpus/TARGET (not committed), seeded from fixtures/ on first use; findings
# go to Fuzz/findings/TARGET/ (crash-*, timeout-*, oom-*); libFuzzer's log to Fuzz/logs/TARGET.log.
# Limits are the issue's: an input taking more than 1 s (FUZZ_TIMEOUT) is a hang, more than 2 GiB is out of memory.
# FUZZ_CONFIG=debug builds the unoptimised harness instead (faster to build, slower to run).
set -eu
target=${1:?usage: Fuzz/run.sh TARGET SECONDS}
seconds=${2:?usage: Fuzz/run.sh TARGET SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/../fixtures"
corpus="$here/corpus/$target"
findings="$here/findings/$target"
mkdir -p "$corpus" "$findings" "$here/logs"

seed() {
    for file in "$@"; do [ -f "$file" ] && cp "$file" "$corpus/seed-$(basename "$file")" || true; done
}
if [ -z "$(ls -A "$corpus")" ]; then
    case "$target" in
        safetensors) seed "$fixtures"/safetensors/*.safetensors "$fixtures"/safetensors/malformed/*.safetensors ;;
        gguf) seed "$fixtures"/gguf/*.gguf "$fixtures"/gguf/malformed/*.gguf ;;
        zip) seed "$fixtures"/torch/*.pt "$fixtures"/torch/*.bin "$fixtures"/torch/malicious/* ;;
        pickle)
            # data.pkl of each torch fixture (python3's zipfile: no third-party package needed).
            python3 - "$corpus" "$fixtures"/torch/*.pt "$fixtures"/torch/malicious/* <<'PY'
import sys, zipfile, os
out = sys.argv[1]
for path in sys.argv[2:]:
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith("data.pkl"):
                    with open(os.path.join(out, "seed-" + os.path.basename(path) + ".pkl"), "wb") as f:
                        f.write(archive.read(name))
    except Exception:
        pass
PY
            ;;
        adapter-config) seed $(find "$fixtures" -name adapter_config.json | head -50) ;;
        index) seed $(find "$fixtures" -name '*.index.json' | head -50) ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    # Distinct names for seeds that share a base name.
    [ -n "$(ls -A "$corpus")" ] || echo '{}' > "$corpus/seed-empty"
fi

cd "$here"
# Release (optimised) code with the sanitizer: five times the executions of a debug build, and the
# 1 s hang limit then means what it says (the slowest seed, a 200 kB nesting bomb that is refused in
# linear time, takes 0.95 s under a debug build and 0.18 s under this one).
config=${FUZZ_CONFIG:-release}
swift build -c "$config" -Xswiftc -sanitize=fuzzer,address --product "fuzz-$target" 2>&1 | grep -E "error:" && exit 1
binary="$here/.build/$config/fuzz-$target"
# Pickles: inputs up to 16 kB (the 200 kB seeds only slow each run; a linear-time refusal of a 200 kB
# nesting bomb already exceeds 1 s under AddressSanitizer). Containers keep their whole seeds.
extra=""
[ "$target" = pickle ] && extra="-max_len=16384"
"$binary" $extra -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-1}" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -dict="$here/dict/$target.dict" -artifact_prefix="$findings/" -print_final_stats=1 \
    "$corpus" >"$here/logs/$target.log" 2>&1 || true
grep -E "^#[0-9]+.*(DONE|cov:)" "$here/logs/$target.log" | tail -1
grep -E "stat::number_of_executed_units|ERROR|SUMMARY" "$here/logs/$target.log" || true
ls "$findings"
