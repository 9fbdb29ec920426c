-- wrk script: POST one signed APPLICATION_COMMAND interaction (/about) over and over.
-- bench/interactions.sh prepares the body and signature and passes them in the environment;
-- Discord's signature covers timestamp + body only, so one signed request can be replayed (mando
-- has no freshness window by default, as Discord documents none).
local body = io.open(os.getenv("MANDO_BENCH_BODY_FILE")):read("*a")

wrk.method = "POST"
wrk.path = "/interactions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Signature-Ed25519"] = os.getenv("MANDO_BENCH_SIGNATURE")
wrk.headers["X-Signature-Timestamp"] = os.getenv("MANDO_BENCH_TIMESTAMP")

local report = dofile("bench/report.lua")

function done(summary, latency)
  report(summary, latency)
end
