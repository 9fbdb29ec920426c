-- The summary every bench/*.lua wrk script prints: requests/s, requests, latency percentiles,
-- errors.
-- Load it with dofile("bench/report.lua") (the bench scripts run from the repository root).
return function(summary, latency)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("requests: %d\n", summary.requests))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s: %.3f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("non-2xx/3xx responses: %d, socket errors: %d\n",
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
