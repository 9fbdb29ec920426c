// Drives a running mando with the official Cloud Tasks client, @google-cloud/tasks, in REST mode:
// the same library a Node.js service would use against Google's Cloud Tasks, pointed at mando.
// tests/cloud_tasks_client_test.cpp runs it against `mando serve` and a loopback worker, then
// checks on its side what the worker received.
//
//   node tests/npm/cloud_tasks_client.mjs --mando http://127.0.0.1:PORT
//       --worker http://127.0.0.1:PORT [--project mando] [--location local] [--queue npm-client]
//   (or MANDO_URL, WORKER_URL, MANDO_PROJECT, MANDO_LOCATION, MANDO_QUEUE in the environment)
//
// The walk, in order (each step asserts what Cloud Tasks documents):
//   1. create the queue, get it, find it in the queue list; pause it, so nothing is dispatched
//      while the tasks are inspected;
//   2. create named tasks, a scheduled one (an hour ahead) and an unnamed one (the server names
//      it); the same name again is ALREADY_EXISTS (code 6);
//   3. get a task in the FULL and BASIC views; list the tasks with pageSize 2, page by page and
//      through the client's own paging;
//   4. run the scheduled task (dispatched at once, although the queue is paused); delete a task,
//      after which getting it is NOT_FOUND (code 5);
//   5. resume the queue and wait (bounded) until the worker has acknowledged every task;
//   6. a name already executed is still ALREADY_EXISTS (the deduplication window);
//   7. create another scheduled task and purge the queue: it is gone; delete the queue.
// On success it prints one JSON line of what it saw, including which tasks the worker must have
// received ("dispatched") and which never ("notDispatched"); on any failure it prints the step
// and the reason on stderr and exits 1.

import assert from 'node:assert/strict';
import {setTimeout as delay} from 'node:timers/promises';
import {parseArgs} from 'node:util';

import {CloudTasksClient} from '@google-cloud/tasks';

const {values: args} = parseArgs({
  options: {
    mando: {type: 'string', default: process.env.MANDO_URL},
    worker: {type: 'string', default: process.env.WORKER_URL},
    project: {type: 'string', default: process.env.MANDO_PROJECT ?? 'mando'},
    location: {type: 'string', default: process.env.MANDO_LOCATION ?? 'local'},
    queue: {type: 'string', default: process.env.MANDO_QUEUE ?? 'npm-client'},
    token: {type: 'string', default: process.env.MANDO_TOKEN},
  },
});
if (!args.mando || !args.worker || !args.token) {
  console.error(
      'usage: cloud_tasks_client.mjs --mando http://127.0.0.1:PORT --token TOKEN --worker URL');
  process.exit(2);
}
const mando = new URL(args.mando);

// google-gax's REST fallback takes an auth object that has getRequestHeaders() (and no
// getClient()) as the auth client itself, and sends every request through its fetch(url, init)
// (fallback.js createStub, fallbackServiceStub.js), which is where google-auth-library adds
// the OAuth access token. mando's API wants its bearer token the same way: this fetch adds it
// and hands the request to Node's own fetch, which ignores the gaxios-only fields of `init`
// (agent, responseType).
const bearer = `Bearer ${args.token}`;
const passThroughAuth = {
  getRequestHeaders: async () => new Headers({Authorization: bearer}),
  fetch: (url, init) => {
    const headers = new Headers(init.headers);
    headers.set('Authorization', bearer);
    return fetch(url, {...init, headers});
  },
};

const client = new CloudTasksClient({
  fallback: 'rest',
  protocol: mando.protocol.replace(/:$/, ''),
  apiEndpoint: mando.hostname,
  port: Number(mando.port),
  authClient: passThroughAuth,
});

const kPending = 5;  // tasks in the queue when it is listed (step 3)
const kPageSize = 2;
const kDrainTimeoutMs = 30_000;
const kDrainPollMs = 50;
// The *Async iterators fetch page after page themselves; they warn (AutopaginateTrueWarning)
// unless told that the call's own auto-pagination is off.
const kIteratorPaging = {autoPaginate: false};

const parent = client.locationPath(args.project, args.location);
const queueName = client.queuePath(args.project, args.location, args.queue);
const taskName = (id) => client.taskPath(args.project, args.location, args.queue, id);
const taskId = (name) => name.slice(name.lastIndexOf('/') + 1);

let step = 'start';
const observed = {queue: queueName};

// An HTTP task to the worker; the body and the X-Npm-Test header let the worker side check that
// both arrive unchanged.
function httpTask(id, {name = true, scheduleIn} = {}) {
  const task = {
    httpRequest: {
      url: `${args.worker}/tasks/${id}?via=npm`,
      httpMethod: 'POST',
      headers: {'Content-Type': 'application/json', 'X-Npm-Test': id},
      body: Buffer.from(JSON.stringify({task: id})),
    },
  };
  if (name) task.name = taskName(id);
  if (scheduleIn !== undefined) {
    task.scheduleTime = {seconds: Math.floor(Date.now() / 1000) + scheduleIn, nanos: 0};
  }
  return task;
}

// The call must fail with google.rpc code `code` (named `status`), as google-gax reports it.
async function expectRpcError(promise, code, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected ${status} (${code}), got ${err.code}: ${err.message}`);
    return true;
  });
}

async function listAllTaskNames() {
  const names = [];
  const request = {parent: queueName, pageSize: 100};
  for await (const task of client.listTasksAsync(request, kIteratorPaging)) names.push(task.name);
  return names;
}

async function main() {
  step = '1. create the queue';
  const [created] = await client.createQueue({
    parent,
    queue: {
      name: queueName,
      rateLimits: {maxDispatchesPerSecond: 50, maxConcurrentDispatches: 10},
      retryConfig: {maxAttempts: 5, minBackoff: {seconds: 0, nanos: 100_000_000}},
    },
  });
  assert.equal(created.name, queueName);
  assert.equal(created.state, 'RUNNING');
  assert.equal(created.rateLimits.maxDispatchesPerSecond, 50);
  assert.equal(created.rateLimits.maxConcurrentDispatches, 10);
  assert.equal(created.retryConfig.maxAttempts, 5);
  assert.equal(Number(created.retryConfig.minBackoff.seconds), 0);
  assert.equal(created.retryConfig.minBackoff.nanos, 100_000_000);

  step = '1. get the queue';
  const [got] = await client.getQueue({name: queueName});
  assert.deepEqual(got, created);

  step = '1. list the queues';
  const queues = [];
  for await (const queue of client.listQueuesAsync({parent, pageSize: 1}, kIteratorPaging)) {
    queues.push(queue.name);
  }
  assert.ok(queues.includes(queueName), `${queueName} missing from ${JSON.stringify(queues)}`);

  step = '1. pause the queue';
  const [paused] = await client.pauseQueue({name: queueName});
  assert.equal(paused.state, 'PAUSED');

  step = '2. create named tasks';
  const names = {};
  for (const id of ['named-1', 'named-2', 'named-3']) {
    const [task] = await client.createTask({parent: queueName, task: httpTask(id)});
    assert.equal(task.name, taskName(id));
    assert.equal(task.dispatchCount, 0);
    // The default view is BASIC: no headers or body in the answer.
    assert.equal(task.httpRequest.url, `${args.worker}/tasks/${id}?via=npm`);
    assert.equal(task.httpRequest.body.length, 0);
    names[id] = task.name;
  }

  step = '2. create a scheduled task';
  const [scheduled] = await client.createTask({
    parent: queueName,
    task: httpTask('scheduled-1', {scheduleIn: 3600}),
    responseView: 'FULL',
  });
  assert.equal(scheduled.name, taskName('scheduled-1'));
  assert.equal(Buffer.from(scheduled.httpRequest.body).toString(), '{"task":"scheduled-1"}');
  const ahead = Number(scheduled.scheduleTime.seconds) - Date.now() / 1000;
  assert.ok(ahead > 3500 && ahead <= 3600, `scheduleTime is ${ahead} s ahead, not an hour`);

  step = '2. create an unnamed task';
  const [unnamed] = await client.createTask({
    parent: queueName,
    task: httpTask('unnamed', {name: false}),
  });
  assert.ok(unnamed.name.startsWith(`${queueName}/tasks/`), unnamed.name);
  assert.notEqual(taskId(unnamed.name), '');
  observed.generatedName = unnamed.name;

  step = '2. a duplicate name is ALREADY_EXISTS';
  await expectRpcError(client.createTask({parent: queueName, task: httpTask('named-1')}), 6,
                       'ALREADY_EXISTS');

  step = '3. get a task in the FULL view';
  const [full] = await client.getTask({name: names['named-1'], responseView: 'FULL'});
  assert.equal(full.httpRequest.httpMethod, 'POST');
  assert.equal(Buffer.from(full.httpRequest.body).toString(), '{"task":"named-1"}');
  assert.equal(full.httpRequest.headers['X-Npm-Test'], 'named-1');
  assert.equal(full.view, 'FULL');

  step = '3. get a task in the BASIC view';
  const [basic] = await client.getTask({name: names['named-1']});
  assert.equal(basic.httpRequest.body.length, 0);
  assert.equal(basic.view, 'BASIC');

  step = '3. list tasks page by page';
  const pages = [];
  const listed = [];
  let request = {parent: queueName, pageSize: kPageSize};
  for (let i = 0; i <= kPending; ++i) {
    const [tasks, next, response] = await client.listTasks(request, {autoPaginate: false});
    assert.ok(tasks.length <= kPageSize, `a page of ${tasks.length} tasks for pageSize 2`);
    pages.push(tasks.length);
    listed.push(...tasks.map((t) => t.name));
    if (!next) {
      assert.equal(response.nextPageToken, '');
      break;
    }
    request = next;
  }
  assert.equal(listed.length, kPending, `listed ${JSON.stringify(listed)} in pages ${pages}`);
  assert.equal(new Set(listed).size, kPending, `a task listed twice: ${JSON.stringify(listed)}`);
  observed.pages = pages;

  step = '3. list tasks through the client\'s paging';
  const walked = [];
  const iterated = {parent: queueName, pageSize: kPageSize};
  for await (const task of client.listTasksAsync(iterated, kIteratorPaging)) {
    walked.push(task.name);
  }
  assert.deepEqual([...walked].sort(), [...listed].sort());

  step = '4. run the scheduled task in the paused queue';
  const [ran] = await client.runTask({name: scheduled.name});
  assert.equal(ran.name, scheduled.name);
  assert.equal(ran.dispatchCount, 1);

  step = '4. delete a task';
  await client.deleteTask({name: names['named-2']});
  await expectRpcError(client.getTask({name: names['named-2']}), 5, 'NOT_FOUND');
  await expectRpcError(client.deleteTask({name: names['named-2']}), 5, 'NOT_FOUND');

  step = '5. resume the queue';
  const [resumed] = await client.resumeQueue({name: queueName});
  assert.equal(resumed.state, 'RUNNING');

  step = '5. wait until the worker acknowledged every task';
  // A task leaves the list once its worker answered 2xx; polling is the only way a client of
  // the API can see that. Bounded, so a dispatcher that never delivers fails here.
  const deadline = Date.now() + kDrainTimeoutMs;
  let left = await listAllTaskNames();
  while (left.length > 0 && Date.now() < deadline) {
    await delay(kDrainPollMs);
    left = await listAllTaskNames();
  }
  assert.deepEqual(left, [], `still queued after ${kDrainTimeoutMs} ms`);

  step = '6. an executed task\'s name is still taken';
  await expectRpcError(client.createTask({parent: queueName, task: httpTask('named-1')}), 6,
                       'ALREADY_EXISTS');

  step = '7. purge the queue';
  const [later] = await client.createTask({
    parent: queueName,
    task: httpTask('scheduled-2', {scheduleIn: 3600}),
  });
  const [purged] = await client.purgeQueue({name: queueName});
  assert.equal(purged.name, queueName);
  assert.ok(purged.purgeTime && Number(purged.purgeTime.seconds) > 0, 'purgeTime not set');
  assert.deepEqual(await listAllTaskNames(), []);
  await expectRpcError(client.getTask({name: later.name}), 5, 'NOT_FOUND');

  step = '7. delete the queue';
  await client.deleteQueue({name: queueName});
  await expectRpcError(client.getQueue({name: queueName}), 5, 'NOT_FOUND');

  observed.dispatched = ['named-1', 'named-3', 'scheduled-1', taskId(unnamed.name)];
  observed.notDispatched = ['named-2', 'scheduled-2'];
  observed.purgeTime = purged.purgeTime;
}

try {
  await main();
  await client.close();
  console.log(JSON.stringify({ok: true, ...observed}));
} catch (err) {
  console.error(`cloud_tasks_client.mjs: FAILED at step "${step}": ${err.stack ?? err}`);
  process.exit(1);
}
