#!/usr/bin/env bash
# What loa lets a shop send outside the 24-hour window, by date (issue 11's table): `loa rules
# explain --routes` for one person whose window closed, with every route on offer (a topic
# token, a marketing-message token, an approved utility template, a person typing), at the
# dates the rules changed. Each line checks the verdict and the rule that gives it.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" routes

# $1 date, $2 country, then options; the person last wrote 3 days before the date.
routes() {
    local at="$1" country="$2"
    shift 2
    local last
    last="$(date -u -d "$at - 3 days" +%Y-%m-%dT%H:%MZ)"
    "$loa" rules explain --at "$at" --last-interaction "$last" --country "$country" \
        --accept topic,marketing,utility --token sale,created=2019-01-01 --routes "$@"
}

# A non-promotional update from automation (an order update), in a Vietnamese shop.
expect 0 "2019: the 24+1 message" -- routes 2019-06-01T10:00Z VN
has out.txt "1. window (auto takes this one): allowed: window (messaging_type UPDATE" "2019: 24+1"
has out.txt "24+1 allows 1 more message" "2019: says 24+1"

expect 1 "2021: no route for automation (tags are named, never picked)" -- routes 2021-06-01T10:00Z VN
has out.txt "2. marketing: refused: rule marketing-messages-2025" "2021: no marketing messages yet"
has out.txt "3. topic: refused: rule topic-cadence-24h" "2021: no topics yet (2022)"
expect 0 "2021: a POST_PURCHASE_UPDATE tag when named" -- \
    "$loa" rules explain --at 2021-06-01T10:00Z --last-interaction 2021-05-29T10:00Z \
    --route tag:POST_PURCHASE_UPDATE
has out.txt "allowed: tag POST_PURCHASE_UPDATE" "2021: the tag"

expect 0 "2024: a topic token (text)" -- \
    "$loa" rules explain --at 2024-06-01T10:00Z --last-interaction 2024-05-29T10:00Z \
    --country VN --token sale,created=2024-01-01 --routes
has out.txt "2. topic (auto takes this one): allowed: topic \"sale\"" "2024: topic token"
has out.txt "which does not expire" "2024: tokens from 2023-08-10 do not expire"

expect 0 "2026-03: a marketing message (templates not yet)" -- \
    "$loa" rules explain --at 2026-03-01T10:00Z --last-interaction 2026-02-26T10:00Z \
    --country VN --marketing active --template order_shipped --accept topic,marketing,utility \
    --token sale,created=2024-01-01 --routes
has out.txt "2. utility: refused: rule utility-templates-2026" "2026-03: no templates yet"
has out.txt "3. marketing (auto takes this one): allowed" "2026-03: marketing message"
has out.txt "4. topic: refused: rule topics-retired" "2026-03: topics retired for VN"

expect 0 "2026-12: a utility template first" -- routes 2026-12-03T10:00Z VN --marketing active \
    --template order_shipped
has out.txt "2. utility (auto takes this one): allowed" "2026-12: utility template"
has out.txt "3. marketing: allowed" "2026-12: marketing message too"
expect 0 "2026-12: a promotion goes as a marketing message" -- routes 2026-12-03T10:00Z VN \
    --marketing active --template order_shipped --purpose promotional
has out.txt "2. utility: refused: rule utility-templates-2026" "promotion: never a template"
has out.txt "3. marketing (auto takes this one)" "promotion: marketing message"
expect 0 "2026-12: a recipient in France keeps the topic" -- \
    "$loa" rules explain --at 2026-12-03T10:00Z --last-interaction 2026-11-30T10:00Z \
    --country FR --marketing active --accept topic,marketing --token sale,created=2024-01-01 --routes
has out.txt "2. marketing: refused: rule marketing-messages-2025" "France: no marketing messages"
has out.txt "3. topic (auto takes this one): allowed" "France: topic kept"
expect 0 "2026-12: a person typing, 3 days after" -- routes 2026-12-03T10:00Z VN --sender human
has out.txt "2. human_agent (auto takes this one): allowed" "staff: HUMAN_AGENT"
expect 1 "2026-12: automation never takes HUMAN_AGENT" -- \
    "$loa" rules explain --at 2026-12-03T10:00Z --last-interaction 2026-11-30T10:00Z --route human_agent
has out.txt "refused: rule human-agent-7d" "automation: HUMAN_AGENT refused"
expect 1 "JSON: one object per route, none allowed" -- routes 2026-12-03T10:00Z VN --json
node -e 'const a=JSON.parse(require("fs").readFileSync("out.txt","utf8"));
  const want = ["window", "marketing", "topic"];
  if (!Array.isArray(a) || a.length !== 3 || a.some((x, i) => x.route !== want[i] || x.allowed) ||
      a[1].code !== "no_marketing_token" || a[2].rule.id !== "topics-retired") process.exit(1)' &&
    pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: routes as JSON"; }

expect 64 "bad country" -- "$loa" rules explain --country Vietnam
has err.txt "two capital letters" "bad country named"
expect 64 "bad accept" -- "$loa" rules explain --accept fax
has err.txt "--accept: topic, marketing or utility, not fax" "bad accept named"
expect 64 "bad marketing status" -- "$loa" rules explain --marketing yes
expect 64 "bad template" -- "$loa" rules explain --template x,pending

finish routes
