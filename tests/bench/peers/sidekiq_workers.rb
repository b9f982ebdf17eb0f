# frozen_string_literal: true

# Worker file for the Sidekiq peer benchmark: loaded by the real `sidekiq` CLI
# with `-r`. See README.md in this directory.
#
# NoopWorker#perform does nothing; SleepWorker#perform(ms) sleeps ms
# milliseconds; HoldWorker#perform(s) counts itself as started and sleeps s
# seconds (the memory workload).
#
# When FLOWCORO_BENCH_REPORT is set (sidekiq-bench.rb sets it), a server
# middleware counts the jobs this process finished and notes, with
# CLOCK_MONOTONIC (system-wide on Linux, so comparable with the parent), when
# the first job started and when the last one finished; a thread writes
# "count failed first_start last_done" to that file every 10 ms when it
# changed (write to a temporary file, then rename), followed by the number of
# HoldWorker jobs started. No Redis command is added per job. When the file
# "<report>.gc" appears, the thread runs a full garbage collection and deletes
# it (the memory workload reads RSS after that). This exists because Sidekiq 6.4 only adds its in-memory processed
# count to Redis's stat:processed in its heartbeat, every 5 seconds, which is
# far too coarse to time a run of a few seconds.

require "sidekiq"

module FlowCoroPeerBench
  LOCK = Mutex.new
  STATE = { count: 0, failed: 0, first: nil, last: nil, started: 0 }

  def self.mono
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  class CountMiddleware
    def call(_worker, _job, _queue)
      if STATE[:first].nil?
        t = FlowCoroPeerBench.mono
        LOCK.synchronize { STATE[:first] ||= t }
      end
      begin
        yield
      rescue Exception # rubocop:disable Lint/RescueException
        LOCK.synchronize { STATE[:failed] += 1 }
        raise
      end
      t = FlowCoroPeerBench.mono
      LOCK.synchronize do
        STATE[:count] += 1
        STATE[:last] = t
      end
    end
  end

  def self.start_reporter(path)
    Thread.new do
      written = nil
      loop do
        if File.exist?("#{path}.gc")
          GC.start(full_mark: true, immediate_sweep: true)
          File.delete("#{path}.gc")
        end
        line = LOCK.synchronize do
          format("%d %d %s %s %d\n", STATE[:count], STATE[:failed],
            STATE[:first] ? format("%.9f", STATE[:first]) : "-",
            STATE[:last] ? format("%.9f", STATE[:last]) : "-", STATE[:started])
        end
        if line != written
          tmp = "#{path}.tmp"
          File.write(tmp, line)
          File.rename(tmp, path)
          written = line
        end
        sleep 0.01
      end
    end
  end
end

class NoopWorker
  include Sidekiq::Worker

  def perform
  end
end

# latency workload: perform(t) gets its enqueue time t (epoch microseconds)
# and notes "start_time-t start_time". When FLOWCORO_BENCH_LATENCY_JOBS of them
# are noted, they go to the file FLOWCORO_BENCH_LATENCIES, one per line
# (written to a temporary file, then renamed), for sidekiq-bench.rb to read.
class LatencyWorker
  include Sidekiq::Worker

  LATENCIES = []
  LOCK = Mutex.new

  def perform(t)
    start = Process.clock_gettime(Process::CLOCK_REALTIME, :microsecond)
    done = LOCK.synchronize do
      LATENCIES << "#{start - t} #{start}"
      LATENCIES.dup if LATENCIES.size == ENV["FLOWCORO_BENCH_LATENCY_JOBS"].to_i
    end
    return unless done

    path = ENV.fetch("FLOWCORO_BENCH_LATENCIES")
    File.write("#{path}.tmp", done.join("\n") << "\n")
    File.rename("#{path}.tmp", path)
  end
end

class SleepWorker
  include Sidekiq::Worker

  def perform(ms)
    sleep(ms / 1000.0)
  end
end

class HoldWorker
  include Sidekiq::Worker

  def perform(seconds)
    FlowCoroPeerBench::LOCK.synchronize { FlowCoroPeerBench::STATE[:started] += 1 }
    sleep(seconds)
  end
end

# Debian 12 pairs Sidekiq 6.4.1 with redis-rb 4.8, which warns on stderr at
# every BRPOP Sidekiq's fetch makes (timeout passed positionally), i.e. once per
# job. That is a packaging artefact, not Sidekiq's cost, so it is silenced by
# default; set FLOWCORO_BENCH_REDIS_DEPRECATIONS=1 to keep the warnings.
Redis.silence_deprecations = true unless ENV["FLOWCORO_BENCH_REDIS_DEPRECATIONS"] == "1"

# The job log (a "start" and a "done" line per job at INFO) is turned off by
# default (level WARN), as Sidekiq's own load test does; set
# FLOWCORO_BENCH_LOG_LEVEL=info to keep it.
Sidekiq.logger.level = ENV.fetch("FLOWCORO_BENCH_LOG_LEVEL", "warn").to_sym

if (report = ENV["FLOWCORO_BENCH_REPORT"])
  Sidekiq.configure_server do |config|
    config.server_middleware do |chain|
      chain.add FlowCoroPeerBench::CountMiddleware
    end
    config.on(:startup) do
      FlowCoroPeerBench.start_reporter(report)
    end
  end
end
