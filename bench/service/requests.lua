-- wrk script for bench/service/run.py: cycles through prepared requests, reports JSON.
--
--   wrk ... -s requests.lua URL -- METHOD PATH BODIES_FILE [HEADER ...]
--
-- BODIES_FILE holds one request body per line ("-" for none: a bodiless request).
-- Each HEADER is "Name: value". Every request is formatted once, in init; the
-- run then cycles through them, so a pool of distinct tokens defeats any cache
-- of one answer. done() prints one line "WRK_JSON {...}" that run.py parses.

local requests = {}
local count = 0
local index = 0

local function split_header(text)
  local name, value = text:match("^([^:]+):%s*(.*)$")
  if name == nil then
    error("bad header argument: " .. text)
  end
  return name, value
end

function init(args)
  local method, path, bodies_file = args[1], args[2], args[3]
  local headers = {}
  for i = 4, #args do
    local name, value = split_header(args[i])
    headers[name] = value
  end
  if bodies_file == "-" then
    requests[1] = wrk.format(method, path, headers, nil)
  else
    local file = assert(io.open(bodies_file, "r"))
    for line in file:lines() do
      if #line > 0 then
        requests[#requests + 1] = wrk.format(method, path, headers, line)
      end
    end
    file:close()
  end
  count = #requests
  assert(count > 0, "no requests prepared")
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, requests_stats)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end
