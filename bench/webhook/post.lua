-- wrk script: POST signed Messenger webhooks, keep-alive, a distinct mid in every event.
--
-- init() builds WH_POOL requests up front (bodies + X-Hub-Signature-256), signing them with
-- HMAC-SHA256 from the libcrypto wrk itself links (LuaJIT FFI), so the timed loop only hands
-- out prebuilt strings and costs the client the same for every server. When more requests
-- are sent than were built the pool wraps around (counted as `wrapped`): harmless for the peer
-- and the ceiling, which keep nothing; for loa the pool is sized so that it never wraps (a
-- redelivered mid is a duplicate and changes nothing).
--
-- Environment (set by run.sh):
--   WH_SECRET  app secret               WH_PAGE  Page id
--   WH_EVENTS  events per request (1 or 10)
--   WH_POOL    requests to build        WH_TAG   run tag, part of every mid
--   WH_PEOPLE  distinct senders (PSIDs)
local ffi = require("ffi")
ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
]]
local ok, crypto = pcall(ffi.load, "libcrypto.so.3")
if not ok then crypto = ffi.C end

local secret = os.getenv("WH_SECRET") or "bench-app-secret"
local page = os.getenv("WH_PAGE") or "1000"
local per = tonumber(os.getenv("WH_EVENTS") or "1")
local pool_n = tonumber(os.getenv("WH_POOL") or "1000")
local tag = os.getenv("WH_TAG") or "t"
local people = tonumber(os.getenv("WH_PEOPLE") or "2000")

local md = ffi.new("unsigned char[32]")
local mdlen = ffi.new("unsigned int[1]")
local sha256 = crypto.EVP_sha256()

local function sign(body)
    crypto.HMAC(sha256, secret, #secret, body, #body, md, mdlen)
    local hex = {}
    for i = 0, 31 do hex[i + 1] = string.format("%02x", md[i]) end
    return "sha256=" .. table.concat(hex)
end

local texts = {
    "Xin chào, shop còn hàng size M không ạ?",
    "Cho mình hỏi giá ship về Đà Nẵng",
    "Mình muốn đặt 2 cái màu đen",
    "Bao giờ có hàng lại vậy shop?",
    "ok cảm ơn shop nhiều",
}

local pool = {}
local seq = 0
wrapped = 0 -- global: done() reads it with thread:get()

local function event(n, ts)
    local psid = string.format("7100%012d", (n * 7919) % people) -- tostring() would print 7.1e+15
    local text = texts[n % #texts + 1]
    return string.format(
        '{"sender":{"id":"%s"},"recipient":{"id":"%s"},"timestamp":%d,' ..
        '"message":{"mid":"m_%s_%d","text":"%s"}}', psid, page, ts, tag, n, text)
end

function init(args)
    local ts = os.time() * 1000
    local n = 0
    for i = 1, pool_n do
        local items = {}
        for k = 1, per do
            n = n + 1
            items[k] = event(n, ts + n)
        end
        local body = '{"object":"page","entry":[{"id":"' .. page .. '","time":' .. (ts + n) ..
            ',"messaging":[' .. table.concat(items, ",") .. ']}]}'
        pool[i] = wrk.format("POST", "/webhook", {
            ["Content-Type"] = "application/json",
            ["X-Hub-Signature-256"] = sign(body),
        }, body)
    end
end

function request()
    seq = seq + 1
    if seq > pool_n then
        seq = 1
        wrapped = wrapped + 1
    end
    return pool[seq]
end

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

function done(summary, latency, requests)
    local secs = summary.duration / 1e6
    local wraps = 0
    for _, t in ipairs(threads) do wraps = wraps + (t:get("wrapped") or 0) end
    local e = summary.errors
    io.write(string.format("requests    %d\n", summary.requests))
    io.write(string.format("seconds     %.3f\n", secs))
    io.write(string.format("requests/s  %.0f\n", summary.requests / secs))
    io.write(string.format("p50_ms      %.3f\n", latency:percentile(50) / 1000))
    io.write(string.format("p99_ms      %.3f\n", latency:percentile(99) / 1000))
    io.write(string.format("non_2xx     %d\n", e.status))
    io.write(string.format("sock_errors %d\n", e.connect + e.read + e.write))
    io.write(string.format("timeouts    %d\n", e.timeout)) -- answered after wrk's 2 s timeout
    io.write(string.format("wrapped     %d\n", wraps))
end
