# Sourced by the bash integration tests: source "$(dirname "$0")/../lib.sh" NAME
#
# Sets bin and loa (the binaries under test, from LOA_BIN), makes a scratch directory tmp
# (named after NAME) and works in it, and at exit stops the processes listed in pids and
# removes tmp. The checks count into pass and fail; `finish NAME` prints the counts and is
# the test's status.
# shellcheck shell=bash disable=SC2034 # bin, loa, tmp and G are for the test that sources this
set -uo pipefail
bin="${LOA_BIN:?set LOA_BIN to the bin directory of a build}"
loa="$bin/loa"
tmp=$(mktemp -d "${LOA_TEST_TMPDIR:-/tmp}/${1:-test}.XXXXXX")
pids=() # background processes to stop at exit
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
pass=0 fail=0

# expect CODE DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit code, keeps its output
# in out.txt and err.txt.
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >out.txt 2>err.txt
    local got=$?
    if [[ $got == "$want" ]]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $what: exit $got, expected $want"
        sed 's/^/  out: /' out.txt | head -5
        sed 's/^/  err: /' err.txt | head -5
    fi
}
# has FILE TEXT DESCRIPTION: FILE contains TEXT.
has() {
    if grep -qF -- "$2" "$1"; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL: $3: '$2' not in $1:"
        head -5 "$1" | sed 's/^/  /'
    fi
}
# lacks FILE TEXT DESCRIPTION: FILE does not contain TEXT.
lacks() {
    if grep -qF -- "$2" "$1"; then
        fail=$((fail + 1))
        echo "FAIL: $3: '$2' found in $1"
    else pass=$((pass + 1)); fi
}
# same ACTUAL EXPECTED DESCRIPTION
same() {
    if [[ "$1" == "$2" ]]; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL: $3: got '$1', expected '$2'"
    fi
}
# wait_file FILE: up to 10 s for FILE to exist (and not be empty).
wait_file() {
    for _ in $(seq 1 400); do [[ -s $1 ]] && return 0; sleep 0.025; done
    return 1
}
# start_graph [OPTION...]: starts loa-graph on a free port with OPTIONs (its log in graph.log),
# sets graph_pid and G (its address); ends the test when it does not start.
start_graph() {
    "$bin/loa-graph" --listen 127.0.0.1:0 --port-file graph.port "$@" 2>graph.log &
    graph_pid=$!
    pids+=("$graph_pid")
    wait_file graph.port || { echo "FAIL: loa-graph did not start"; cat graph.log; exit 1; }
    G="http://127.0.0.1:$(cat graph.port)"
}
# stop PID: SIGTERM to a process of pids, waits for it; returns its exit status.
stop() {
    local p rc left=()
    kill -TERM "$1"
    wait "$1"
    rc=$?
    for p in "${pids[@]}"; do [[ $p == "$1" ]] || left+=("$p"); done
    pids=("${left[@]}")
    return $rc
}
# finish NAME: prints the counts; fails when a check failed.
finish() {
    echo "$1: $pass passed, $fail failed"
    [[ $fail == 0 ]]
}
