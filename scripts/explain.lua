-- wrk script: POST /api/v1/explain for a random one of the benchmark's called numbers.
-- The token comes from the environment variable SWITCHBOARD_BENCH_TOKEN.
local token = os.getenv("SWITCHBOARD_BENCH_TOKEN")
local rules = tonumber(os.getenv("SWITCHBOARD_BENCH_RULES") or "100000")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
math.randomseed(os.time())
request = function()
  local i = math.random(0, rules - 1)
  local body = string.format('{"from":"+15557770000","to":"+1999%07d","source_ip":"203.0.113.9"}', i)
  return wrk.format(nil, nil, nil, body)
end
