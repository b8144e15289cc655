#!/usr/bin/env bash
# One rule for times (issue 17): a time without an offset is the Page's local time in every
# command; "20:00" alone is the next 20:00 there; times print in the Page's zone with their
# offset. The Page is in Asia/Ho_Chi_Minh (+07:00, no daylight saving).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" times
export LOA_STORE="$tmp/t.db"

expect 0 "init" -- "$loa" init
printf 'EAAB-token\n' >token
expect 0 "page add" -- "$loa" page add --id 123 --name Shop --token-file token --timezone Asia/Ho_Chi_Minh
blocks='{"blocks":[{"type":"text","text":"Chào {{first_name|bạn}}"}]}'
expect 0 "campaign create" -- "$loa" campaign create --page 123 --name "Tối nay" --blocks "$blocks" --json
id=$(node -e 'console.log(JSON.parse(require("fs").readFileSync("out.txt","utf8")).id)')

# "20:00" alone: the next 20:00 in Ho Chi Minh City (today or tomorrow), printed with +07:00.
expect 0 "schedule --at 20:00" -- "$loa" campaign schedule "$id" --at 20:00
has out.txt " 20:00 +07:00 (the Page's time)" "scheduled at 20:00 local, with the offset"
want_day=$(TZ=Asia/Ho_Chi_Minh date -d "$( [[ $(TZ=Asia/Ho_Chi_Minh date +%H%M) < 2000 ]] && echo today || echo tomorrow)" +%Y-%m-%d)
has out.txt "$want_day 20:00 +07:00" "the next 20:00 there: $want_day"
# A full local time, and the same instant with an offset: the same schedule.
next_year=$(( $(date -u +%Y) + 1 ))
expect 0 "schedule a local time" -- "$loa" campaign schedule "$id" --at "$next_year-01-02 09:30"
has out.txt "$next_year-01-02 09:30 +07:00" "local time kept as typed"
expect 0 "schedule with an offset" -- "$loa" campaign schedule "$id" --at "$next_year-01-02T02:30Z"
has out.txt "$next_year-01-02 09:30 +07:00" "an offset is that instant, shown in the Page's zone"
expect 0 "show" -- "$loa" campaign show "$id"
has out.txt "scheduled   $next_year-01-02 09:30 +07:00" "show prints the Page's time"
expect 0 "list" -- "$loa" campaign list --page 123
has out.txt "$next_year-01-02 09:30 +07:00" "list prints the Page's time"
expect 64 "not a time" -- "$loa" campaign schedule "$id" --at "tonight"
expect 64 "a date alone is not a moment" -- "$loa" campaign schedule "$id" --at "$next_year-01-02"

# The audience preview reads --at the same way (a window 'within_days' counts back from it).
expect 0 "audience count at a local time" -- "$loa" audience count --page 123 --at "$next_year-01-02 09:30"
expect 0 "audience count at 20:00" -- "$loa" audience count --page 123 --at 20:00
expect 64 "audience: not a time" -- "$loa" audience count --page 123 --at "soon"
has err.txt "--at soon: not a time" "says why"

finish times
