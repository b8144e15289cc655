#!/usr/bin/env bash
# `loa simulate` against a real loa-graph: Pages and people land in loa's store and in the
# emulator with the same windows, the same seed gives the same people, a bad campaign file is
# refused with its JSON path and writes nothing, an unreachable emulator leaves the store as it
# was.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" sim

start_graph
export LOA_GRAPH_URL=$G LOA_WEBHOOK_APP_SECRET=sim-test-secret LOA_STORE="$tmp/a.db"

expect 64 "pages and people required" -- "$loa" simulate --pages 2
expect 64 "--start needs --campaign" -- "$loa" simulate --pages 1 --people 1 --start
expect 78 "refuses to send simulated Pages to Meta" -- \
    env LOA_GRAPH_URL=https://graph.facebook.com "$loa" simulate --pages 1 --people 1
has err.txt "loa-graph" "explains graph.url"

expect 0 "simulate 3 Pages x 40 people" -- "$loa" simulate --pages 3 --people 40 --seed 5 \
    --outside-percent 25 --daily-cap 9000 --rate 120
same "$(cat out.txt)" "100000000000001 people 40
100000000000002 people 40
100000000000003 people 40" "one line per Page"

# loa's side: every person stored, with profiles, phones, tags.
for p in 100000000000001 100000000000002 100000000000003; do
    expect 0 "audience count $p" -- "$loa" audience count --page "$p"
    same "$(cat out.txt)" 40 "40 people in loa for Page $p"
done
expect 0 "subscribers list" -- "$loa" subscribers list --page 100000000000002 --limit 1000
same "$(($(wc -l <out.txt) - 1))" 40 "subscribers list shows 40"
has out.txt "+84" "some people have phones"
expect 0 "page show" -- "$loa" page show 100000000000003
has out.txt "Simulated shop 3" "Page named"
has out.txt "9000" "daily cap set"
expect 0 "tags" -- "$loa" tag list --page 100000000000001
for t in khach-quen vip ha-noi tp-hcm da-mua-hang; do has out.txt "$t" "tag $t used"; done
expect 0 "outside the window" -- "$loa" audience preview --page 100000000000001 --limit 0
has out.txt "window_closed" "some people are outside the window"

# loa-graph's side: the same Pages (with the app secret), people and windows.
curl -s "$G/_admin/pages" >pages.json
same "$(grep -o '"people":40' pages.json | wc -l)" 3 "loa-graph has 40 people per Page"
same "$(grep -o '"has_app_secret":true' pages.json | wc -l)" 3 "loa-graph signs with the app secret"
"$loa" subscribers list --page 100000000000002 --limit 1000 | tail -n +2 >people.txt
checked=0
while read -r _ psid _ _ _ last; do
    want=$(date -u -d "$last" +%s%3N)
    got=$(curl -s "$G/_admin/people?page_id=100000000000002&psid=$psid" |
        grep -o '"last_action_at_ms":[0-9]*' | cut -d: -f2)
    same "$got" "$want" "last interaction of $psid agrees"
    checked=$((checked + 1))
done < <(awk '{print $1, $2, "x", "y", "z", $NF}' people.txt | head -8)
same "$checked" 8 "compared 8 people"

# The same seed gives the same people (in another store); another seed does not.
cut_times() { sed -E 's/,[^,]*,[^,]*,[^,]*$//' "$1"; }
"$loa" subscribers export --page 100000000000001 -o a.csv >/dev/null
expect 0 "same seed again" -- env LOA_STORE="$tmp/b.db" "$loa" simulate --pages 1 --people 40 \
    --seed 5 --outside-percent 25
env LOA_STORE="$tmp/b.db" "$loa" subscribers export --page 100000000000001 -o b.csv >/dev/null
if diff <(cut_times a.csv) <(cut_times b.csv) >diff.txt; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: same seed, same people"; head -5 diff.txt
fi
expect 0 "another seed" -- env LOA_STORE="$tmp/c.db" "$loa" simulate --pages 1 --people 40 --seed 6
env LOA_STORE="$tmp/c.db" "$loa" subscribers export --page 100000000000001 -o c.csv >/dev/null
if diff -q <(cut_times a.csv) <(cut_times c.csv) >/dev/null; then
    fail=$((fail + 1)); echo "FAIL: another seed gave the same people"
else pass=$((pass + 1)); fi

# Campaigns: a bad message is refused with its path and nothing is written.
export LOA_STORE="$tmp/d.db"
printf '{"blocks":[{"type":"text","text":"Chào {{first_name|bạn}}"},{"type":"image","url":"ftp://x"}]}' >bad.json
expect 65 "bad campaign file" -- "$loa" simulate --pages 2 --people 5 --first-page-id 500 \
    --campaign bad.json --start
has err.txt "bad.json: blocks[1].url" "error names the file and the JSON path"
same "$(cat out.txt)" "" "nothing printed"
expect 66 "no store written for a bad campaign" -- "$loa" page show 500
cat >good.json <<'JSON'
{"blocks":[{"type":"text","text":"Chào {{first_name|bạn}}!"},
 {"type":"buttons","text":"Xem ưu đãi?","buttons":[{"type":"postback","title":"Có","payload":"YES"}]}]}
JSON
expect 0 "campaign per Page" -- "$loa" simulate --pages 2 --people 5 --first-page-id 500 \
    --campaign good.json --start --json
same "$(cat out.txt)" '{"pages":[{"id":"500","people":5,"campaign_id":1},{"id":"501","people":5,"campaign_id":2}]}' \
    "json names each Page's campaign (the refused run created none)"
expect 0 "campaign lines" -- "$loa" simulate --pages 2 --people 5 --first-page-id 500 --campaign good.json
same "$(cat out.txt)" "500 campaign 3
501 campaign 4" "one 'PAGE_ID campaign CID' line per Page"
expect 0 "re-run updates" -- "$loa" audience count --page 500
same "$(cat out.txt)" 5 "a re-run updates the same people"

# An unreachable loa-graph: the Page is named and nothing is stored.
expect 74 "loa-graph unreachable" -- env LOA_GRAPH_URL=http://127.0.0.1:1 "$loa" simulate \
    --pages 1 --people 3 --first-page-id 600
has err.txt "Page 600" "error names the Page"
expect 65 "nothing stored for the failed Page" -- "$loa" page show 600

curl -s "$G/_admin/stats" >stats.json
has stats.json '"violations":0' "no violations"
stop "$graph_pid"
same "$?" 0 "loa-graph stops cleanly"

finish simulate
