#!/usr/bin/env bash
# Import benchmark: 1,000,000 generated subscribers (Vietnamese names, mixed phone formats,
# tags, a custom attribute) imported into a fresh store; rows/s and peak RSS, median of 3 runs.
# Ceiling: the sqlite3 shell's .import of the same file into a plain table (no validation,
# no phone normalisation, no upsert, no indexes, no tags).
# Usage: bench/import/run.sh BIN_DIR   (ROWS=N to change the size)
set -euo pipefail
bin="${1:?usage: run.sh BIN_DIR}"
rows="${ROWS:-1000000}"
reps="${REPS:-3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
loa="$bin/loa"
"$loa" subscribers generate "$rows" --seed 11 -o "$work/subs.csv"
echo "generated $rows rows, $(du -h "$work/subs.csv" | cut -f1)" >&2
printf 'bench-token\n' >"$work/token"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rates=() rss=()
for i in $(seq "$reps"); do
    db="$work/run$i.db"
    "$loa" --store "$db" --log-level warn init >/dev/null
    "$loa" --store "$db" page add --id 1 --name Bench --token-file "$work/token" >/dev/null
    /usr/bin/time -f '%e %M' -o "$work/time" \
        "$loa" --store "$db" --log-level warn subscribers import "$work/subs.csv" --page 1 >&2
    read -r secs kb <"$work/time"
    rates+=("$(awk -v r="$rows" -v s="$secs" 'BEGIN {printf "%.0f", r / s}')")
    rss+=("$kb")
    rm -f "$db" "$db"-wal "$db"-shm "$db".key
done
loa_rate=$(printf '%s\n' "${rates[@]}" | median)
loa_rss=$(printf '%s\n' "${rss[@]}" | median)

ceil=()
for i in $(seq "$reps"); do
    db="$work/ceil$i.db"
    /usr/bin/time -f '%e' -o "$work/time" sqlite3 "$db" \
        -cmd 'PRAGMA journal_mode=WAL' -cmd 'PRAGMA synchronous=NORMAL' \
        ".import --csv $work/subs.csv subs" >/dev/null
    secs=$(cat "$work/time")
    ceil+=("$(awk -v r="$rows" -v s="$secs" 'BEGIN {printf "%.0f", r / s}')")
    rm -f "$db" "$db"-wal "$db"-shm
done
ceil_rate=$(printf '%s\n' "${ceil[@]}" | median)
ratio=$(awk -v a="$loa_rate" -v b="$ceil_rate" 'BEGIN {printf "%.2f", a / b}')

echo "result|import|loa subscribers import|rows/s|$loa_rate|rows/s|median of $reps, $rows rows; runs: ${rates[*]}"
echo "result|import|loa subscribers import|peak RSS|$((loa_rss / 1024))|MiB|median of $reps"
echo "result|import|sqlite3 .import (ceiling)|rows/s|$ceil_rate|rows/s|no validation/upsert/indexes; loa = ${ratio}x ceiling"
