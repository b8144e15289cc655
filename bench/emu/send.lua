-- wrk script: POST a valid text send to loa-graph's Send API, keep-alive.
-- The Page token and PSID come from the environment (set by run.sh).
local token = os.getenv("LOA_BENCH_TOKEN") or "BENCH_TOKEN"
local psid = os.getenv("LOA_BENCH_PSID") or "bench-user"
wrk.method = "POST"
wrk.path = "/v19.0/me/messages?access_token=" .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"messaging_type":"RESPONSE","recipient":{"id":"' .. psid ..
    '"},"message":{"text":"Xin chào! Đơn hàng của bạn đã được gửi đi."}}'

local errors = 0
function response(status, headers, body)
    if status ~= 200 then
        errors = errors + 1
    end
end

function done(summary, latency, requests)
    local rps = summary.requests / (summary.duration / 1e6)
    io.write(string.format("requests/s  %.0f\n", rps))
    io.write(string.format("p50_ms      %.3f\n", latency:percentile(50) / 1000))
    io.write(string.format("p99_ms      %.3f\n", latency:percentile(99) / 1000))
    io.write(string.format("non_2xx     %d\n", summary.errors.status))
    io.write(string.format("loa-graph  %.0f\n", rps))
end
