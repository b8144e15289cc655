#!/usr/bin/env bash
# The loa CLI as a user drives it: exit codes, precise errors, secrets never shown, and an
# export that imports back unchanged.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" cli
export LOA_STORE="$tmp/t.db"

expect 0 "help" -- "$loa" --help
has out.txt "subscribers" "help lists commands"
expect 64 "unknown command" -- "$loa" frobnicate
has err.txt "unknown command 'frobnicate'" "unknown command named"
expect 64 "no command" -- "$loa"
expect 66 "store missing before init" -- "$loa" page list
has err.txt "loa init" "missing store points at init"

expect 0 "init" -- "$loa" init
[[ $(stat -c %a "$tmp/t.db.key") == 600 ]] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: key file mode"; }
expect 0 "init again is harmless" -- "$loa" init

printf 'EAAB-secret-page-token-xyz\n' >token
expect 64 "page add needs a token" -- "$loa" page add --id 123 --name Shop
expect 64 "page id must be digits" -- "$loa" page add --id abc --name Shop --token-file token
expect 64 "bad timezone" -- "$loa" page add --id 123 --name Shop --token-file token --timezone Mars/Base
expect 0 "page add" -- "$loa" page add --id 123 --name "Shop Hoa" --token-file token
expect 0 "page show" -- "$loa" page show 123
has out.txt "set (encrypted)" "page show says the token is set"
lacks out.txt "secret-page-token" "page show never prints the token"
lacks t.db "secret-page-token" "token not stored in clear"
expect 65 "page show unknown" -- "$loa" page show 999

cat >good.csv <<'CSV'
psid,first_name,last_name,phone,email,gender,tags,city
1001,Lan,Nguyễn,0912 345 678,lan@example.vn,nữ,"vip,da-mua",Huế
1002,Minh,Trần,+84 987 654 321,,nam,vip,Hà Nội
1003,"Thu, Hà",Lê,84912000111,,,"",Đà Nẵng
CSV
expect 0 "import" -- "$loa" subscribers import good.csv --page 123
has out.txt "inserted 3, updated 0, unchanged 0, invalid 0" "import counts"
expect 0 "import again" -- "$loa" subscribers import good.csv --page 123
has out.txt "inserted 0, updated 0, unchanged 3" "re-import changes nothing"
expect 64 "import needs --page" -- "$loa" subscribers import good.csv
expect 66 "import missing file" -- "$loa" subscribers import nope.csv --page 123

cat >bad.csv <<'CSV'
psid,first_name,phone
2001,Ok,0912000222
2002,Bad,12
CSV
expect 65 "invalid row: nothing imported" -- "$loa" subscribers import bad.csv --page 123
has err.txt "bad.csv:3:3: phone: '12' is not a phone number" "error names file, line, column"
has err.txt "nothing imported" "says nothing was imported"
expect 0 "list after refused import" -- "$loa" subscribers list --page 123
lacks out.txt "2001" "refused import wrote nothing"
expect 1 "skip-invalid imports the rest" -- "$loa" subscribers import bad.csv --page 123 --skip-invalid --list crm
has out.txt "inserted 1" "valid row imported"

expect 0 "list by tag" -- "$loa" subscribers list --page 123 --tag vip --limit 10
has out.txt "1001" "vip listed"
lacks out.txt "1003" "non-vip not listed"

expect 0 "export" -- "$loa" subscribers export --page 123 -o export1.csv
has export1.csv "\"Thu, Hà\"" "export quotes commas"
has export1.csv "+84912345678" "export has E.164 phones"
export LOA_STORE="$tmp/t2.db"
expect 0 "init second store" -- "$loa" init
expect 0 "page in second store" -- "$loa" page add --id 123 --name Copy --token-file token
expect 0 "import the export" -- "$loa" subscribers import export1.csv --page 123
expect 0 "export again" -- "$loa" subscribers export --page 123 -o export2.csv
if diff -u export1.csv export2.csv >diff.txt; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: export round trip"; head -20 diff.txt
fi
export LOA_STORE="$tmp/t.db"

expect 0 "tag add" -- "$loa" tag add --page 123 --psid 1003 khach-moi
expect 0 "tag rename" -- "$loa" tag rename --page 123 khach-moi khach-moi-2026
expect 0 "tag list" -- "$loa" tag list --page 123
has out.txt "khach-moi-2026" "renamed tag listed"
expect 65 "tag delete unknown" -- "$loa" tag delete --page 123 nope
expect 65 "tag add unknown psid" -- "$loa" tag add --page 123 --psid 9 vip
expect 64 "tag name with comma" -- "$loa" tag add --page 123 --psid 1003 "a,b"

# The two-PSID mistake: a second PSID is not silently a tag.
expect 64 "tag add: second PSID refused" -- "$loa" tag add --page 123 --psid 1001 1002 khach-quen
has err.txt "'1002' looks like a PSID, not a tag" "the stray PSID is named"
has err.txt "--psid 1002" "the fix is shown"
expect 0 "tag list after refused add" -- "$loa" tag list --page 123
lacks out.txt "1002" "no tag named like a PSID"
expect 0 "tag add for two people" -- "$loa" tag add --page 123 --psid 1001 --psid 1002 "Khách Quen"
has out.txt "2 people matched, 2 newly tagged" "both tagged"
expect 0 "a tag made of digits, said so" -- "$loa" tag add --page 123 --psid 1001 --tag 2026
# Tags compare without case or Unicode form ("khách quen" typed decomposed here).
expect 0 "tag add: same tag, other case and form" -- "$loa" tag add --page 123 --psid 1003 "$(printf 'kha\xcc\x81ch quen')"
has out.txt "add 'Khách Quen': 1 people matched, 1 newly tagged" "shown as first written"
expect 0 "tag list: one tag" -- "$loa" tag list --page 123
has out.txt "Khách Quen" "first written form listed"
lacks out.txt "khách quen" "no second tag"
expect 65 "tag add: unknown PSID among several" -- "$loa" tag add --page 123 --psid 1001 --psid 9 da-nhan
has err.txt "psids[1]: no subscriber with PSID '9'" "unknown PSID named with its place"
expect 0 "tag list: refused bulk wrote nothing" -- "$loa" tag list --page 123
lacks out.txt "da-nhan" "nothing written"
# Bulk by filter: the count first, written with --yes.
expect 0 "tag add by filter counts" -- "$loa" tag add --page 123 --filter '{"tags":{"any":["VIP"]}}' mua-tet
has out.txt "2 people match, 2 would be newly tagged (nothing written: add --yes to apply)" "counted first"
expect 0 "subscribers list: not yet tagged" -- "$loa" subscribers list --page 123 --tag mua-tet
lacks out.txt "1001" "a counted filter writes nothing"
expect 0 "tag add by filter" -- "$loa" tag add --page 123 --filter '{"tags":{"any":["VIP"]}}' mua-tet --yes
has out.txt "2 people matched, 2 newly tagged" "tagged by filter"
expect 0 "subscribers list by the new tag" -- "$loa" subscribers list --page 123 --tag MUA-TET
has out.txt "1001" "1001 tagged"
has out.txt "1002" "1002 tagged"
lacks out.txt "1003" "1003 not in the filter"
expect 65 "tag add: bad filter" -- "$loa" tag add --page 123 --filter '{"tags":{"any":[]}}' x --yes
has err.txt "filter.tags.any" "filter error has its path"
expect 0 "tag remove by filter" -- "$loa" tag remove --page 123 --filter '{"tags":{"any":["mua-tet"]}}' --yes mua-tet
has out.txt "2 untagged" "untagged by filter"
# Merge: everyone gets INTO, FROM goes.
expect 0 "tag for merge" -- "$loa" tag add --page 123 --psid 1003 khach-cu
expect 65 "tag merge: unknown" -- "$loa" tag merge --page 123 nope "Khách Quen"
has err.txt "no tag 'nope'" "unknown tag named"
expect 65 "tag merge: same tag" -- "$loa" tag merge --page 123 "KHÁCH QUEN" "khách quen"
has err.txt "are the same tag" "same tag refused"
expect 0 "tag merge" -- "$loa" tag merge --page 123 khach-cu "khách quen"
has out.txt "0 people newly tagged" "1003 had both"
expect 0 "tag list after merge" -- "$loa" tag list --page 123
lacks out.txt "khach-cu" "merged tag gone"
[[ $(awk '/^Khách Quen / { print $NF }' out.txt) == 3 ]] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: three people in the tag merged into"; cat out.txt; }

# A shop's own spreadsheet: ';', a byte order mark, Vietnamese headers; the preview first.
printf '\xef\xbb\xbfSố điện thoại;Họ và tên;Giới tính;Nhãn;Tổng chi tiêu;Hạng thẻ\r\n0912 345 678;Nguyễn Thị Lan;Nữ;VIP;12.853.000;Vàng\r\n+84 977 000 111;Dương Mỹ Yến;nữ;mới;1.500.000 ₫;Bạc\r\n0912;Sai Số;Nam;;;\r\n' >shop.csv
expect 1 "import preview" -- "$loa" subscribers import shop.csv --page 123 --dry-run
has out.txt "separator ';', UTF-8 byte order mark" "separator and BOM found"
has out.txt "'Số điện thoại' → phone" "phone column mapped"
has out.txt "'Họ và tên' → full name" "full name mapped"
has out.txt "'Nhãn' → tags" "tags mapped"
has out.txt "'Tổng chi tiêu' → custom attribute 'total_spent' (a number)" "amount mapped"
has out.txt "'Hạng thẻ' → custom attribute 'Hạng thẻ' (not a known column)" "unknown column said"
has out.txt "nothing written" "preview writes nothing"
has out.txt "would insert 1, update 1" "what it would do"
has err.txt "shop.csv:4:1: Số điện thoại: '0912' is not a phone number" "invalid row: line, column, reason"
expect 0 "nothing imported by the preview" -- "$loa" subscribers list --page 123
lacks out.txt "Yến" "the preview wrote nothing"
expect 1 "import the shop's file" -- "$loa" subscribers import shop.csv --page 123 --skip-invalid
expect 0 "imported names in Vietnamese order" -- "$loa" subscribers list --page 123
has out.txt "Yến Dương Mỹ" "given name and family name split"
expect 0 "audience: amounts compare as numbers" -- "$loa" audience count --page 123 --filter '{"attr":{"name":"total_spent","op":"gt","value":"5.000.000"}}'
has out.txt "1" "one person spent more than 5,000,000"
expect 0 "export for Excel" -- "$loa" subscribers export --page 123 --excel -o excel.csv
[[ $(head -c 3 excel.csv | od -An -tx1 | tr -d ' ') == efbbbf ]] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: excel export has a BOM"; }
has excel.csv '"=""+84912345678"""' "phones as text for Excel"

printf '[page]\ndaily_cap = many\n' >bad.ini
expect 78 "bad config file" -- "$loa" --config bad.ini page list
has err.txt "bad.ini:2: page.daily_cap: 'many' is not a whole number" "config error names file, line, key"
expect 78 "bad env" -- env LOA_LOG_LEVEL=loud "$loa" page list
expect 78 "wrong key" -- env LOA_SECRET_KEY=0000000000000000000000000000000000000000000000000000000000000000 "$loa" page list
has err.txt "does not match" "wrong key explained"
expect 0 "config show" -- "$loa" config show
has out.txt "store.path" "config show lists options"

unset LOA_STORE
# Sequences from the command line (docs/sequences.md): every complaint with its path and nothing
# written, entering by PSID and by filter (counted first), the people, groups, the m.me link.
if [[ "$("$loa" --help)" == *sequence* ]]; then
    export LOA_STORE="$tmp/t.db"
    cat >seq.json <<'JSON'
{"page_id":"123","name":"Chăm sóc","window":{"from":"13:00","to":"20:00","days":"t2-t6"},
 "triggers":{"ref":"cham-soc"},
 "steps":[{"delay":{"value":2,"unit":"hours"},"blocks":[{"type":"text","text":"Chào {{first_name|bạn}}"}]},
          {"delay":{"value":1,"unit":"days"},"blocks":[{"type":"text","text":"Nhắc lại"}]}]}
JSON
    expect 65 "sequence create: bad body" -- "$loa" sequence create --file \
        '{"page_id":"123","name":"","steps":[{"delay":{"value":1,"unit":"weeks"}}]}'
    has err.txt "loa sequence create: steps[0].delay.unit:" "bad unit named with its path"
    has err.txt "steps[0].blocks: is required" "missing blocks named"
    expect 0 "sequence list empty" -- "$loa" sequence list --page 123
    lacks out.txt "Chăm sóc" "a refused sequence is not written"
    expect 0 "sequence create" -- "$loa" sequence create --file seq.json
    has out.txt "sequence 1 created" "sequence created"
    expect 65 "sequence enter: unknown PSID" -- "$loa" sequence enter 1 --psid 1001 --psid 9999
    has err.txt "--psid[1]: no subscriber" "unknown PSID named"
    expect 0 "nobody entered" -- "$loa" sequence people 1
    lacks out.txt "1001" "a refused entry enters nobody"
    expect 0 "sequence enter by filter counts" -- "$loa" sequence enter 1 --filter '{"tags":{"any":["vip"]}}'
    has out.txt "2 people match" "the filter is counted first"
    expect 0 "sequence enter by filter" -- "$loa" sequence enter 1 --filter '{"tags":{"any":["vip"]}}' --yes
    has out.txt "2 entered (0 already in it)" "entered"
    expect 0 "sequence enter again" -- "$loa" sequence enter 1 --psid 1001
    has out.txt "0 entered (1 already in it)" "once per person"
    expect 0 "sequence people" -- "$loa" sequence people 1 --state waiting
    has out.txt "1002" "people waiting listed"
    expect 0 "sequence show" -- "$loa" sequence show 1
    has out.txt "window      13:00-20:00 mon,tue,wed,thu,fri" "window shown"
    has out.txt "after 1 day" "delays shown"
    expect 0 "sequence remove" -- "$loa" sequence remove 1 --psid 1001
    has out.txt "1 removed" "removed"
    expect 0 "sequence link" -- "$loa" sequence link 1 --qr code.png
    has out.txt "https://m.me/123?ref=cham-soc" "m.me link"
    [[ "$(head -c 8 code.png | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] &&
        pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: the QR code is a PNG"; }
    expect 0 "sequence group add" -- "$loa" sequence group add --page 123 "Khách mới" --one-at-a-time
    expect 0 "sequence group list" -- "$loa" sequence group list --page 123
    has out.txt "one-at-a-time  Khách mới" "group listed"
    expect 69 "sequence show unknown" -- "$loa" sequence show 42
    unset LOA_STORE
fi

# The demo end to end, small: loa-graph and loa serve as children, a campaign through the
# pipeline, the funnel, no rule violation, and nothing left running afterwards.
# (It needs loa-graph and the dispatcher: builds without them skip it.)
if [[ -x "${loa}-graph" && "$("$loa" --help)" == *simulate* ]]; then
    expect 64 "demo bad option" -- "$loa" demo --people lots
    expect 0 "demo" -- "$loa" demo --exit --people 2000
    for line in "funnel" "delivered" "read" "clicked" "replied" "window_closed" \
        "loa-graph rule violations: 0" "campaign status: completed" "The REST API listens on http://127.0.0.1:" \
        "Authorization: Bearer loa_" "5 got step 1; step 2 due" "/api/v1/sequences/1"; do
        has out.txt "$line" "demo prints '$line'"
    done
    stage() { awk -v k="$1" '/^funnel/ { f = 1 } f && $1 == k { gsub(/,/, "", $2); print $2; exit }' out.txt; }
    audience=$(stage audience) sent=$(stage sent) skipped=$(stage skipped) delivered=$(stage delivered)
    clicked=$(stage clicked)
    [[ $audience -gt 0 && $sent -gt 0 && $skipped -gt 0 && $((sent + skipped)) == "$audience" ]] &&
        pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: demo funnel: audience $audience sent $sent skipped $skipped"; }
    [[ $delivered -gt 0 && $delivered -le $sent && $clicked -gt 0 ]] && pass=$((pass + 1)) ||
        { fail=$((fail + 1)); echo "FAIL: demo funnel: delivered $delivered clicked $clicked of $sent"; }
    leftover() { # processes of our loa or loa-graph binaries still running in $tmp
        local p exe
        for p in /proc/[0-9]*; do
            exe=$(readlink "$p/exe" 2>/dev/null) || continue
            [[ $exe == "$loa" || $exe == "${loa}-graph" ]] || continue
            [[ "$(readlink "$p/cwd" 2>/dev/null)" == "$tmp" ]] && echo "${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline")"
        done
    }
    [[ -z "$(leftover)" ]] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: demo left processes: $(leftover)"; }
    expect 0 "demo in Vietnamese" -- env LANG=vi_VN.UTF-8 "$loa" demo --exit --people 300
    has out.txt "phễu kết quả" "LANG=vi speaks Vietnamese"
    has out.txt "vi phạm chính sách (loa-graph): 0" "no violations (vi)"
fi

# The README's main command execs the binary from the release build's bin directory, the
# same directory every build puts loa in: the script must name that path.
if [[ -n "${LOA_SOURCE_DIR:-}" ]]; then
    has "$LOA_SOURCE_DIR/scripts/demo.sh" 'exec build/bin/loa demo' "demo.sh runs build/bin/loa"
    [[ "$(basename "$(dirname "$loa")")" == bin ]] && pass=$((pass + 1)) ||
        { fail=$((fail + 1)); echo "FAIL: binaries are not in a bin directory"; }
fi

finish cli
