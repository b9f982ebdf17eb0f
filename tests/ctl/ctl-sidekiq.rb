# frozen_string_literal: true

# What Sidekiq 6.4.1's own API (what its Web UI shows) reads from a Redis that
# flowcoroctl wrote to: the jobs of queue "compat", the scheduled set, and the
# stats, printed as one JSON object for tests/ctl/test-ctl-redis.c to check.
#
#   ruby ctl-sidekiq.rb REDIS_SOCKET

require "json"
require "sidekiq"
require "sidekiq/api"

sock = ARGV[0] or abort("usage: ruby ctl-sidekiq.rb REDIS_SOCKET")
Sidekiq.logger.level = Logger::WARN
Redis.silence_deprecations = true
Sidekiq.configure_client { |c| c.redis = {path: sock} }

now = Time.now.to_f
compat = Sidekiq::Queue.new("compat").map do |job|
  {
    "jid" => job.jid, "klass" => job.klass, "display_class" => job.display_class, "args" => job.args,
    "retry" => job["retry"], "latency" => job.latency,
    "enqueued_at_set" => job.enqueued_at.is_a?(Time), "created_at_set" => job.created_at.to_f > 0
  }
end
scheduled = Sidekiq::ScheduledSet.new.map do |entry|
  {"jid" => entry.jid, "klass" => entry.klass, "in" => entry.at.to_f - now}
end
stats = Sidekiq::Stats.new
puts JSON.generate({
  "compat" => compat, "scheduled" => scheduled,
  "stats" => {"enqueued" => stats.enqueued, "scheduled_size" => stats.scheduled_size}
})
