#!/usr/bin/env ruby
# frozen_string_literal: true

# Sidekiq peer benchmark driver (see README.md in this directory).
#
#   ruby sidekiq-bench.rb --redis redis://127.0.0.1:PORT --workload noop|sleep \
#        --jobs N --concurrency C [--sleep-ms 100] [--procs P]
#   ruby sidekiq-bench.rb --redis redis://127.0.0.1:PORT --workload latency \
#        --rate R --jobs N [--concurrency C (10)]
#   ruby sidekiq-bench.rb --redis redis://127.0.0.1:PORT --workload memory \
#        --jobs N [--concurrency C (N)] [--hold-s S (60)]
#
# latency: one sidekiq (C threads) is started and ready first; then N
# LatencyWorker jobs are pushed, one Sidekiq::Client.push each at R jobs/s,
# each carrying its enqueue time (epoch microseconds); perform notes its start
# time minus that (sidekiq_workers.rb). Prints p50_ms, p99_ms, p999_ms and the
# rate really sent (sent_per_s).
#
# memory: one sidekiq (C threads, default N) is started and idle, then holds N
# HoldWorker jobs that each sleep --hold-s seconds (default 60). Its VmRSS
# (from /proc) is read idle and once the N-th job has started, each time
# 500 ms after the last change and after a full garbage collection in it
# (sidekiq_workers.rb), so the figure is Sidekiq's live memory. Prints
# idle_rss_kib, rss_kib and kib_per_job = (rss - idle) / N.
#
# drains (noop, sleep):
# 1. Enqueues N jobs with Sidekiq::Client.push_bulk in chunks (not timed) into
#    a queue of its own.
# 2. Starts P (default 1) real `sidekiq` CLI processes as children, each with
#    `-c C/P -q QUEUE -r sidekiq_workers.rb`.
# 3. Times from the moment the first job started until the N-th job finished,
#    both taken inside the Sidekiq processes with CLOCK_MONOTONIC (see
#    sidekiq_workers.rb), so Sidekiq's process start-up (Ruby + gems + Redis
#    connections, about a second) is NOT counted; it is reported separately as
#    "startup_s" (spawn to first job started).
# 4. Stops the children (TERM, KILL after 10 s; always, also on failure),
#    checks that Sidekiq's own stat:processed grew by N, deletes the queue,
#    prints ONE JSON line on stdout and exits 0. Any error: message on
#    stderr, exit 1.

require "json"
require "optparse"
require "tmpdir"
require "fileutils"

def die(msg)
  warn "sidekiq-bench: error: #{msg}"
  exit 1
end

def mono
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

HERE = File.expand_path(__dir__)
WORKER_FILE = File.join(HERE, "sidekiq_workers.rb")

opts = {
  redis: nil, workload: nil, jobs: nil, concurrency: nil, sleep_ms: 100,
  procs: 1, queue: nil, chunk: 1000, timeout_s: 600, hold_s: 60,
  sidekiq: ENV.fetch("SIDEKIQ_BIN", "sidekiq"), log_level: "warn", keep_log: false, rate: nil
}
parser = OptionParser.new do |o|
  o.banner = "usage: ruby sidekiq-bench.rb --redis redis://HOST:PORT --workload noop|sleep --jobs N --concurrency C [options]"
  o.on("--redis URL", String) { |v| opts[:redis] = v }
  o.on("--workload NAME", %w[noop sleep latency memory], "noop, sleep, latency or memory") { |v| opts[:workload] = v }
  o.on("--jobs N", Integer) { |v| opts[:jobs] = v }
  o.on("--concurrency C", Integer, "total threads over all processes") { |v| opts[:concurrency] = v }
  o.on("--rate R", Integer, "latency workload: jobs/s offered") { |v| opts[:rate] = v }
  o.on("--sleep-ms MS", Integer, "sleep workload: ms per job (100)") { |v| opts[:sleep_ms] = v }
  o.on("--hold-s S", Integer, "memory workload: seconds each job is held (60)") { |v| opts[:hold_s] = v }
  o.on("--procs P", Integer, "sidekiq processes (1)") { |v| opts[:procs] = v }
  o.on("--queue NAME", String, "queue name (flowcoro_peer_sidekiq_PID)") { |v| opts[:queue] = v }
  o.on("--chunk K", Integer, "push_bulk chunk size (1000)") { |v| opts[:chunk] = v }
  o.on("--timeout-s S", Integer, "give up after S seconds of processing (600)") { |v| opts[:timeout_s] = v }
  o.on("--sidekiq PATH", String, "sidekiq executable (sidekiq, or $SIDEKIQ_BIN)") { |v| opts[:sidekiq] = v }
  o.on("--log-level LEVEL", String, "sidekiq log level (warn; info logs every job)") { |v| opts[:log_level] = v }
  o.on("--keep-log", "print where the sidekiq log is kept") { opts[:keep_log] = true }
end
begin
  parser.parse!(ARGV)
rescue OptionParser::ParseError => e
  die("#{e.message}\n#{parser.banner}")
end
die("unexpected argument #{ARGV.first}\n#{parser.banner}") unless ARGV.empty?
die("--redis redis://HOST:PORT is required") unless opts[:redis]&.match?(%r{\Arediss?://})
die("--workload noop|sleep|latency|memory is required") unless opts[:workload]
die("--jobs N (>= 1) is required") unless opts[:jobs]&.positive?
latency = opts[:workload] == "latency"
if latency
  die("--workload latency needs --rate R (>= 1)") unless opts[:rate]&.positive?
  die("--workload latency runs one sidekiq (--procs 1)") unless opts[:procs] == 1
  opts[:concurrency] ||= 10 # Sidekiq's best noop setting here (README.md)
elsif opts[:rate]
  die("--rate is only for --workload latency")
end
memory = opts[:workload] == "memory"
if memory
  die("--workload memory runs one sidekiq (--procs 1)") unless opts[:procs] == 1
  die("--hold-s must be >= 1") unless opts[:hold_s].positive?
  opts[:concurrency] ||= opts[:jobs]
  die("--workload memory holds all N jobs at once: --concurrency must be >= --jobs") if opts[:concurrency] < opts[:jobs]
end
die("--concurrency C (>= 1) is required") unless opts[:concurrency]&.positive?
die("--procs must be >= 1 and <= --concurrency") unless opts[:procs] >= 1 && opts[:procs] <= opts[:concurrency]
die("--sleep-ms must be >= 0") if opts[:sleep_ms].negative?
die("--chunk must be >= 1") unless opts[:chunk] >= 1
opts[:queue] ||= "flowcoro_peer_sidekiq_#{Process.pid}"

begin
  require "sidekiq"
  require "sidekiq/api"
rescue LoadError => e
  die("cannot load sidekiq (Debian: apt-get install ruby-sidekiq): #{e.message}")
end

Sidekiq.configure_client do |config|
  config.redis = { url: opts[:redis], size: 2, network_timeout: 5 }
end
Sidekiq.logger.level = :warn
Redis.silence_deprecations = true # redis-rb 4.8 warns at each SADD of push_bulk

begin
  Sidekiq.redis(&:ping)
rescue StandardError => e
  die("cannot reach Redis at #{opts[:redis]}: #{e.class}: #{e.message}")
end

# Enqueues count jobs of klass with args into queue, push_bulk in chunks.
# retry: false so that a failing job is not retried behind our back (it
# would be counted as failed, and the run fails).
def push_jobs(opts, queue, klass, args, count)
  while count.positive?
    n = [count, opts[:chunk]].min
    Sidekiq::Client.push_bulk("class" => klass, "queue" => queue, "retry" => false,
      "args" => Array.new(n) { args })
    count -= n
  end
end

# Raises if the sidekiq child has exited (and notes its status, so it is not
# waited for again).
def check_alive(child, doing)
  _, st = Process.wait2(child[:pid], Process::WNOHANG)
  return unless st

  child[:status] = st
  raise "sidekiq pid #{child[:pid]} exited #{doing} (#{st})"
end

# Waits until the sidekiq has started (its report file exists).
def wait_for_startup(child, deadline)
  until File.exist?(child[:report])
    check_alive(child, "at start-up")
    raise "sidekiq did not start within 60 s" if mono > deadline

    sleep 0.01
  end
end

# latency: waits until the sidekiq has started and has been idle 1 s, then
# pushes the jobs at opts[:rate]; returns the rate really sent.
def push_latency_jobs(opts, queue, child, deadline)
  wait_for_startup(child, deadline)
  sleep 1
  t0 = mono
  first_us = Process.clock_gettime(Process::CLOCK_REALTIME, :microsecond)
  opts[:jobs].times do |i|
    wait = t0 + i.fdiv(opts[:rate]) - mono
    sleep(wait) if wait > 0.0002
    Sidekiq::Client.push("class" => "LatencyWorker", "queue" => queue, "retry" => false,
      "args" => [Process.clock_gettime(Process::CLOCK_REALTIME, :microsecond)])
  end
  [opts[:jobs] / (mono - t0), first_us]
end

# latency: reads the N latencies LatencyWorker wrote, returns the result.
# done_per_s: jobs / (last start - first enqueue), the rate the jobs were
# started at, which falls below the rate offered when sidekiq falls behind.
def latency_result(opts, path, sent_per_s, first_us, deadline)
  sleep 0.01 until File.exist?(path) || mono > deadline
  raise "sidekiq wrote no latencies to #{path}" unless File.exist?(path)

  pairs = File.readlines(path).map { |l| l.split.map(&:to_i) }
  lat = pairs.map(&:first).sort
  last_start = pairs.map(&:last).max
  raise "#{lat.size} latencies in #{path}, expected #{opts[:jobs]}" if lat.size != opts[:jobs]

  ms = ->(num, den) { (lat[lat.size * num / den] / 1000.0).round(2) }
  {
    "peer" => "sidekiq", "version" => Sidekiq::VERSION, "workload" => "latency", "jobs" => opts[:jobs],
    "concurrency" => opts[:concurrency], "rate" => opts[:rate], "sent_per_s" => sent_per_s.round,
    "done_per_s" => (opts[:jobs] / ((last_start - first_us) / 1e6)).round,
    "p50_ms" => ms.call(1, 2), "p99_ms" => ms.call(99, 100), "p999_ms" => ms.call(999, 1000),
    "max_ms" => (lat.last / 1000.0).round(2), "procs" => 1, "ruby" => RUBY_VERSION
  }
end

# memory: the sidekiq's VmRSS in KiB, read 500 ms after the last change and
# after a full garbage collection in it (its report thread runs GC.start when
# "<report>.gc" appears, and deletes that file when done).
def settled_rss_kib(child, deadline)
  sleep 0.5
  request = "#{child[:report]}.gc"
  File.write(request, "")
  while File.exist?(request)
    check_alive(child, "during a garbage collection")
    raise "sidekiq did not run a garbage collection when asked" if mono > deadline

    sleep 0.01
  end
  kib = File.read("/proc/#{child[:pid]}/status")[/^VmRSS:\s+(\d+) kB$/, 1]
  raise "no VmRSS in /proc/#{child[:pid]}/status" unless kib

  kib.to_i
end

# memory: RSS of the idle sidekiq, then with N HoldWorker jobs started.
def memory_result(opts, queue, child, deadline)
  wait_for_startup(child, mono + 60)
  sleep 0.5 # its threads are fetching (blocked, idle)
  idle = settled_rss_kib(child, deadline)
  push_jobs(opts, queue, "HoldWorker", [opts[:hold_s]], opts[:jobs])
  loop do
    line = File.read(child[:report])
    break if line.split[4].to_i >= opts[:jobs]

    check_alive(child, "while its jobs started")
    raise "timeout: #{line.split[4]} of #{opts[:jobs]} jobs started" if mono > deadline

    sleep 0.01
  end
  busy = settled_rss_kib(child, deadline)
  {
    "peer" => "sidekiq", "version" => Sidekiq::VERSION, "workload" => "memory", "jobs" => opts[:jobs],
    "concurrency" => opts[:concurrency], "idle_rss_kib" => idle, "rss_kib" => busy,
    "kib_per_job" => ((busy - idle).fdiv(opts[:jobs])).round(2), "procs" => 1, "ruby" => RUBY_VERSION
  }
end

queue = opts[:queue]
qkey = "queue:#{queue}"
tmpdir = Dir.mktmpdir("flowcoro-peer-sidekiq-")
log_path = File.join(tmpdir, "sidekiq.log")
latencies_path = File.join(tmpdir, "latencies")
children = []
result = nil
failure = nil

# Stops every child: TERM, then KILL after 10 s.
stop_children = lambda do
  children.each do |c|
    next if c[:status]
    begin
      Process.kill("TERM", c[:pid])
    rescue Errno::ESRCH
      nil
    end
  end
  deadline = mono + 10
  children.each do |c|
    until c[:status]
      _, st = Process.wait2(c[:pid], Process::WNOHANG)
      if st
        c[:status] = st
        break
      end
      if mono > deadline
        warn "sidekiq-bench: sidekiq pid #{c[:pid]} ignored TERM for 10 s, sending KILL"
        begin
          Process.kill("KILL", c[:pid])
        rescue Errno::ESRCH
          nil
        end
        _, c[:status] = Process.wait2(c[:pid])
        break
      end
      sleep 0.02
    end
  end
end

begin
  processed_before, failed_before = Sidekiq.redis { |r| r.mget("stat:processed", "stat:failed").map(&:to_i) }
  Sidekiq.redis { |r| r.del(qkey) }

  # Enqueue (not timed).
  klass, args = opts[:workload] == "noop" ? ["NoopWorker", []] : ["SleepWorker", [opts[:sleep_ms]]]
  push_jobs(opts, queue, klass, args, opts[:jobs]) unless latency || memory
  queued = Sidekiq.redis { |r| r.llen(qkey) }
  raise "enqueued #{opts[:jobs]} jobs but #{queued} are in #{qkey}" if queued != (latency || memory ? 0 : opts[:jobs])

  # Start the sidekiq processes.
  spawned_at = mono
  log = File.open(log_path, "a")
  opts[:procs].times do |i|
    c = opts[:concurrency] / opts[:procs] + (i < opts[:concurrency] % opts[:procs] ? 1 : 0)
    report = File.join(tmpdir, "report.#{i}")
    env = {
      "REDIS_URL" => opts[:redis], "REDIS_PROVIDER" => nil,
      "FLOWCORO_BENCH_REPORT" => report, "FLOWCORO_BENCH_LOG_LEVEL" => opts[:log_level],
      "RAILS_ENV" => nil, "RACK_ENV" => nil, "APP_ENV" => nil,
      "FLOWCORO_BENCH_LATENCY_JOBS" => opts[:jobs].to_s, "FLOWCORO_BENCH_LATENCIES" => latencies_path
    }
    cmd = [opts[:sidekiq], "-e", "production", "-c", c.to_s, "-q", queue, "-r", WORKER_FILE, "-t", "5"]
    begin
      pid = Process.spawn(env, *cmd, in: File::NULL, out: log, err: log)
    rescue SystemCallError => e
      raise "cannot start #{opts[:sidekiq]}: #{e.message}"
    end
    children << { pid: pid, report: report, status: nil, cmd: cmd.join(" ") }
  end
  log.close
  sent_per_s, first_us = push_latency_jobs(opts, queue, children.first, mono + 60) if latency
  if memory
    result = memory_result(opts, queue, children.first, mono + 60 + opts[:timeout_s])
  else

    # Wait until the N-th job is done (reports are rewritten every 10 ms).
    deadline = mono + opts[:timeout_s] + 60 # + start-up
    total = failed = 0
    next_stat_check = mono + 1
    firsts = []
    lasts = []
    loop do
      total = failed = 0
      firsts.clear
      lasts.clear
      children.each do |c|
        line = begin
          File.read(c[:report])
        rescue Errno::ENOENT
          nil
        end
        next unless line
        cnt, fl, first, last = line.split
        total += cnt.to_i
        failed += fl.to_i
        firsts << first.to_f if first != "-"
        lasts << last.to_f if last != "-"
      end
      raise "#{failed} job(s) failed in sidekiq (see its log)" if failed.positive?
      break if total >= opts[:jobs]
      children.each do |c|
        _, st = Process.wait2(c[:pid], Process::WNOHANG)
        next unless st
        c[:status] = st
        raise "sidekiq pid #{c[:pid]} exited early (#{st}) after #{total} of #{opts[:jobs]} jobs: #{c[:cmd]}"
      end
      raise "timeout: #{total} of #{opts[:jobs]} jobs done" if mono > deadline
      if mono > next_stat_check
        # Failures outside the middleware (e.g. unknown job class) only show in
        # stat:failed, which Sidekiq updates every 5 s.
        grew = Sidekiq.redis { |r| r.get("stat:failed").to_i } - failed_before
        raise "#{grew} job(s) failed in sidekiq (stat:failed; see its log)" if grew.positive?
        next_stat_check = mono + 1
      end
      sleep 0.01
    end
    raise "counted #{total} jobs, expected #{opts[:jobs]}" if total != opts[:jobs]

    if latency
      result = latency_result(opts, latencies_path, sent_per_s, first_us, mono + 10)
    else
      first = firsts.min
      last = lasts.max
      seconds = last - first
      result = {
        "peer" => "sidekiq", "version" => Sidekiq::VERSION, "workload" => opts[:workload],
        "jobs" => opts[:jobs], "concurrency" => opts[:concurrency],
        "seconds" => seconds.round(3), "jobs_per_s" => (opts[:jobs] / seconds).round,
        "procs" => opts[:procs], "startup_s" => (first - spawned_at).round(3), "ruby" => RUBY_VERSION
      }
      result["sleep_ms"] = opts[:sleep_ms] if opts[:workload] == "sleep"
    end
  end
rescue StandardError, SignalException => e
  failure = e.is_a?(SignalException) ? "interrupted (#{e.message})" : e.message
ensure
  stop_children.call
  if result && !memory
    # Sidekiq flushes its processed count into stat:processed on exit.
    delta = Sidekiq.redis { |r| r.get("stat:processed").to_i } - processed_before
    result["stat_processed_delta"] = delta
    warn "sidekiq-bench: warning: stat:processed grew by #{delta}, expected #{opts[:jobs]}" if delta != opts[:jobs]
  end
  begin
    Sidekiq.redis do |r|
      r.del(qkey)
      r.srem("queues", queue)
      # Each sidekiq's heartbeat hash "HOST:PID:NONCE" (60 s TTL) and its
      # ":workers" hash; a clean shutdown already removed it from "processes".
      children.each do |c|
        r.scan_each(match: "*:#{c[:pid]}:*", count: 1000) do |k|
          next unless k.match?(/\A[^:]+:#{c[:pid]}:\h+(:workers)?\z/)
          r.srem("processes", k.delete_suffix(":workers"))
          r.del(k)
        end
      end
    end
  rescue StandardError => e
    warn "sidekiq-bench: warning: could not delete #{qkey}: #{e.message}"
  end
  if failure && File.exist?(log_path) && File.size(log_path).positive?
    warn "sidekiq-bench: last lines of the sidekiq log:"
    File.readlines(log_path).last(20).each { |l| warn "  #{l}" }
  end
  if opts[:keep_log]
    warn "sidekiq-bench: sidekiq log kept in #{log_path}"
  else
    FileUtils.rm_rf(tmpdir)
  end
end

die(failure) if failure
puts JSON.generate(result)
