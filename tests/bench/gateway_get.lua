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

-- The requests are built once per thread: 20,000 of them for ids drawn at random, then
-- sent in turn. Building each request in Lua as it goes out (string.format and
-- wrk.format) cost wrk about an eighth of its CPU time, on the same two CPUs as the
-- programs measured; concord-loadgen does not pay for that either.
local n_requests = 20000
local requests = {}
local next_request = 1

init = function(args)
    -- Each wrk thread has its own Lua state; seed each differently.
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
    for i = 1, n_requests do
        local body = string.format('{"id":"%d"}', math.random(id_min, id_max))
        requests[i] = wrk.format(nil, nil, nil, body)
    end
end

request = function()
    local r = requests[next_request]
    next_request = next_request % n_requests + 1
    return r
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
