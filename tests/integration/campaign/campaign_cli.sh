#!/usr/bin/env bash
# `loa campaign` as a user drives it: exit codes, errors that name the field and the option,
# drafts, schedule in the Page's time zone, and `loa campaign run` sending a small campaign to
# loa-graph — each person exactly once (also across a SIGTERM and a second run), the person
# outside the window skipped, and no rule violation counted by loa-graph.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" campaign-cli
export LOA_STORE="$tmp/t.db"

TEXT='{"blocks":[{"type":"text","text":"Chào {{first_name|bạn}}! Giảm 20% tối nay."}]}'

# ---- Usage and errors -------------------------------------------------------------------
expect 0 "init" -- "$loa" init
printf 'TOKEN-777\n' >token
printf 'app-secret-777\n' >secret
expect 0 "page add" -- "$loa" page add --id 777 --name Shop --token-file token \
    --app-secret-file secret --timezone Asia/Ho_Chi_Minh --activated-at 2020-01-01T00:00:00Z

expect 64 "no subcommand" -- "$loa" campaign
expect 0 "help" -- "$loa" campaign --help
has out.txt "loa campaign create --page PAGE_ID --name NAME --blocks FILE|JSON" "help shows create"
has out.txt "loa campaign run ID" "help shows run"
expect 0 "help of a subcommand" -- "$loa" campaign create --help
has out.txt "--batch-interval SECONDS" "help lists the pacing options"
expect 64 "unknown subcommand" -- "$loa" campaign frob
has err.txt "unknown subcommand 'frob'" "unknown subcommand named"
expect 64 "create needs its options" -- "$loa" campaign create --page 777 --name X
has err.txt "--blocks" "names the missing option"
expect 64 "an option of another subcommand" -- "$loa" campaign create --page 777 --name X \
    --blocks "$TEXT" --state sent
has err.txt "--state is not an option" "foreign option named"
expect 64 "window without a dash" -- "$loa" campaign create --page 777 --name X --blocks "$TEXT" \
    --window 0800
expect 65 "unknown Page" -- "$loa" campaign create --page 999 --name X --blocks "$TEXT"
has err.txt "no Page with id 999" "unknown Page named"
expect 66 "blocks file missing" -- "$loa" campaign create --page 777 --name X --blocks nope.json
has err.txt "nope.json" "missing file named"
expect 65 "malformed blocks" -- "$loa" campaign create --page 777 --name X --blocks '{"blocks":['
has err.txt "malformed JSON" "malformed JSON explained"
expect 65 "every invalid field" -- "$loa" campaign create --page 777 --name "" \
    --blocks '[{"type":"text"}]' --window 25:00-08:00 --rate 1000 --at "2020-01-01 09:00" \
    --goal fame --batch-size lots
has err.txt "name (--name): must be a string of 1 to 200 characters" "name named"
has err.txt "blocks[0].text (--blocks): is required" "block path named"
has err.txt "pacing.window.from (--window)" "window named"
has err.txt "pacing.rate_per_s (--rate): must be a whole number from 0 to 300" "rate named"
has err.txt "pacing.batch_size (--batch-size)" "batch size named"
has err.txt "scheduled_at (--at): must be in the future" "start time named"
has err.txt "goal (--goal)" "goal named"
printf '{"tags":{"any":[1]}}' >bad-filter.json
expect 65 "invalid filter file" -- "$loa" campaign create --page 777 --name X --blocks "$TEXT" \
    --filter bad-filter.json
has err.txt "filter.tags.any[0] (--filter)" "filter path named"
expect 64 "show needs an id" -- "$loa" campaign show
expect 64 "show a non-id" -- "$loa" campaign show abc
expect 65 "show an unknown id" -- "$loa" campaign show 4242
has err.txt "no campaign with id 4242" "unknown campaign named"

# ---- Drafts, schedule, cancel, delete ---------------------------------------------------
printf '%s' "$TEXT" >blocks.json
expect 0 "create from a file" -- "$loa" campaign create --page 777 --name "Draft one" \
    --blocks blocks.json --goal care
draft=$(cat out.txt)
[[ $draft =~ ^[0-9]+$ ]] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: create prints an id: '$draft'"; }
expect 0 "update" -- "$loa" campaign update "$draft" --rate 5 --window 08:00-21:00 \
    --batch-size 100 --batch-interval 60 --json
same "$(jq -c .pacing out.txt)" '{"batch_size":100,"batch_interval_s":60,"rate_per_s":5,"window":{"from":"08:00","to":"21:00"}}' "update sets pacing"
same "$(jq -r .goal out.txt)" care "update keeps the goal"
expect 0 "update from stdin" -- sh -c "printf '%s' '[{\"type\":\"text\",\"text\":\"stdin\"}]' | '$loa' campaign update $draft --blocks - --window none --json"
same "$(jq -c .blocks out.txt)" '{"blocks":[{"type":"text","text":"stdin"}]}' "blocks read from stdin"
same "$(jq -c .pacing.window out.txt)" null "window none clears it"
expect 64 "schedule in the past" -- "$loa" campaign schedule "$draft" --at "2020-01-01 09:00"
expect 64 "schedule without a time" -- "$loa" campaign schedule "$draft"
expect 0 "schedule in Page time" -- "$loa" campaign schedule "$draft" --at "2031-05-04 09:00"
expect 0 "show json" -- "$loa" campaign show "$draft" --json
same "$(jq -r .scheduled_at out.txt)" "2031-05-04T02:00:00.000Z" "09:00 in Ho Chi Minh City is 02:00Z"
same "$(jq -r .status out.txt)" scheduled "scheduled"
expect 1 "a scheduled campaign is not edited" -- "$loa" campaign update "$draft" --name X
has err.txt "campaign $draft is scheduled; only a draft can be edited" "state error explained"
expect 1 "a scheduled campaign is not paused" -- "$loa" campaign pause "$draft"
expect 0 "list" -- "$loa" campaign list --page 777
has out.txt "Draft one" "list shows the campaign"
expect 0 "list by status" -- "$loa" campaign list --status running,completed
lacks out.txt "Draft one" "status filter"
expect 64 "list by a bad status" -- "$loa" campaign list --status sleeping
expect 1 "delete refuses a scheduled campaign" -- "$loa" campaign delete "$draft"
expect 0 "cancel" -- "$loa" campaign cancel "$draft"
expect 1 "cancel twice" -- "$loa" campaign cancel "$draft"
expect 0 "delete a cancelled campaign" -- "$loa" campaign delete "$draft"
expect 65 "deleted" -- "$loa" campaign show "$draft"

# ---- Send with loa-graph ----------------------------------------------------------------
start_graph --app-secret app-secret-777
export LOA_GRAPH_URL=$G
curl -sf -X POST "$G/_admin/pages" -d '{"id":"777","name":"Shop","access_token":"TOKEN-777","app_secret":"app-secret-777"}' >/dev/null ||
    { echo "FAIL: loa-graph page"; exit 1; }
# People write to the Page: loa serve gets the webhooks and makes them subscribers inside the
# 24 h window; then the daemon stops, so only `loa campaign run` sends.
LOA_WEBHOOK_APP_SECRET=app-secret-777 "$loa" --listen 127.0.0.1:0 --fetch-profiles false \
    serve --port-file sport 2>serve.log &
serve_pid=$!
pids+=($serve_pid)
wait_file sport || { echo "FAIL: loa serve did not start"; cat serve.log; exit 1; }
curl -sf -X POST "$G/_admin/config" -d "{\"webhook_url\":\"http://127.0.0.1:$(cat sport)/webhook\"}" >/dev/null
people=(q1 q2 q3 q4 q5 q6 q7 q8)
for p in "${people[@]}"; do
    curl -sf -X POST "$G/_admin/actions" -d "{\"page_id\":\"777\",\"psid\":\"$p\",\"kind\":\"message\",\"text\":\"Xin chào\"}" >/dev/null
done
for _ in $(seq 1 200); do
    n=$("$loa" subscribers list --page 777 --limit 100 2>/dev/null | grep -c ' q[0-9]')
    [[ $n == "${#people[@]}" ]] && break
    sleep 0.05
done
same "$n" "${#people[@]}" "every person became a subscriber"
stop "$serve_pid"
same "$?" 0 "loa serve stopped cleanly"
curl -sf -X POST "$G/_admin/config" -d '{"webhook_url":null}' >/dev/null
# Someone imported from a CRM who never wrote: outside the window, the rules skip them.
printf 'psid,first_name\n900001,Cũ\n' >old.csv
expect 0 "import a person outside the window" -- "$loa" subscribers import old.csv --page 777

expect 0 "create the campaign" -- "$loa" campaign create --page 777 --name "Flash sale" \
    --blocks "$TEXT" --rate 50
camp=$(cat out.txt)
expect 0 "run" -- "$loa" campaign run "$camp"
has out.txt "campaign $camp completed: 9 deliveries: sent 8, failed 0, skipped 1, unknown 0, pending 0" "run summary"
has err.txt "started: 9 deliveries" "run starts a draft"
expect 0 "show after run" -- "$loa" campaign show "$camp" --json
same "$(jq -c .stats.by_state out.txt)" '{"pending":0,"in_flight":0,"sent":8,"failed":0,"skipped":1,"unknown":0}' "counts by state"
same "$(jq -r .status out.txt)" completed "completed"
expect 0 "show as text" -- "$loa" campaign show "$camp"
has out.txt "funnel      sent 8" "show prints the funnel"
has out.txt "by state    pending 0, in_flight 0, sent 8, failed 0, skipped 1, unknown 0" "show prints counts"
expect 0 "deliveries: skipped" -- "$loa" campaign deliveries "$camp" --state skipped
has out.txt "900001" "the person outside the window is skipped"
expect 0 "deliveries: first page" -- "$loa" campaign deliveries "$camp" --limit 3 --json
same "$(jq '.data | length' out.txt)" 3 "a page of 3"
same "$(jq -r .next_cursor out.txt)" 2 "cursor = the last position"
expect 0 "deliveries: the rest" -- "$loa" campaign deliveries "$camp" --after 2 --limit 100 --json
same "$(jq '.data | length' out.txt)" 6 "the rest after the cursor"
same "$(jq -r .next_cursor out.txt)" null "no more"
expect 64 "deliveries: bad state" -- "$loa" campaign deliveries "$camp" --state lost
expect 0 "unknowns" -- "$loa" campaign unknowns "$camp" --older-than 0 --json
same "$(jq '.data | length' out.txt)" 0 "nothing unknown"
expect 0 "retry-failed" -- "$loa" campaign retry-failed "$camp"
has out.txt "0 failed deliveries re-queued" "nothing to retry"
expect 64 "resend needs ids" -- "$loa" campaign resend "$camp"
expect 64 "resend a non-id" -- "$loa" campaign resend "$camp" x1
expect 0 "resend an id that is not unknown" -- "$loa" campaign resend "$camp" 999999
has out.txt "0 of 1 deliveries re-queued" "nothing resent"
expect 0 "run a completed campaign again" -- "$loa" campaign run "$camp"
has err.txt "already completed" "says it is completed"
stats=$(curl -sf "$G/_admin/stats")
same "$(jq .violations <<<"$stats")" 0 "loa-graph counted no violation"
same "$(jq .accepted <<<"$stats")" 8 "loa-graph accepted 8 messages"
curl -sf "$G/_admin/log.ndjson" >log1.ndjson
same "$(jq -r .psid log1.ndjson | sort | uniq -c | awk '$1 != 1' | wc -l)" 0 "each person exactly once"
same "$(jq -r .psid log1.ndjson | sort | tr '\n' ' ')" "q1 q2 q3 q4 q5 q6 q7 q8 " "every person in the window got it"
same "$(jq -r .metadata log1.ndjson | sort -u | wc -l)" 8 "one delivery id per message"

# SIGTERM in the middle of a slow campaign, then a second run: still once each.
expect 0 "create a slow campaign" -- "$loa" campaign create --page 777 --name Slow --blocks "$TEXT" --rate 2
slow=$(cat out.txt)
"$loa" campaign run "$slow" >run1.out 2>run1.err &
run_pid=$!
pids+=($run_pid)
for _ in $(seq 1 200); do
    [[ $(curl -sf "$G/_admin/stats" | jq .accepted) -ge 10 ]] && break
    sleep 0.05
done
# One dispatcher per store: a second `run` (or `loa serve`) would double the Page's rate.
expect 75 "a second dispatcher on the same store" -- "$loa" campaign run "$slow"
has err.txt "another loa (serve, or campaign run) is sending from this store" "run says who sends"
stop "$run_pid"
same "$?" 0 "run stops cleanly on SIGTERM"
has run1.err "stopped by a signal" "run says it was stopped"
has run1.out "campaign $slow running" "still running after the stop"
expect 0 "run again to the end" -- "$loa" campaign run "$slow"
has out.txt "campaign $slow completed: 9 deliveries: sent 8, failed 0, skipped 1" "second run completes"
curl -sf "$G/_admin/log.ndjson" >log2.ndjson
same "$(jq -r .psid log2.ndjson | sort | uniq -c | awk '$1 != 2' | wc -l)" 0 "each person exactly once per campaign"
same "$(curl -sf "$G/_admin/stats" | jq .violations)" 0 "still no violation"

# A paused campaign is not run.
expect 0 "create a third" -- "$loa" campaign create --page 777 --name Paused --blocks "$TEXT"
third=$(cat out.txt)
expect 0 "start" -- "$loa" campaign start "$third"
has out.txt "running: 9 deliveries" "start answers the total"
expect 1 "start twice" -- "$loa" campaign start "$third"
expect 0 "pause" -- "$loa" campaign pause "$third" --json
same "$(jq -r .status_reason out.txt)" manual "paused by hand"
expect 1 "run a paused campaign" -- "$loa" campaign run "$third"
has err.txt "is paused; resume it first" "run explains"
expect 0 "resume" -- "$loa" campaign resume "$third"
expect 0 "cancel" -- "$loa" campaign cancel "$third" --json
same "$(jq .stats.by_state.skipped out.txt)" 9 "cancel skips what is pending"
same "$(curl -sf "$G/_admin/stats" | jq .accepted)" 16 "nothing more was sent"

# Graph accepts every message and answers after the client's 30 s timeout: each ends unknown.
# `run` reconciles them from the people's conversations (loa-graph's Conversations API, once the
# faults are gone) before it calls the campaign completed: all sent, none sent twice.
expect 0 "create a campaign Graph will time out on" -- "$loa" campaign create --page 777 \
    --name Timeout --blocks "$TEXT"
late=$(cat out.txt)
curl -sf -X POST "$G/_admin/faults" -d '{"page_id":"777","latency_ms":31000}' >/dev/null
"$loa" campaign run "$late" >run3.out 2>run3.err &
run_pid=$!
pids+=($run_pid)
for _ in $(seq 1 400); do
    [[ $(curl -sf "$G/_admin/stats" | jq .accepted) -ge 24 ]] && break
    sleep 0.05
done
same "$(curl -sf "$G/_admin/stats" | jq .accepted)" 24 "loa-graph accepted the 8 messages"
curl -sf -X POST "$G/_admin/faults" -d '{}' >/dev/null
wait "$run_pid"
same "$?" 0 "run ends by itself"
has run3.out "campaign $late completed: 9 deliveries: sent 8, failed 0, skipped 1, unknown 0, pending 0" \
    "every unknown reconciled as sent"
expect 0 "the sent ones" -- "$loa" campaign deliveries "$late" --state sent --json
same "$(jq -c '[.data[].reason] | unique' out.txt)" '["reconciled"]' "sent by reconciliation"
same "$(jq '[.data[] | select(.mid != null)] | length' out.txt)" 8 "with the mid Graph gave them"
expect 0 "no unknowns left" -- "$loa" campaign unknowns "$late" --older-than 0 --json
same "$(jq '.data | length' out.txt)" 0 "nothing to resend"
curl -sf "$G/_admin/log.ndjson" >log3.ndjson
same "$(jq -r .psid log3.ndjson | sort | uniq -c | awk '$1 != 3' | wc -l)" 0 "nobody got it twice"
same "$(curl -sf "$G/_admin/stats" | jq .accepted)" 24 "nothing was sent again"

finish "campaign cli"
