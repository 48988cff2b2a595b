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
    std::lock_guard lock(mu_);
    auto it = pools_.find(pool.name);
    if (it != pools_.end() && it->second.key == key && it->second.connection) {
      return it->second.connection;
    }
  }
  auto fail = [&](const Error& e) -> Error {
    Error out = e.WithContext("pool " + pool.name);
    std::lock_guard lock(mu_);
    Entry& entry = pools_[pool.name];
    entry.key = key;
    entry.connection.reset();
    entry.last_error = out.ToString();
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
  if (entry.key == key && entry.connection) return entry.connection;  // another thread won
  entry.key = key;
  entry.connection = connection;
  entry.last_error.clear();
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
