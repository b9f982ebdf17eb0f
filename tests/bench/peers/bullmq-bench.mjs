#!/usr/bin/env node
// BullMQ peer benchmark driver (see README.md in this directory).
//
//   node bullmq-bench.mjs --redis redis://127.0.0.1:PORT --workload noop|sleep \
//        --jobs N --concurrency C [--sleep-ms 100] [--procs P] [--workers W]
//
// 1. Enqueues N jobs with Queue.addBulk in chunks (not timed).
// 2. Starts P worker processes (default 1: this process), each holding W
//    Worker instances (default 1, or 4 when C >= 1000); the total concurrency
//    C is split evenly over all P*W Workers. Workers are created with autorun:false and connected first, so
//    connection set-up is not timed.
// 3. Times from Worker.run() until the N-th job's 'completed' event (emitted
//    after BullMQ's moveToCompleted script returned), using CLOCK_MONOTONIC
//    (process.hrtime), which is comparable across processes on Linux.
// 4. Prints ONE JSON line on stdout, obliterates the queue, exits 0.
//    Any error: message on stderr, queue obliterated if possible, exit 1.

import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
let bullmq;
let IORedis;
let BULLMQ_VERSION;
try {
  bullmq = await import('bullmq');
  IORedis = (await import('ioredis')).default;
  BULLMQ_VERSION = require('bullmq/package.json').version;
} catch (e) {
  fail(`cannot load bullmq/ioredis (run "npm ci" in ${dirOfThisFile()}): ${e.message}`);
}
const { Queue, Worker } = bullmq;

function dirOfThisFile() {
  return fileURLToPath(new URL('.', import.meta.url));
}

function fail(msg, code = 1) {
  process.stderr.write(`bullmq-bench: error: ${msg}\n`);
  process.exit(code);
}

const USAGE = `usage: node bullmq-bench.mjs --redis redis://HOST:PORT --workload noop|sleep --jobs N --concurrency C
         [--sleep-ms MS (100)] [--procs P (1)] [--workers W per process (1, 4 if C >= 1000)]
         [--queue NAME] [--chunk K addBulk chunk (1000)] [--timeout-s S (600)]`;

function parseArgs(argv) {
  const o = {
    redis: null, workload: null, jobs: null, concurrency: null, sleepMs: 100,
    procs: 1, workers: null, queue: null, chunk: 1000, timeoutS: 600, child: null,
  };
  const num = (name, v, min) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) fail(`${name} needs an integer >= ${min}\n${USAGE}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--redis': o.redis = v; i++; break;
      case '--workload': o.workload = v; i++; break;
      case '--jobs': o.jobs = num(a, v, 1); i++; break;
      case '--concurrency': o.concurrency = num(a, v, 1); i++; break;
      case '--sleep-ms': o.sleepMs = num(a, v, 0); i++; break;
      case '--procs': o.procs = num(a, v, 1); i++; break;
      case '--workers': o.workers = num(a, v, 1); i++; break;
      case '--queue': o.queue = v; i++; break;
      case '--chunk': o.chunk = num(a, v, 1); i++; break;
      case '--timeout-s': o.timeoutS = num(a, v, 1); i++; break;
      case '--child': o.child = num(a, v, 0); i++; break; // internal
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0);
      default: fail(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (!o.redis || !/^rediss?:\/\//.test(o.redis)) fail(`--redis redis://HOST:PORT is required\n${USAGE}`);
  if (o.workload !== 'noop' && o.workload !== 'sleep') fail(`--workload must be noop or sleep\n${USAGE}`);
  if (o.jobs === null) fail(`--jobs is required\n${USAGE}`);
  if (o.concurrency === null) fail(`--concurrency is required\n${USAGE}`);
  // Default: one Worker per process below 1000 total concurrency, else 4
  // (measured best on this 2-core machine; README.md).
  if (o.workers === null) o.workers = o.concurrency >= 1000 ? 4 : 1;
  if (o.procs * o.workers > o.concurrency) fail('--procs * --workers must not exceed --concurrency');
  if (!o.queue) o.queue = `flowcoro-peer-bullmq-${process.pid}`;
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const connection = { url: opts.redis };
const now = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, ns

function processorFor(o) {
  if (o.workload === 'noop') return async () => {};
  const ms = o.sleepMs;
  return () => new Promise((resolve) => setTimeout(resolve, ms));
}

// Concurrency of the k-th of n Workers when C is split evenly.
function share(total, n, k) {
  return Math.floor(total / n) + (k < total % n ? 1 : 0);
}

// Creates this process's Workers (not running). onDone(count, lastNs) per completion.
async function makeWorkers(o, firstIndex, onCompleted, onError) {
  const workers = [];
  const n = o.procs * o.workers;
  for (let k = 0; k < o.workers; k++) {
    const c = share(o.concurrency, n, firstIndex + k);
    const w = new Worker(o.queue, processorFor(o), {
      connection, concurrency: c, autorun: false,
      removeOnComplete: { count: 0 }, removeOnFail: { count: 0 },
    });
    w.on('completed', onCompleted);
    w.on('failed', (job, err) => onError(new Error(`job ${job && job.id} failed: ${err && err.message}`)));
    w.on('error', onError);
    workers.push(w);
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return workers;
}

// ---------------------------------------------------------------- child role
if (opts.child !== null) {
  let count = 0;
  let last = 0n;
  let sent = -1;
  const report = () => {
    if (count !== sent) { sent = count; process.send({ type: 'progress', count, last: last.toString() }); }
  };
  const workers = await makeWorkers(opts, opts.child * opts.workers,
    () => { count++; last = now(); },
    (e) => { process.send({ type: 'error', message: e.message }); });
  process.on('message', async (m) => {
    if (m.type === 'go') {
      workers.forEach((w) => w.run().catch((e) => process.send({ type: 'error', message: e.message })));
      setInterval(report, 20).unref();
    } else if (m.type === 'stop') {
      report();
      await Promise.all(workers.map((w) => w.close(true).catch(() => {})));
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(2));
  process.send({ type: 'ready' });
} else {
  await main(opts);
}

// ---------------------------------------------------------------- main role
async function main(o) {
  // Fail fast (no endless ioredis reconnects) if Redis is not reachable.
  const probe = new IORedis(o.redis, { lazyConnect: true, retryStrategy: null, maxRetriesPerRequest: 0, connectTimeout: 5000 });
  let probeErr = null;
  probe.on('error', (e) => { probeErr = probeErr || e; });
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    fail(`cannot reach Redis at ${o.redis}: ${(probeErr || e).message}`);
  } finally {
    probe.disconnect();
  }

  const queue = new Queue(o.queue, { connection });
  let firstError = null;
  const onError = (e) => { if (!firstError) firstError = e; };
  queue.on('error', onError);
  // Ctrl-C / TERM: fail the run but still stop the workers and obliterate.
  let interrupt = () => {};
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => { onError(new Error(`interrupted (${sig})`)); interrupt(); });
  }
  const children = [];
  let workers = [];
  let exitCode = 0;
  let result = null;

  try {
    await queue.waitUntilReady();
    await queue.obliterate({ force: true }); // start from an empty queue

    // Enqueue (not timed).
    const jobOpts = { removeOnComplete: true, removeOnFail: true };
    const data = o.workload === 'sleep' ? { ms: o.sleepMs } : {};
    for (let done = 0; done < o.jobs; done += o.chunk) {
      const n = Math.min(o.chunk, o.jobs - done);
      const batch = new Array(n);
      for (let i = 0; i < n; i++) batch[i] = { name: o.workload, data, opts: jobOpts };
      await queue.addBulk(batch);
      if (firstError) throw firstError;
    }
    const waiting = await queue.getWaitingCount();
    if (waiting !== o.jobs) throw new Error(`enqueued ${o.jobs} jobs but ${waiting} are waiting`);

    let count = 0;
    let last = 0n;
    let finish;
    const finished = new Promise((resolve) => { finish = resolve; });
    const check = () => { if (count >= o.jobs || firstError) finish(); };
    interrupt = finish;

    let t0;
    if (o.procs === 1) {
      workers = await makeWorkers(o, 0, () => { count++; last = now(); if (count >= o.jobs) finish(); },
        (e) => { onError(e); finish(); });
      t0 = now();
      workers.forEach((w) => w.run().catch((e) => { onError(e); finish(); }));
    } else {
      const counts = new Array(o.procs).fill(0);
      const lasts = new Array(o.procs).fill(0n);
      const self = fileURLToPath(import.meta.url);
      let ready = 0;
      let allReady;
      const readyP = new Promise((resolve) => { allReady = resolve; });
      for (let i = 0; i < o.procs; i++) {
        const args = process.argv.slice(2).concat(['--queue', o.queue, '--child', String(i)]);
        const ch = fork(self, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        ch.on('message', (m) => {
          if (m.type === 'ready') { if (++ready === o.procs) allReady(); } else if (m.type === 'progress') {
            counts[i] = m.count; lasts[i] = BigInt(m.last);
            count = counts.reduce((a, b) => a + b, 0);
            last = lasts.reduce((a, b) => (b > a ? b : a), 0n);
            check();
          } else if (m.type === 'error') { onError(new Error(`worker process ${i}: ${m.message}`)); check(); allReady(); }
        });
        ch.on('exit', (code, sig) => {
          if (!ch.stopping) { onError(new Error(`worker process ${i} exited (${code ?? sig})`)); check(); allReady(); }
        });
        children.push(ch);
      }
      await readyP;
      if (firstError) throw firstError;
      t0 = now();
      children.forEach((ch) => ch.send({ type: 'go' }));
    }

    const timer = setTimeout(() => {
      onError(new Error(`timeout after ${o.timeoutS} s: ${count} of ${o.jobs} jobs completed`));
      finish();
    }, o.timeoutS * 1000);
    await finished;
    clearTimeout(timer);
    if (firstError) throw firstError;
    if (count !== o.jobs) throw new Error(`completed ${count} jobs, expected ${o.jobs}`);

    const seconds = Number(last - t0) / 1e9;
    result = {
      peer: 'bullmq', version: BULLMQ_VERSION, workload: o.workload, jobs: o.jobs,
      concurrency: o.concurrency, seconds: Number(seconds.toFixed(3)),
      jobs_per_s: Math.round(o.jobs / seconds),
      procs: o.procs, workers_per_proc: o.workers, node: process.versions.node,
    };
    if (o.workload === 'sleep') result.sleep_ms = o.sleepMs;
  } catch (e) {
    process.stderr.write(`bullmq-bench: error: ${e.message}\n`);
    exitCode = 1;
  } finally {
    for (const ch of children) {
      ch.stopping = true;
      if (ch.connected) ch.send({ type: 'stop' });
    }
    await Promise.all(children.map((ch) => new Promise((resolve) => {
      if (ch.exitCode !== null || ch.signalCode !== null) return resolve();
      const k = setTimeout(() => ch.kill('SIGKILL'), 5000);
      ch.on('exit', () => { clearTimeout(k); resolve(); });
    })));
    await Promise.all(workers.map((w) => w.close(true).catch(() => {})));
    try {
      await queue.obliterate({ force: true });
    } catch (e) {
      process.stderr.write(`bullmq-bench: warning: could not obliterate queue ${o.queue}: ${e.message}\n`);
    }
    await queue.close().catch(() => {});
  }
  if (result) process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(exitCode);
}
