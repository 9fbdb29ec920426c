// An independent S3 client for the S3 backend's tests: the official AWS SDK for JavaScript
// (@aws-sdk/client-s3) reads what mando wrote and writes what mando must read.
//
//   node tests/npm/s3_client.mjs --endpoint http://127.0.0.1:PORT --bucket NAME COMMAND...
//     read KEY...                 HeadObject and GetObject of each key
//     write KEY TEXT [NAME=VALUE]...  PutObject of TEXT (text/plain) with user metadata
//
// Path-style addressing, region us-east-1, s3rver's built-in credentials S3RVER / S3RVER
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY override them). It prints one JSON line: for read,
// {"objects": {KEY: {"text": UTF-8 body, "sha256": hex, "contentType", "contentLength", "etag", "lastModified",
// "metadata"} or {"error": name}}}; for write, {"etag": ...}. Exit status 1 on failure.

import {createHash} from 'node:crypto';
import {parseArgs} from 'node:util';

import {GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3';

const {values: args, positionals} = parseArgs({
  options: {endpoint: {type: 'string'}, bucket: {type: 'string'}},
  allowPositionals: true,
});
const [command, ...rest] = positionals;
if (!args.endpoint || !args.bucket || !['read', 'write'].includes(command)) {
  console.error('usage: s3_client.mjs --endpoint URL --bucket NAME (read KEY... | write KEY TEXT [NAME=VALUE]...)');
  process.exit(2);
}

const client = new S3Client({
  endpoint: args.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'S3RVER',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER',
  },
  // One try: the test wants to see errors, not the SDK's retries.
  maxAttempts: 1,
});
const Bucket = args.bucket;

async function read(Key) {
  try {
    const head = await client.send(new HeadObjectCommand({Bucket, Key}));
    const got = await client.send(new GetObjectCommand({Bucket, Key}));
    const body = Buffer.from(await got.Body.transformToByteArray());
    return {
      text: body.toString('utf8'),
      sha256: createHash('sha256').update(body).digest('hex'),
      contentType: got.ContentType,
      contentLength: head.ContentLength,
      etag: head.ETag,
      lastModified: head.LastModified.toISOString(),
      metadata: head.Metadata,
    };
  } catch (error) {
    return {error: error.name};
  }
}

try {
  if (command === 'read') {
    const objects = {};
    for (const key of rest) objects[key] = await read(key);
    console.log(JSON.stringify({objects}));
  } else {
    const [Key, text, ...pairs] = rest;
    const Metadata = Object.fromEntries(pairs.map((pair) => pair.split(/=(.*)/s).slice(0, 2)));
    const put = await client.send(
        new PutObjectCommand({Bucket, Key, Body: text, ContentType: 'text/plain', Metadata}));
    console.log(JSON.stringify({etag: put.ETag}));
  }
} catch (error) {
  console.error(`s3_client.mjs ${command}: ${error.name}: ${error.message}`);
  process.exit(1);
}
