-- wrk script for the soak: each thread stops after SOAK_PER_THREAD responses and says so on
-- stdout (wrk itself would still wait out -d; the runner sends SIGINT once every thread is done,
-- which makes wrk report at once). Non-2xx responses are counted here (wrk counts only >= 400)
-- and the totals are printed as one JSON line.

local threads = {}
local limit = tonumber(os.getenv("SOAK_PER_THREAD"))

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  count = 0
  non2xx = 0
end

function response(status, headers, body)
  count = count + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if count == limit then
    io.write("SOAK-THREAD-DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'SOAK {"requests":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, bad, e.connect, e.read, e.write, e.status, e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max))
end
