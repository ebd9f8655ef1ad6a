#!/usr/bin/env bash
# Run the compiled extension's tests under valgrind memcheck (or an AddressSanitizer build).
#
#   scripts/valgrind.sh                  # memcheck on the default test files below
#   scripts/valgrind.sh tests/test_x.py  # memcheck on the given pytest arguments instead
#   scripts/valgrind.sh --asan [args]    # rebuild the extension with -fsanitize=address in a
#                                        # temporary copy of the tree and run the tests there
#
# Default tests: tests/test_speedups.py tests/test_memory.py tests/test_interrupted.py
# (those that exist). The extension is used (ACTIVERECORD_PURE_PYTHON is unset) and must
# be importable; it is built in place first when it is not.
#
# memcheck runs the real interpreter binary (not a pyenv shim) with PYTHONMALLOC=malloc so
# every Python allocation is visible, and scripts/valgrind-python.supp silences only the
# interpreter's own uninitialised-value noise. Any invalid read/write, invalid free, or
# uninitialised use inside our extension or libsqlite3 fails the run (exit 86); test
# failures give pytest's exit code. The full report is in $VALGRIND_LOG
# (default: valgrind-memcheck.log). Expect it to be 20-50x slower than a normal run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MODE=memcheck
if [[ "${1:-}" == "--asan" ]]; then MODE=asan; shift; fi

PY=$(python3 -c 'import sys; print(sys.executable)')
unset ACTIVERECORD_PURE_PYTHON

if [[ $# -gt 0 ]]; then
    TESTS=("$@")
else
    TESTS=()
    for f in tests/test_speedups.py tests/test_memory.py tests/test_interrupted.py; do
        [[ -f "$f" ]] && TESTS+=("$f")
    done
fi
if [[ ${#TESTS[@]} -eq 0 ]]; then
    echo "valgrind.sh: no test files to run" >&2
    exit 2
fi

require_speedups() {
    "$PY" -c 'import sys, activerecord
sys.exit(0 if activerecord.speedups_enabled() else 1)'
}

if [[ "$MODE" == asan ]]; then
    LIBASAN=$(gcc -print-file-name=libasan.so)
    if [[ ! -e "$LIBASAN" ]]; then
        echo "valgrind.sh: libasan not found; apt-get install libasan8 (or gcc's libasan)" >&2
        exit 2
    fi
    WORK=$(mktemp -d /tmp/ar-asan.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    tar -C "$ROOT" --exclude=.git --exclude='.venv*' --exclude='*.so' -cf - . | tar -C "$WORK" -xf -
    cd "$WORK"
    echo "== building the extension with AddressSanitizer in $WORK"
    ACTIVERECORD_REQUIRE_EXTENSIONS=1 \
        CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1" LDFLAGS="-fsanitize=address" \
        "$PY" setup.py -q build_ext --inplace --force
    # The interpreter is not instrumented, so ASan's runtime is preloaded; leaks are the
    # interpreter's business (tests/test_memory.py covers ours), so leak checking is off.
    export LD_PRELOAD="$LIBASAN" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
    export PYTHONPATH="$WORK"
    require_speedups || { echo "valgrind.sh: the ASan build is not importable" >&2; exit 2; }
    echo "== pytest under AddressSanitizer: ${TESTS[*]}"
    exec "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
fi

if ! command -v valgrind >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
    else
        echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
        exit 2
    fi
fi
if ! require_speedups; then
    echo "== building the extension in place"
    ACTIVERECORD_REQUIRE_EXTENSIONS=1 "$PY" setup.py -q build_ext --inplace
    require_speedups || { echo "valgrind.sh: the compiled extension is not in use" >&2; exit 2; }
fi

LOG=${VALGRIND_LOG:-valgrind-memcheck.log}
echo "== pytest under valgrind memcheck: ${TESTS[*]} (report: $LOG)"
status=0
PYTHONMALLOC=malloc valgrind --tool=memcheck --error-exitcode=86 --leak-check=no \
    --track-origins=yes --num-callers=40 --suppressions="$ROOT/scripts/valgrind-python.supp" \
    --log-file="$LOG" "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}" || status=$?
grep -E "ERROR SUMMARY" "$LOG" | tail -1
if [[ $status -eq 86 ]]; then
    echo "valgrind.sh: memcheck found errors; first ones:" >&2
    grep -E -A12 "== (Invalid|Conditional|Use of uninit|Mismatched|Source and dest)" "$LOG" | head -80 >&2
fi
exit $status
