-- wrk script for the benchmark suite (tests/bench/run): POSTs Connect-JSON
-- GetAccount calls with a Bearer token for random ids in [BENCH_ID_MIN,
-- BENCH_ID_MAX], and prints one machine-readable result line at the end.
local token = os.getenv("BENCH_TOKEN") or ""
local id_min = tonumber(os.getenv("BENCH_ID_MIN") or "1")
local id_max = tonumber(os.getenv("BENCH_ID_MAX") or "1000")

wrk.method = "POST"
wrk.path = "/concord.v1.AccountService/GetAccount"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local seeded = false

request = function()
    if not seeded then
        -- Each wrk thread has its own Lua state; seed each differently.
        math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
        seeded = true
    end
    local body = string.format('{"id":"%d"}', math.random(id_min, id_max))
    return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "wrk_result requests=%d seconds=%.3f non2xx=%d socket_errors=%d p50_ms=%.3f " ..
        "p99_ms=%.3f max_ms=%.3f\n",
        summary.requests, summary.duration / 1e6, e.status,
        e.connect + e.read + e.write + e.timeout,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
