#include "daemon/pool_registry.h"

#include <spdlog/spdlog.h>

#include "lib/http/curl_http_client.h"

namespace fruix::daemon {

namespace {

std::string KeyOf(const PoolConfig& p) {
  return p.url + "\n" + p.user + "\n" + p.password_file + "\n" + p.password_env + "\n" +
         p.tls.ca_file + "\n" + p.tls.pin_sha256 + "\n" + (p.tls.insecure ? "i" : "") +
         (p.tls.verify ? "v" : "") + "\n" + std::to_string(p.call_timeout.count());
}

}  // namespace

PoolConnection::~PoolConnection() {
  if (session) {
    (void)session->Logout();
    session.reset();
  }
}

PoolRegistry::PoolRegistry(PasswordFn password) : password_(std::move(password)) {}
PoolRegistry::~PoolRegistry() = default;

Result<std::shared_ptr<PoolConnection>> PoolRegistry::Get(const PoolConfig& pool) {
  const std::string key = KeyOf(pool);
  {
    // One login per pool at a time: callers arriving while it runs wait for its outcome (64 jobs
    // started at once make one session, not 64).
    // A login that fails while we wait is our answer too (a pool that is down costs one
    // timeout, not one per waiting job).
    std::unique_lock lock(mu_);
    const uint64_t seen = pools_[pool.name].attempts;
    bool waited = false;
    while (connecting_.count(pool.name)) {
      waited = true;
      connected_.wait(lock);
    }
    const Entry& entry = pools_[pool.name];
    if (entry.key == key && entry.connection) return entry.connection;
    if (waited && entry.key == key && entry.attempts != seen && entry.failure) {
      return *entry.failure;
    }
    connecting_.insert(pool.name);
  }
  struct Done {
    PoolRegistry& r;
    const std::string& name;
    ~Done() {
      std::lock_guard lock(r.mu_);
      r.connecting_.erase(name);
      r.connected_.notify_all();
    }
  } done{*this, pool.name};
  auto fail = [&](const Error& e) -> Error {
    Error out = e.WithContext("pool " + pool.name);
    std::lock_guard lock(mu_);
    Entry& entry = pools_[pool.name];
    entry.key = key;
    entry.connection.reset();
    entry.last_error = out.ToString();
    entry.failure = out;
    ++entry.attempts;
    return out;
  };
  auto password = password_(pool);
  if (!password.ok()) return fail(password.error());
  http::CurlHttpClientOptions http_options;
  http_options.tls = pool.tls;
  http_options.timeout = pool.call_timeout;
  auto http = http::CurlHttpClient::Create(http_options);
  if (!http.ok()) return fail(http.error());
  auto connection = std::make_shared<PoolConnection>();
  connection->config = pool;
  connection->http = std::move(http).value();
  xenapi::SessionOptions options;
  options.url = pool.url;
  options.username = pool.user;
  options.password = std::move(password).value();
  options.call_timeout = pool.call_timeout;
  connection->session = std::make_unique<xenapi::Session>(*connection->http, std::move(options));
  if (auto login = connection->session->Login(); !login.ok()) return fail(login.error());
  spdlog::info("pool {}: logged in to {} as {}", pool.name, pool.url, pool.user);

  std::lock_guard lock(mu_);
  Entry& entry = pools_[pool.name];
  entry.key = key;
  entry.connection = connection;
  entry.last_error.clear();
  entry.failure.reset();
  ++entry.attempts;
  return connection;
}

std::vector<proto::PoolHealth> PoolRegistry::Health(const Config& config) const {
  std::vector<proto::PoolHealth> out;
  std::lock_guard lock(mu_);
  for (const auto& [name, pool] : config.pools) {
    proto::PoolHealth h;
    h.name = name;
    auto it = pools_.find(name);
    if (it == pools_.end()) {
      h.state = "idle";
    } else if (!it->second.last_error.empty()) {
      h.state = "error";
      h.error = it->second.last_error;
    } else {
      h.state = it->second.connection ? "connected" : "idle";
    }
    out.push_back(std::move(h));
  }
  return out;
}

void PoolRegistry::Clear() {
  std::map<std::string, Entry, std::less<>> old;
  {
    std::lock_guard lock(mu_);
    old.swap(pools_);
  }
  // `old` goes here, outside the lock: connections without running jobs log out now.
}

}  // namespace fruix::daemon
