-- wrk script: GET each reader's feed with that reader's token, rotating over the readers
-- file given after `--` (one "user_id token" a line). Each thread starts at its own place.
-- At the end, one line "BENCH_JSON {...}" with wrk's own latency percentiles (microseconds).

local readers = {}
local next_reader = 0
local threads = {}
statuses = {}

function setup(thread)
  thread:set("thread_number", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(args[1]) do
    local user, token = line:match("^(%S+)%s+(%S+)$")
    if user then
      readers[#readers + 1] = { "/v1/users/" .. user .. "/feed", "Bearer " .. token }
    end
  end
  next_reader = ((thread_number or 0) * 7919) % #readers
end

function request()
  next_reader = next_reader % #readers + 1
  local r = readers[next_reader]
  return wrk.format("GET", r[1], { ["Authorization"] = r[2] })
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local totals, counts = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  for status, n in pairs(totals) do
    counts[#counts + 1] = string.format('"%s": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, table.concat(counts, ", ")))
end
