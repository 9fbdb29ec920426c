// Starts s3rver, an S3-compatible server on the local file system, for the S3 backend's tests and
// benchmark (tests/s3_backend_test.cpp, bench/s3_bench.sh).
//
//   node --openssl-legacy-provider tests/npm/s3rver_start.mjs --directory DIR [--bucket NAME]...
//        [--port 0]
//
// --openssl-legacy-provider: s3rver makes ListObjectsV2 continuation tokens with DES, which
// OpenSSL 3 (Node.js 17 and later) only offers from its legacy provider; without it every
// truncated listing answers 500 InternalError.
//
// It listens on 127.0.0.1 (port 0: one the kernel picks), creates the buckets, prints
// "listening on http://127.0.0.1:PORT" and serves until SIGTERM or SIGINT. Requests to
// BUCKET.s3.localhost:PORT are virtual-hosted (serviceEndpoint "localhost"), requests to
// 127.0.0.1:PORT/BUCKET path-style. The access key is s3rver's built-in S3RVER / S3RVER.

import {parseArgs} from 'node:util';

import S3rver from 's3rver';

const {values: args} = parseArgs({
  options: {
    directory: {type: 'string'},
    bucket: {type: 'string', multiple: true, default: []},
    port: {type: 'string', default: '0'},
  },
});
if (!args.directory) {
  console.error('usage: s3rver_start.mjs --directory DIR [--bucket NAME]... [--port N]');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(args.port),
  directory: args.directory,
  silent: true,
  serviceEndpoint: 'localhost',
  configureBuckets: args.bucket.map((name) => ({name, configs: []})),
});
const {address, port} = await server.run();
console.log(`listening on http://${address}:${port}`);

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
