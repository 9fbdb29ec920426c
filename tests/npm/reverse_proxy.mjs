// A reverse proxy in front of mando, as the README's deployment puts one: node-http-proxy
// (http-proxy on npm) forwarding every request to --target with the X-Forwarded-* headers a real
// proxy adds (xfwd). It listens on a free loopback port and prints "listening on http://HOST:PORT";
// tests/reverse_proxy_test.cpp sends requests through it as an outside client would.
//
//   node reverse_proxy.mjs --target http://127.0.0.1:PORT

import http from 'node:http';
import {parseArgs} from 'node:util';

import httpProxy from 'http-proxy';

const {values: args} = parseArgs({options: {target: {type: 'string'}}});
if (!args.target) {
  console.error('usage: reverse_proxy.mjs --target http://127.0.0.1:PORT');
  process.exit(2);
}

const proxy = httpProxy.createProxyServer({target: args.target, xfwd: true});
proxy.on('error', (error, req, res) => {
  res.writeHead(502, {'Content-Type': 'text/plain'});
  res.end(`proxy error: ${error.message}\n`);
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.listen(0, '127.0.0.1', () => {
  const {address, port} = server.address();
  console.log(`listening on http://${address}:${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
