-- wrk script for bench/integrations/run.py: GET PATH with one bearer token per request.
--
--   wrk ... -s requests.lua URL -- PATH TOKENS_FILE
--
-- TOKENS_FILE holds one token per line; every request is formatted once, in
-- init, and the run cycles through them. done() prints "WRK_JSON {...}".

local requests = {}
local count = 0
local index = 0

function init(args)
  local path, tokens_file = args[1], args[2]
  local file = assert(io.open(tokens_file, "r"))
  for line in file:lines() do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. line }, nil)
    end
  end
  file:close()
  count = #requests
  assert(count > 0, "no tokens")
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, requests_stats)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end
