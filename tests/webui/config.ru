# Sidekiq's Web UI as FlowCoro's dashboard (docs/webui.md).
#
#   REDIS_URL=redis://127.0.0.1:6379/0 SESSION_SECRET=$(openssl rand -hex 64) \
#     rackup -E production -s webrick -o 127.0.0.1 -p 9292 config.ru
#
# REDIS_URL: the Redis flowcorod works on (redis.url in flowcoro.yaml;
# unix:///run/redis/redis.sock works too). SESSION_SECRET: the key of the
# session cookie that holds Sidekiq's CSRF token (the Quiet, Stop, Retry and
# Delete buttons need it); keep it fixed so that sessions survive a restart.
require "rack/session/cookie"
require "securerandom"
require "sidekiq"
require "sidekiq/web"

Sidekiq.configure_client do |config|
  config.redis = {url: ENV.fetch("REDIS_URL", "redis://127.0.0.1:6379/0")}
end

secret = ENV.fetch("SESSION_SECRET") do
  warn "config.ru: no SESSION_SECRET: using a random one (sessions end when this server stops)"
  SecureRandom.hex(64)
end
use Rack::Session::Cookie, key: "flowcoro.dashboard", secret: secret, same_site: true, max_age: 86400
run Sidekiq::Web
