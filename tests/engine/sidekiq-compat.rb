# frozen_string_literal: true

# Sidekiq 6.4.1's own client and API against a running flowcorod.
#
#   ruby sidekiq-compat.rb REDIS_SOCKET [FLOWCOROD_PID]
#
# The flowcorod on REDIS_SOCKET must be the only worker process, freshly
# started on an empty Redis with the example plugins, `concurrency: 4`,
# queues `default` (weight 2) and `low`, and `--instance compat`
# (tests/engine/test-sidekiq-compat.c starts it so). The script enqueues
# through Sidekiq::Client, reads everything back through Sidekiq's API
# (what the Web UI shows), then quiets and stops the daemon through
# Sidekiq::Process#quiet! / #stop!. It prints one "ok" line per check and
# exits 1 on the first failed check, or 2 when Sidekiq's API itself raised
# (a record it cannot read).
#
# Timing: the heartbeat (processes, workers hash, stats) is written every
# ~5 s; the 4 Sleep jobs hold every slot for SLEEP_MS so that queued jobs
# stay visible in the queue; the whole script takes ~35 s.

$stdout.sync = true
$stderr.sync = true

require "sidekiq"
require "sidekiq/api"
require "socket"

SOCK = ARGV[0]
if SOCK.nil? || SOCK.empty?
  warn "usage: ruby #{File.basename($PROGRAM_NAME)} REDIS_SOCKET [FLOWCOROD_PID]"
  exit 64
end
DAEMON_PID = ARGV[1]&.to_i
CONCURRENCY = 4
QUEUES = %w[default low].freeze
TAG = "compat"
SLEEP_MS = 8000
N_BULK = 20

Sidekiq.logger.level = Logger::WARN
Redis.silence_deprecations = true # redis 4.8 on Sidekiq 6.4's SADD: noise
Sidekiq.configure_client { |c| c.redis = {path: SOCK} }

class CompatFailure < StandardError; end

T0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
$checks = 0

def elapsed
  Process.clock_gettime(Process::CLOCK_MONOTONIC) - T0
end

def ok(what)
  $checks += 1
  puts format("ok %2d [%5.1f s] %s", $checks, elapsed, what)
end

def check(cond, what)
  raise CompatFailure, what unless cond
end

def expect_eq(actual, expected, what)
  check(actual == expected, "#{what}: expected #{expected.inspect}, got #{actual.inspect}")
end

# Yields until the block returns a truthy value (returned), every 0.1 s;
# fails after timeout seconds, with the last value's description when the
# block gives one through `last`.
def wait_for(what, timeout)
  deadline = elapsed + timeout
  last = nil
  loop do
    v = yield(->(x) { last = x })
    return v if v
    raise CompatFailure, "timed out after #{timeout} s waiting for #{what}#{last ? " (last seen: #{last})" : ""}" if elapsed > deadline
    sleep 0.1
  end
end

def redis(&block)
  Sidekiq.redis(&block)
end

def jid?(jid)
  jid.is_a?(String) && jid.match?(/\A\h{24}\z/)
end

def the_process
  procs = Sidekiq::ProcessSet.new.to_a
  expect_eq(procs.size, 1, "Sidekiq::ProcessSet.new.size (one flowcorod)")
  procs.first
end

begin
  puts "sidekiq-compat: Sidekiq #{Sidekiq::VERSION}, redis gem #{Redis::VERSION}, Ruby #{RUBY_VERSION}, Redis at #{SOCK}"

  # ---- 1. the process set -------------------------------------------------
  procs = wait_for("flowcorod in Sidekiq::ProcessSet", 10) { Sidekiq::ProcessSet.new.to_a.then { |a| a.empty? ? nil : a } }
  expect_eq(procs.size, 1, "Sidekiq::ProcessSet.new.to_a.size")
  pr = procs.first
  identity = pr.identity
  check(identity.is_a?(String) && identity.match?(/\A[^:]+:\d+:\h+\z/),
    "Process#identity: expected \"hostname:pid:hex\" (Sidekiq::Util#identity), got #{identity.inspect}")
  expect_eq(pr["identity"], identity, "Process['identity']")
  expect_eq(pr["hostname"], ENV["DYNO"] || Socket.gethostname, "Process['hostname']")
  check(pr["pid"].is_a?(Integer), "Process['pid']: expected an Integer, got #{pr["pid"].inspect}")
  expect_eq(pr["pid"], DAEMON_PID, "Process['pid']") if DAEMON_PID
  expect_eq(identity.split(":")[-2], pr["pid"].to_s, "the pid inside Process#identity")
  ok "one process #{identity} (hostname, pid #{pr["pid"]})"

  check(pr["concurrency"].is_a?(Integer), "Process['concurrency']: expected an Integer, got #{pr["concurrency"].inspect}")
  expect_eq(pr["concurrency"], CONCURRENCY, "Process['concurrency']")
  expect_eq(Sidekiq::ProcessSet.new.total_concurrency, CONCURRENCY, "ProcessSet#total_concurrency")
  expect_eq(pr.queues, QUEUES, "Process#queues")
  expect_eq(pr.tag, TAG, "Process#tag")
  check(pr["labels"].is_a?(Array) && pr["labels"].all?(String),
    "Process['labels']: expected an Array of String (launcher.rb to_data), got #{pr["labels"].inspect}")
  ok "concurrency #{pr["concurrency"]}, queues #{pr.queues.inspect}, tag #{pr.tag.inspect}, labels #{pr.labels.inspect}"

  now = Time.now.to_f
  check(pr["started_at"].is_a?(Numeric) && pr["started_at"] <= now + 1 && pr["started_at"] > now - 120,
    "Process['started_at']: expected a recent epoch Float, got #{pr["started_at"].inspect}")
  check(pr["beat"] <= now + 1 && pr["beat"] > now - 10, "Process['beat']: expected within 10 s of now (#{now}), got #{pr["beat"].inspect}")
  expect_eq(pr["busy"], 0, "Process['busy'] while idle")
  expect_eq(pr["quiet"], "false", "Process['quiet'] (the String Process#stopping? compares)")
  check(!pr.stopping?, "Process#stopping?: expected false")
  check(pr["rss"] > 0, "Process['rss']: expected KiB > 0, got #{pr["rss"].inspect}")
  check(pr["rtt_us"] >= 0, "Process['rtt_us']: expected >= 0, got #{pr["rtt_us"].inspect}")
  expect_eq(Sidekiq::Stats.new.processes_size, 1, "Stats#processes_size")
  ok "started_at, beat, busy 0, quiet \"false\", rss #{pr["rss"]} KiB, rtt #{pr["rtt_us"]} us; Stats#processes_size 1"

  # ---- 2. Sleep jobs fill every slot ----------------------------------------
  sleep_started = Time.now.to_f
  sleep_jids = Array.new(CONCURRENCY) { Sidekiq::Client.push("class" => "Sleep", "args" => [SLEEP_MS], "queue" => "default") }
  check(sleep_jids.all? { |j| jid?(j) }, "Client.push returned #{sleep_jids.inspect}")
  queue = Sidekiq::Queue.new("default")
  wait_for("flowcorod to fetch the #{CONCURRENCY} Sleep jobs", 5) { |last| last.call("size #{queue.size}"); queue.size.zero? }
  ok "Client.push of #{CONCURRENCY} Sleep #{SLEEP_MS} ms jobs: fetched at once"

  # ---- 3. jobs wait in the queue while every slot is busy -------------------
  single = Sidekiq::Client.push("class" => "Record", "args" => ["seen"], "queue" => "default")
  check(jid?(single), "Client.push returned #{single.inspect}")
  bulk = Sidekiq::Client.push_bulk("class" => "Record", "args" => Array.new(N_BULK) { ["seen"] })
  check(bulk.is_a?(Array) && bulk.size == N_BULK && bulk.all? { |j| jid?(j) } && bulk.uniq.size == N_BULK,
    "Client.push_bulk: expected #{N_BULK} distinct jids, got #{bulk.inspect}")
  fail_retry = Sidekiq::Client.push("class" => "Fail", "args" => ["retry", "compat retry"], "queue" => "default")
  fail_dead = Sidekiq::Client.push("class" => "Fail", "args" => ["dead", "compat dead"], "queue" => "default")
  sched_at = Time.now.to_f + 1
  sched = Sidekiq::Client.push("class" => "Record", "args" => ["seen"], "queue" => "default", "at" => sched_at)
  check(jid?(sched), "Client.push with at returned #{sched.inspect}")
  queued = [single, *bulk, fail_retry, fail_dead]
  ok "Client.push, Client.push_bulk (#{N_BULK}), 2 Fail jobs and a scheduled one (at now + 1 s)"

  expect_eq(queue.size, queued.size, "Queue.new('default').size while the Sleep jobs hold every slot")
  lat = queue.latency
  check(lat.is_a?(Float) && lat >= 0 && lat < 2, "Queue#latency: expected 0 <= latency < 2 s, got #{lat.inspect}")
  expect_eq(queue.map(&:jid).sort, queued.sort, "the jids Queue#each lists")
  job = queue.find_job(single)
  check(job && job.klass == "Record" && job.args == ["seen"] && job.queue == "default",
    "Queue#find_job(#{single}): got #{job&.item.inspect}")
  stats = Sidekiq::Stats.new
  expect_eq(stats.enqueued, queued.size, "Stats#enqueued")
  expect_eq(stats.queues["default"], queued.size, "Stats#queues['default']")
  ok "Queue('default').size #{queued.size}, latency #{lat.round(3)} s, Queue#each, #find_job, Stats#enqueued"

  ss = Sidekiq::ScheduledSet.new
  expect_eq(ss.size, 1, "ScheduledSet#size right after the push")
  entry = ss.first
  check(entry && entry.jid == sched && entry.klass == "Record" && (entry.score - sched_at).abs < 0.01,
    "ScheduledSet entry: expected jid #{sched} at #{sched_at}, got #{entry&.item.inspect} at #{entry&.score.inspect}")
  expect_eq(Sidekiq::Stats.new.scheduled_size, 1, "Stats#scheduled_size")
  ok "ScheduledSet holds the scheduled job at its time"

  wait_for("ScheduledSet to empty (the job is due at now + 1 s)", 4) { |last| last.call("size #{ss.size}"); ss.size.zero? }
  moved = wait_for("the scheduled job in queue:default", 2) { queue.find_job(sched) }
  check(!moved.item.key?("at"), "the scheduled job in its queue still has \"at\": #{moved.item.inspect}")
  check(moved["enqueued_at"].is_a?(Float) && moved["enqueued_at"] >= sched_at - 0.1 && moved["enqueued_at"] <= Time.now.to_f + 0.1,
    "the scheduled job's enqueued_at: expected a Float >= its at #{sched_at}, got #{moved["enqueued_at"].inspect}")
  expect_eq(queue.size, queued.size + 1, "Queue('default').size once the scheduled job is due")
  lat = queue.latency
  check(lat >= 1.0 && lat < 5, "Queue#latency after 1 s: expected 1 <= latency < 5 s, got #{lat.inspect}")
  ok "ScheduledSet empties when the job is due: it waits in its queue (fresh enqueued_at); latency #{lat.round(3)} s"

  # ---- 4. the workers hash while the Sleep jobs run ---------------------------
  work = wait_for("the #{CONCURRENCY} Sleep jobs in Sidekiq::Workers (heartbeat every ~5 s)", 7) do |last|
    w = Sidekiq::Workers.new.to_a
    last.call("#{w.size} entries")
    w.size == CONCURRENCY ? w : nil
  end
  expect_eq(work.map { |(_, _, h)| h["payload"]["jid"] }.sort, sleep_jids.sort, "the jids in Sidekiq::Workers")
  work.each do |process_key, thread_id, h|
    expect_eq(process_key, identity, "Workers entry's process")
    check(thread_id.is_a?(String) && !thread_id.empty?, "Workers entry's thread id: #{thread_id.inspect}")
    expect_eq(h["queue"], "default", "Workers entry's queue")
    check(h["run_at"].is_a?(Integer) && h["run_at"] >= sleep_started.floor - 1 && h["run_at"] <= Time.now.to_i,
      "Workers entry's run_at: expected an epoch Integer since #{sleep_started.floor}, got #{h["run_at"].inspect}")
    expect_eq(h["payload"]["class"], "Sleep", "Workers entry's payload class")
    expect_eq(h["payload"]["args"], [SLEEP_MS], "Workers entry's payload args")
  end
  expect_eq(Sidekiq::Workers.new.size, CONCURRENCY, "Sidekiq::Workers#size")
  expect_eq(the_process["busy"], CONCURRENCY, "Process['busy'] while the Sleep jobs run")
  expect_eq(Sidekiq::Stats.new.workers_size, CONCURRENCY, "Stats#workers_size")
  ok "Sidekiq::Workers shows the #{CONCURRENCY} Sleep jobs (process, queue, run_at, payload class/jid/args); busy #{CONCURRENCY}"

  # ---- 5. everything runs, each job once ------------------------------------------
  recorded = [single, *bulk, sched]
  wait_for("every Record job in the seen hash", SLEEP_MS / 1000 + 10) do |last|
    n = redis { |c| c.hlen("seen") }
    last.call("#{n} of #{recorded.size}, queue size #{queue.size}")
    n >= recorded.size && queue.size.zero?
  end
  seen = redis { |c| c.hgetall("seen") }
  expect_eq(seen.keys.sort, recorded.sort, "the jids in the seen hash")
  twice = seen.reject { |_, v| v == "1" }
  check(twice.empty?, "jobs recorded more than once: #{twice.inspect}")
  ok "every pushed Record jid ran exactly once (#{recorded.size}, the scheduled one included); queue empty"

  # ---- 6. retry and dead sets ----------------------------------------------------
  rs = Sidekiq::RetrySet.new
  wait_for("the Fail retry job in RetrySet", 5) { rs.size == 1 }
  r = rs.first
  check(r.jid == fail_retry && r.klass == "Fail" && r.args == ["retry", "compat retry"],
    "RetrySet entry: expected jid #{fail_retry}, class Fail, got #{r.item.inspect}")
  expect_eq(r["error_class"], "Fail", "RetrySet entry's error_class")
  expect_eq(r["error_message"], "compat retry", "RetrySet entry's error_message")
  expect_eq(r["retry_count"], 0, "RetrySet entry's retry_count")
  check(r["failed_at"].is_a?(Float) && (Time.now.to_f - r["failed_at"]).between?(0, 30),
    "RetrySet entry's failed_at: expected a recent epoch Float, got #{r["failed_at"].inspect}")
  check(r.error?, "SortedEntry#error?: expected true")
  expect_eq(r.queue, "default", "RetrySet entry's queue")
  delay = r.score - r["failed_at"]
  check(delay >= 14.9 && delay < 25, "retry delay (score - failed_at): expected 15..25 s (0**4 + 15 + rand(10)), got #{delay.inspect}")
  check(rs.find_job(fail_retry), "RetrySet#find_job(#{fail_retry}) found nothing")
  expect_eq(Sidekiq::Stats.new.retry_size, 1, "Stats#retry_size")
  ok "RetrySet: the Fail job with error_class Fail, error_message, retry_count 0, failed_at, due in #{delay.round(1)} s"

  # ---- 6b. "Retry now" (SortedEntry#retry, the Web UI's button) -----------------
  # SortedEntry#retry (api.rb) pushes the job back with retry_count - 1, i.e.
  # -1 after one failure; the next failure adds 1 (job_retry.rb).
  rs.find_job(fail_retry).retry
  again = wait_for("the retried Fail job back in RetrySet", 5) do
    killed = Sidekiq::DeadSet.new.find { |x| x.jid == fail_retry || x["raw_payload"].to_s.include?(fail_retry) }
    check(killed.nil?, "after SortedEntry#retry (retry_count -1) the job went to DeadSet instead of RetrySet, as " \
      "class #{killed&.klass.inspect}, jid #{killed&.jid.inspect}, error_message #{killed&.[]("error_message").inspect}")
    e = rs.find_job(fail_retry)
    e && (e["retried_at"] || e["failed_at"] != r["failed_at"]) ? e : nil # failed again
  end
  expect_eq(again["retry_count"], 0, "retry_count after Retry now (SortedEntry#retry stores -1; the failure adds 1)")
  expect_eq(again["failed_at"], r["failed_at"], "failed_at after another failure (the first failure's)")
  check(again["retried_at"].is_a?(Float) && again["retried_at"] > r["failed_at"], "retried_at: got #{again["retried_at"].inspect}")
  expect_eq(again["error_message"], "compat retry", "error_message after another failure")
  expect_eq(rs.size, 1, "RetrySet#size after Retry now")
  ok "SortedEntry#retry re-runs the job: back in RetrySet with retry_count 0, failed_at kept, retried_at set"

  ds = Sidekiq::DeadSet.new
  wait_for("the Fail dead job in DeadSet", 5) { ds.size == 1 }
  d = ds.first
  check(d.jid == fail_dead && d.klass == "Fail", "DeadSet entry: expected jid #{fail_dead}, class Fail, got #{d.item.inspect}")
  expect_eq(d["error_class"], "Fail", "DeadSet entry's error_class")
  expect_eq(d["error_message"], "compat dead", "DeadSet entry's error_message")
  check((Time.now.to_f - d.score).between?(0, 30), "DeadSet entry's score: expected when it died, got #{d.score.inspect}")
  check(ds.find_job(fail_dead), "DeadSet#find_job(#{fail_dead}) found nothing")
  expect_eq(Sidekiq::Stats.new.dead_size, 1, "Stats#dead_size")
  ok "DeadSet: the Fail dead job with error_class Fail, error_message, died just now"

  # ---- 7. stats ------------------------------------------------------------------------
  # Sleep, Record, Fail retry (twice: Retry now), Fail dead.
  want_processed = CONCURRENCY + recorded.size + 3
  want_failed = 3
  wait_for("Stats processed #{want_processed}, failed #{want_failed} (flushed with the heartbeat)", 8) do |last|
    s = Sidekiq::Stats.new
    last.call("processed #{s.processed}, failed #{s.failed}")
    check(s.processed <= want_processed && s.failed <= want_failed,
      "Stats: processed #{s.processed} > #{want_processed} or failed #{s.failed} > #{want_failed}")
    s.processed == want_processed && s.failed == want_failed
  end
  today = Time.now.utc.strftime("%Y-%m-%d")
  history = Sidekiq::Stats::History.new(1)
  expect_eq(history.processed[today], want_processed, "Stats::History processed today")
  expect_eq(history.failed[today], want_failed, "Stats::History failed today")
  ok "Stats#processed #{want_processed}, Stats#failed #{want_failed}; Stats::History today likewise"

  wait_for("the process to be idle (busy 0, no workers)", 7) do |last|
    busy = the_process["busy"]
    n = Sidekiq::Workers.new.to_a.size
    last.call("busy #{busy}, #{n} workers")
    busy.zero? && n.zero?
  end
  ok "idle again: Process['busy'] 0, Sidekiq::Workers empty"

  # ---- 8. quiet! -------------------------------------------------------------------
  the_process.quiet!
  wait_for("Process['quiet'] == \"true\" (read at one heartbeat, shown at the next)", 12) do |last|
    q = the_process
    last.call("quiet #{q["quiet"].inspect}")
    q["quiet"] == "true" && q.stopping?
  end
  ok "Process#quiet!: quiet \"true\", Process#stopping? true"
  quiet_jid = Sidekiq::Client.push("class" => "Record", "args" => ["quiet"], "queue" => "default")
  sleep 2
  expect_eq(queue.size, 1, "Queue('default').size 2 s after a push to a quiet process")
  expect_eq(redis { |c| c.hlen("quiet") }, 0, "runs of a job pushed to a quiet process")
  s = Sidekiq::Stats.new
  check(s.processed == want_processed && s.failed == want_failed,
    "Stats of a quiet process: expected processed #{want_processed}, failed #{want_failed}, got #{s.processed}, #{s.failed}")
  ok "a quiet process fetches nothing: the new job waits in its queue"

  # ---- 9. stop! ---------------------------------------------------------------------
  the_process.stop!
  wait_for("flowcorod to leave Sidekiq::ProcessSet after Process#stop!", 15) do |last|
    n = Sidekiq::ProcessSet.new.size
    last.call("#{n} processes")
    n.zero?
  end
  expect_eq(Sidekiq::Workers.new.to_a.size, 0, "Sidekiq::Workers after stop")
  # The retry of the Fail job may come due meanwhile: a quiet process's
  # poller still moves it to its queue, as Sidekiq's does.
  left = queue.map(&:jid)
  check(left.include?(quiet_jid) && (left - [quiet_jid, fail_retry]).empty?,
    "the jids in queue:default after stop: expected #{quiet_jid} (the job a quiet process left), got #{left.inspect}")
  expect_eq(redis { |c| c.hlen("quiet") }, 0, "runs of the job pushed to a quiet process, after stop")
  ok "Process#stop!: flowcorod left the process set; the job it never fetched is still queued"

  puts format("sidekiq-compat: all %d checks passed in %.1f s", $checks, elapsed)
  exit 0
rescue CompatFailure => e
  puts format("FAILED after %d checks [%.1f s]: %s", $checks, elapsed, e.message)
  exit 1
rescue StandardError => e
  puts format("FAILED after %d checks [%.1f s]: Sidekiq's API raised %s: %s", $checks, elapsed, e.class, e.message)
  e.backtrace.first(8).each { |l| puts "    #{l}" }
  exit 2
end
