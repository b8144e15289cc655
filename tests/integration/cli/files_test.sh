#!/usr/bin/env bash
# The store and its key as files (issue 16): created private (0600), and a key file that
# others can read is refused with the command that fixes it.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" files
export LOA_STORE="$tmp/t.db"
umask 022 # as a shell usually has it: files would be 0644 unless loa says otherwise

expect 0 "init" -- "$loa" init
printf "EAAB-token\n" >token
expect 0 "a command that writes" -- "$loa" page add --id 123 --name Shop --token-file token
for f in t.db t.db.key; do
    mode=$(stat -c %a "$f")
    [[ $mode == 600 ]] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: $f mode $mode, want 600"; }
done
for f in t.db-wal t.db-shm; do
    [[ -e $f ]] || continue
    mode=$(stat -c %a "$f")
    [[ $mode == 600 ]] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: $f mode $mode, want 600"; }
done
chmod 644 t.db.key
expect 78 "a key file others can read is refused" -- "$loa" page list
has err.txt "key file is readable by others (mode 644)" "says why"
has err.txt "chmod 600" "says how to fix it"
chmod 600 t.db.key
expect 0 "private again: works" -- "$loa" page list
has out.txt "123" "the Page is there"

finish files
