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

function done(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s: %.3f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("non-2xx/3xx responses: %d, socket errors: %d\n",
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
