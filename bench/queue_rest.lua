-- wrk script: POST tasks to mando's Cloud Tasks v2 REST API, round-robin over queues. The tasks
-- have no name (mando generates one, so no request collides with another) and GET a no-op URL.
-- bench/queue_rest.sh and bench/queue_memory.sh set:
--   MANDO_BENCH_API         /v2/projects/{p}/locations/{l}/queues
--   MANDO_BENCH_QUEUES      queue ids, comma-separated
--   MANDO_BENCH_TASK_URL    what each task dispatches to (GET)
--   MANDO_BENCH_TOKEN       the API's bearer token
--   MANDO_BENCH_STOP_AFTER  optional: stop once this many tasks were created (use with -t1)
local api = os.getenv("MANDO_BENCH_API")
local queues = os.getenv("MANDO_BENCH_QUEUES")
local stop_after = tonumber(os.getenv("MANDO_BENCH_STOP_AFTER") or "")
local body = string.format('{"task":{"httpRequest":{"url":"%s","httpMethod":"GET"}}}',
  os.getenv("MANDO_BENCH_TASK_URL"))

-- Built once, as wrk's SCRIPTING advises: request() only picks the next one.
local requests = {}
local next_request = 0
local created = 0

function init(args)
  for queue in string.gmatch(queues, "[^,]+") do
    table.insert(requests, wrk.format("POST", api .. "/" .. queue .. "/tasks",
      {["Content-Type"] = "application/json",
       ["Authorization"] = "Bearer " .. os.getenv("MANDO_BENCH_TOKEN")}, body))
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

-- Defined only when needed: with a response() function wrk parses every response.
if stop_after then
  function response(status)
    if status == 200 then created = created + 1 end
    if created >= stop_after then wrk.thread:stop() end
  end
end

local report = dofile("bench/report.lua")

function done(summary, latency)
  report(summary, latency)
  -- wrk counts only statuses above 399 as errors; the API answers 200 or an error.
  io.write(string.format("created: %d\n", summary.requests - summary.errors.status))
end
