#!/usr/bin/env node
// BullMQ peer benchmark driver (see README.md in this directory).
//
//   node bullmq-bench.mjs --redis redis://127.0.0.1:PORT --workload noop|sleep \
//        --jobs N --concurrency C [--sleep-ms 100] [--procs P] [--workers W]
//   node bullmq-bench.mjs --redis redis://127.0.0.1:PORT --workload latency \
//        --rate R --jobs N [--concurrency C (50)]
//   node bullmq-bench.mjs --redis redis://127.0.0.1:PORT --workload memory \
//        --jobs N [--concurrency C (N)] [--hold-s S (60)]
//
// latency: one Worker (concurrency C) is started and ready first; then N jobs
// are added one Queue.add each at R jobs/s, each carrying its enqueue time
// (epoch microseconds); the handler records its start time minus that. Prints
// p50_ms, p99_ms, p999_ms and the rate really sent (sent_per_s).
//
// memory: one worker process (forked, so this driver's Queue and its adds are
// not in it) with concurrency C (default N) runs, idle, then holds N jobs that
// each wait --hold-s seconds (default 60). Its VmRSS (from /proc) is read
// idle and once the N-th job has started, each time 500 ms after the last
// change and after a forced garbage collection (node --expose-gc), so the
// figure is BullMQ's live memory, not garbage waiting to be collected. Prints
// idle_rss_kib, rss_kib and kib_per_job = (rss - idle) / N.
//
// drains (noop, sleep):
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
import { readFileSync } from 'node:fs';
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
       node bullmq-bench.mjs --redis redis://HOST:PORT --workload latency --rate R --jobs N [--concurrency C (50)]
       node bullmq-bench.mjs --redis redis://HOST:PORT --workload memory --jobs N [--concurrency C (N)] [--hold-s S (60)]
         [--sleep-ms MS (100)] [--procs P (1)] [--workers W per process (1, 4 if C >= 1000)]
         [--queue NAME] [--chunk K addBulk chunk (1000)] [--timeout-s S (600)]`;

function parseArgs(argv) {
  const o = {
    redis: null, workload: null, jobs: null, concurrency: null, sleepMs: 100,
    procs: 1, workers: null, queue: null, chunk: 1000, timeoutS: 600, child: null, rate: null, holdS: 60,
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
      case '--rate': o.rate = num(a, v, 1); i++; break;
      case '--sleep-ms': o.sleepMs = num(a, v, 0); i++; break;
      case '--hold-s': o.holdS = num(a, v, 1); i++; break;
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
  if (!['noop', 'sleep', 'latency', 'memory'].includes(o.workload)) {
    fail(`--workload must be noop, sleep, latency or memory\n${USAGE}`);
  }
  if (o.jobs === null) fail(`--jobs is required\n${USAGE}`);
  if (o.workload === 'latency') {
    if (o.rate === null) fail(`--workload latency needs --rate R\n${USAGE}`);
    if (o.procs !== 1) fail('--workload latency runs one process (--procs 1)');
    if (o.concurrency === null) o.concurrency = 50; // BullMQ's best noop setting here (README.md)
  } else if (o.rate !== null) {
    fail(`--rate is only for --workload latency\n${USAGE}`);
  }
  if (o.workload === 'memory') {
    if (o.procs !== 1) fail('--workload memory runs one worker process (--procs 1)');
    if (o.concurrency === null) o.concurrency = o.jobs;
    if (o.concurrency < o.jobs) fail('--workload memory holds all N jobs at once: --concurrency must be >= --jobs');
  }
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

// Wall-clock epoch time in microseconds (comparable across processes).
const epochUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

// latency: start time - enqueue time of each job, and the last start, microseconds.
const latencies = [];
let lastStartUs = 0;
// memory: jobs whose handler has started.
let startedCount = 0;

function processorFor(o) {
  if (o.workload === 'noop') return async () => {};
  if (o.workload === 'latency') return async (job) => {
    const t = epochUs();
    latencies.push(t - job.data.t);
    if (t > lastStartUs) lastStartUs = t;
  };
  if (o.workload === 'memory') return () => {
    startedCount++;
    return new Promise((resolve) => setTimeout(resolve, o.holdS * 1000));
  };
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
  let sent = '';
  const report = () => {
    if (`${count} ${startedCount}` !== sent) {
      sent = `${count} ${startedCount}`;
      process.send({ type: 'progress', count, last: last.toString(), started: startedCount });
    }
  };
  const workers = await makeWorkers(opts, opts.child * opts.workers,
    () => { count++; last = now(); },
    (e) => { process.send({ type: 'error', message: e.message }); });
  process.on('message', async (m) => {
    if (m.type === 'go') {
      workers.forEach((w) => w.run().catch((e) => process.send({ type: 'error', message: e.message })));
      setInterval(report, 20).unref();
    } else if (m.type === 'gc') {
      global.gc(); // memory workload: forked with --expose-gc
      process.send({ type: 'gc' });
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

// Percentile as bench-engine.c takes it: sorted[floor(n * q)].
function pct(sorted, num, den) {
  return Number((sorted[Math.floor((sorted.length * num) / den)] / 1000).toFixed(2));
}

// Adds o.jobs jobs at o.rate jobs/s with Queue.add (not awaited one by one: a
// Node client sends when due and does not wait for the previous add; at most
// MAX_OUTSTANDING unanswered), waits for the last to complete, returns the result.
async function latencyRun(o, queue, finished, finish, completedCount, error) {
  const MAX_OUTSTANDING = 1000;
  const jobOpts = { removeOnComplete: true, removeOnFail: true };
  const adds = [];
  let outstanding = 0;
  let sent = 0;
  const t0 = now();
  const firstUs = epochUs();
  while (sent < o.jobs && !error()) {
    const elapsed = Number(now() - t0) / 1e9;
    const due = Math.min(o.jobs, Math.floor(elapsed * o.rate) + 1);
    while (sent < due && outstanding < MAX_OUTSTANDING) {
      outstanding++;
      adds.push(queue.add('latency', { t: epochUs() }, jobOpts).finally(() => { outstanding--; }));
      sent++;
    }
    // Next job's due time; setTimeout sleeps at least ~1 ms, so later ones go out together.
    const wait = (sent / o.rate - Number(now() - t0) / 1e9) * 1000;
    await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
  }
  await Promise.all(adds);
  const sentSeconds = Number(now() - t0) / 1e9;
  if (error()) throw error();
  const timer = setTimeout(() => {
    finish();
  }, o.timeoutS * 1000);
  await finished;
  clearTimeout(timer);
  if (error()) throw error();
  if (completedCount() !== o.jobs || latencies.length !== o.jobs) {
    throw new Error(`timeout after ${o.timeoutS} s: ${completedCount()} of ${o.jobs} jobs completed`);
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    peer: 'bullmq', version: BULLMQ_VERSION, workload: 'latency', jobs: o.jobs, concurrency: o.concurrency,
    rate: o.rate, sent_per_s: Math.round(o.jobs / sentSeconds),
    done_per_s: Math.round(o.jobs / ((lastStartUs - firstUs) / 1e6)),
    p50_ms: pct(sorted, 1, 2), p99_ms: pct(sorted, 99, 100), p999_ms: pct(sorted, 999, 1000),
    max_ms: Number((sorted[sorted.length - 1] / 1000).toFixed(2)),
    procs: 1, workers_per_proc: o.workers, node: process.versions.node,
  };
}

// Adds count jobs (name, data) to queue with Queue.addBulk in chunks of
// o.chunk, removed from Redis once done. error() is checked after each chunk.
async function addJobs(o, queue, name, data, count, error) {
  const opts = { removeOnComplete: true, removeOnFail: true };
  for (let done = 0; done < count; done += o.chunk) {
    const n = Math.min(o.chunk, count - done);
    await queue.addBulk(Array.from({ length: n }, () => ({ name, data, opts })));
    if (error()) throw error();
  }
}

// VmRSS of process pid in KiB, from /proc.
function rssKib(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The memory workload (see the top of this file). children gets the worker
// process, for main's clean-up.
async function memoryRun(o, queue, children, error) {
  const ch = fork(fileURLToPath(import.meta.url), process.argv.slice(2).concat(['--queue', o.queue, '--child', '0']),
    { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(ch);
  let started = 0;
  let childError = null;
  let waiter = null; // { type, resolve }: the next message of that type
  const expect = (type) => new Promise((resolve) => { waiter = { type, resolve }; });
  ch.on('message', (m) => {
    if (m.type === 'progress') started = m.started;
    if (m.type === 'error') childError = childError || new Error(`worker process: ${m.message}`);
    if (waiter && (m.type === waiter.type || m.type === 'error')) { waiter.resolve(); waiter = null; }
  });
  ch.on('exit', (code, sig) => {
    if (ch.stopping) return;
    childError = childError || new Error(`worker process exited (${code ?? sig})`);
    if (waiter) { waiter.resolve(); waiter = null; }
  });
  const check = () => { const e = childError || error(); if (e) throw e; };
  // RSS once nothing has changed for 500 ms and garbage is collected.
  const settledRss = async () => {
    await pause(500);
    const gcDone = expect('gc');
    ch.send({ type: 'gc' });
    await gcDone;
    check();
    return rssKib(ch.pid);
  };

  const ready = expect('ready');
  await ready;
  check();
  ch.send({ type: 'go' });
  await pause(500); // its Workers are fetching (blocked, idle)
  const idle = await settledRss();

  await addJobs(o, queue, 'hold', {}, o.jobs, () => childError || error());
  const deadline = Date.now() + o.timeoutS * 1000;
  while (started < o.jobs) {
    check();
    if (Date.now() > deadline) throw new Error(`timeout after ${o.timeoutS} s: ${started} of ${o.jobs} jobs started`);
    await pause(10);
  }
  const busy = await settledRss();
  return {
    peer: 'bullmq', version: BULLMQ_VERSION, workload: 'memory', jobs: o.jobs, concurrency: o.concurrency,
    idle_rss_kib: idle, rss_kib: busy, kib_per_job: Number(((busy - idle) / o.jobs).toFixed(2)),
    procs: 1, workers_per_proc: o.workers, node: process.versions.node,
  };
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
    if (o.workload === 'latency') {
      let finish;
      const finished = new Promise((resolve) => { finish = resolve; });
      interrupt = finish;
      let completed = 0;
      workers = await makeWorkers(o, 0, () => { if (++completed >= o.jobs) finish(); },
        (e) => { onError(e); finish(); });
      workers.forEach((w) => w.run().catch((e) => { onError(e); finish(); }));
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the Worker is fetching (blocked, idle)
      result = await latencyRun(o, queue, finished, finish, () => completed, () => firstError);
    } else if (o.workload === 'memory') {
      result = await memoryRun(o, queue, children, () => firstError);
    } else {
      // Enqueue (not timed).
      await addJobs(o, queue, o.workload, o.workload === 'sleep' ? { ms: o.sleepMs } : {}, o.jobs, () => firstError);
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
    }
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
