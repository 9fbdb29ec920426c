// Node's own `http` client posts bodies larger than mando's [server] max_body_bytes, one request
// at a time, and records for each whether it could read the 413 and its body. mando answers 413
// from the Content-Length alone, while this client is still writing; without a lingering close
// the client gets EPIPE or ECONNRESET instead of the answer (tests/http_hostile_e2e_test.cpp).
//
//   node early_413_client.mjs --url http://127.0.0.1:PORT --path /interactions \
//        --sizes 4194304,16777216 --times 50
//
// The last line of stdout is JSON: {"results":[{"size":N,"status":413,"body":"...",
// "error":null}, ...]}; error is the message of an error seen before the response ended.
import http from "node:http";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const url = new URL(arg("url"));
const path = arg("path", "/interactions");
const sizes = arg("sizes", "4194304").split(",").map(Number);
const times = Number(arg("times", "50"));

function post(body) {
  return new Promise((resolve) => {
    const result = { size: body.length, status: 0, body: "", error: null };
    let settled = false;
    const finish = () => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path,
      method: "POST",
      agent: false,
      headers: { "Content-Type": "application/json", "Content-Length": body.length },
    });
    req.on("response", (res) => {
      result.status = res.statusCode;
      res.setEncoding("utf8");
      res.on("data", (chunk) => (result.body += chunk));
      res.on("end", finish);
      res.on("error", (e) => {
        result.error = `response: ${e.code || e.message}`;
        finish();
      });
    });
    // An error after the whole response was read does not hide the answer; before, it does.
    req.on("error", (e) => {
      if (!settled) result.error = `request: ${e.code || e.message}`;
      finish();
    });
    req.end(body);
  });
}

const results = [];
for (const size of sizes) {
  const body = Buffer.alloc(size, "x");
  for (let i = 0; i < times; ++i) results.push(await post(body));
}
console.log(JSON.stringify({ results }));
