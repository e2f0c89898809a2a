#!/usr/bin/env bash
# Quick regression over the committed inputs: runs every fuzz target once over fuzz/corpus/<target> and
# each file of fuzz/regressions/<target> (if present) with `-runs=0` (no fuzzing, no new inputs written).
# Exits non-zero if any input panics or fails an assertion; the failing input is copied to
# fuzz/artifacts/<target>/. Works on stable Rust (no sanitizer, `-s none`), as in STACK.md B4.
#
# Usage: fuzz/run-regression.sh [target...]   (default: every target of `cargo fuzz list`)
set -u -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo fuzz not found; installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || exit 2
fi

# Let libFuzzer see comparisons (the same flags as the fuzzing runs, so the build is shared).
export RUSTFLAGS="-Cllvm-args=-max-loads-per-memcmp=0"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || { echo "no fuzz targets found" >&2; exit 2; }

cargo fuzz build -s none || exit 2

failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    if [ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ]; then
        echo "== $target: $(ls "$corpus" | wc -l) corpus inputs"
        if ! cargo fuzz run -s none "$target" "$corpus" -- -runs=0; then
            failed+=("$target: corpus")
        fi
    else
        echo "== $target: no committed corpus" >&2
    fi
    regressions="fuzz/regressions/$target"
    if [ -d "$regressions" ]; then
        # One input per run, so that every failing input is reported, not only the first.
        for input in "$regressions"/*; do
            [ -f "$input" ] || continue
            echo "== $target: regression $(basename "$input")"
            if ! cargo fuzz run -s none "$target" "$input" -- -runs=0; then
                failed+=("$target: $input")
            fi
        done
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo >&2
    echo "FAILED (${#failed[@]}):" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all fuzz regressions passed (${targets[*]})"
