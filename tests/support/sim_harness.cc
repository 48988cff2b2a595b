#include "tests/support/sim_harness.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "lib/sim/schema.h"
#include "lib/xenapi/codec.h"

namespace fruix::testing {

std::string SimHarness::DefaultFixture() {
  return R"({
  "credentials": {"username": "root", "password": "password"},
  "pool": {"uuid": "aaaaaaaa-0000-4000-8000-000000000001", "name_label": "test-pool",
           "master": "aaaaaaaa-0000-4000-8000-000000000011"},
  "hosts": [
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000011", "name_label": "host-1", "address": "127.0.0.1"},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000012", "name_label": "host-2", "address": "127.0.0.2"}
  ],
  "networks": [
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000021", "name_label": "net0", "bridge": "xenbr0", "MTU": 1500}
  ],
  "srs": [
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000031", "name_label": "shared", "type": "nfs",
     "shared": true, "backing_dir": "shared"},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000032", "name_label": "local-2", "type": "ext",
     "shared": false, "hosts": ["aaaaaaaa-0000-4000-8000-000000000012"], "backing_dir": "local2"}
  ],
  "vdis": [
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000041", "name_label": "disk", "virtual_size": 8388608,
     "sr": "aaaaaaaa-0000-4000-8000-000000000031"},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000042", "name_label": "local disk", "virtual_size": 8388608,
     "sr": "aaaaaaaa-0000-4000-8000-000000000032"},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000043", "name_label": "golden", "virtual_size": 4194304,
     "sr": "aaaaaaaa-0000-4000-8000-000000000031", "read_only": true},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000044", "name_label": "spare", "virtual_size": 4194304,
     "sr": "aaaaaaaa-0000-4000-8000-000000000031"}
  ],
  "vms": [
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000051", "name_label": "pv-guest", "domain_type": "pv",
     "actions_after_crash": "destroy",
     "vbds": [{"vdi": "aaaaaaaa-0000-4000-8000-000000000041", "userdevice": "0", "bootable": true,
               "mode": "RW", "type": "Disk"}],
     "vifs": [{"network": "aaaaaaaa-0000-4000-8000-000000000021", "device": "0",
               "MAC": "aa:00:00:00:00:51"}],
     "guest": {"console_scrollback_bytes": 1024, "ssh": "127.0.0.5:2222", "console": [
       {"delay_ms": 5, "line": "FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64"},
       {"delay_ms": 5, "line": "Starting file system checks:"},
       {"delay_ms": 5, "line": "/dev/gpt/fruix-root: FILE SYSTEM CLEAN; SKIPPING CHECKS"},
       {"delay_ms": 5, "line": "DHCPACK from 127.0.0.1"},
       {"delay_ms": 5, "line": "bound to 127.0.0.5 -- renewal in 600 seconds."}]}},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000052", "name_label": "hvm-guest", "domain_type": "hvm",
     "vifs": [{"network": "aaaaaaaa-0000-4000-8000-000000000021", "device": "0"}],
     "guest": {"ip": "127.0.0.6", "ip_after_ms": 20, "pv_drivers": true, "ssh": "127.0.0.6:22"}},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000053", "name_label": "crashy", "domain_type": "hvm",
     "actions_after_crash": "destroy", "guest": {"action": "crash", "action_after_ms": 30}},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000054", "name_label": "slow", "domain_type": "pv",
     "guest": {"power_op_ms": 300}},
    {"uuid": "aaaaaaaa-0000-4000-8000-000000000055", "name_label": "template", "is_a_template": true,
     "domain_type": "hvm"}
  ]
})";
}

std::unique_ptr<SimHarness> SimHarness::Start(std::string fixture_json) {
  std::unique_ptr<SimHarness> h(new SimHarness());
  std::string tmpl = (std::filesystem::temp_directory_path() / "fruix-sim-test.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return nullptr;
  }
  h->state_dir_ = tmpl;
  sim::SimulatorOptions opts;
  opts.fixture_json = std::move(fixture_json);
  opts.state_dir = h->state_dir_;
  auto sim = sim::Simulator::Start(std::move(opts));
  if (!sim.ok()) {
    ADD_FAILURE() << "simulator did not start: " << sim.error().ToString();
    return nullptr;
  }
  h->sim_ = std::move(*sim);
  return h;
}

SimHarness::~SimHarness() {
  if (sim_) sim_->Stop();
  sim_.reset();
  if (!state_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
}

std::string SimHarness::HttpUrl(const std::string& address) const {
  return "http://" + address + ":" + std::to_string(http_port()) + "/";
}

std::string SimHarness::HttpsUrl(const std::string& address) const {
  return "https://" + address + ":" + std::to_string(https_port()) + "/";
}

Result<xenapi::Value> SimHarness::Call(std::string_view method, const xenapi::Array& params,
                                       const std::string& address) {
  std::string body = xenapi::EncodeCall(method, params);
  FRUIX_ASSIGN_OR_RETURN(RawResponse resp,
                         RawExchange(address, http_port(), PostRequest("/", "text/xml", body)));
  if (resp.status != 200) {
    return Error::Transport("HTTP " + std::to_string(resp.status) + ": " + resp.body);
  }
  return xenapi::DecodeResponse(resp.body);
}

Result<xenapi::Value> SimHarness::CallOk(std::string_view method, const xenapi::Array& params,
                                         const std::string& address) {
  FRUIX_ASSIGN_OR_RETURN(xenapi::Value v, Call(method, params, address));
  return xenapi::UnwrapEnvelope(v);
}

Result<std::string> SimHarness::Login() {
  FRUIX_ASSIGN_OR_RETURN(
      xenapi::Value v,
      CallOk("session.login_with_password", {xenapi::Value(kUsername), xenapi::Value(kPassword),
                                             xenapi::Value("2.21"), xenapi::Value("fruix-test")}));
  return v.ToString();
}

std::string SimHarness::RefOf(std::string_view cls, std::string_view uuid) {
  auto ref = db().Read([&](const sim::Database::Txn& txn) { return txn.RefOfUuid(cls, uuid); });
  EXPECT_TRUE(ref.ok()) << cls << " " << uuid;
  return ref.ok() ? *ref : std::string();
}

Result<xenapi::Struct> SimHarness::WaitFor(const std::string& session, std::string_view cls,
                                           const std::string& ref,
                                           const std::function<bool(const xenapi::Struct&)>& pred,
                                           std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string sub = sim::EventClassName(cls) + "/" + ref;
  std::string token;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Error::Timeout("waiting for " + sub);
    double left = std::chrono::duration<double>(deadline - now).count();
    FRUIX_ASSIGN_OR_RETURN(
        xenapi::Value batch,
        CallOk("event.from", {xenapi::Value(session), xenapi::Value::StringArray({sub}),
                              xenapi::Value(token), xenapi::Value(left)}));
    if (!batch.is_struct()) return Error::Protocol("event.from did not return a struct");
    const xenapi::Value* tok = batch.structure().Find("token");
    if (tok == nullptr || !tok->is_string()) return Error::Protocol("event.from without token");
    token = tok->string();
    for (const auto& ev : batch.structure().Find("events")->array()) {
      const auto& e = ev.structure();
      if (e.Find("operation")->string() == "del") return Error::NotFound(sub + " was deleted");
      const xenapi::Value* snap = e.Find("snapshot");
      if (snap != nullptr && snap->is_struct() && pred(snap->structure())) return snap->structure();
    }
  }
}

Result<xenapi::Struct> SimHarness::WaitForTask(const std::string& session, const std::string& task,
                                               std::chrono::milliseconds timeout) {
  return WaitFor(
      session, "task", task,
      [](const xenapi::Struct& r) {
        const xenapi::Value* s = r.Find("status");
        return s != nullptr && s->is_string() && s->string() != "pending";
      },
      timeout);
}

Result<std::string> SimHarness::Admin(std::string_view method, std::string_view path,
                                      std::string_view body) {
  std::string req = std::string(method) + " " + std::string(path) +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  FRUIX_ASSIGN_OR_RETURN(RawResponse resp, RawExchange("127.0.0.1", admin_port(), req));
  if (resp.status / 100 != 2) {
    return Error::Unavailable("admin " + std::to_string(resp.status) + ": " + resp.body);
  }
  return resp.body;
}

Result<std::string> SimHarness::AdminGet(std::string_view path) { return Admin("GET", path, ""); }
Result<std::string> SimHarness::AdminPost(std::string_view path, std::string_view json_body) {
  return Admin("POST", path, json_body);
}
Result<std::string> SimHarness::AdminDelete(std::string_view path) {
  return Admin("DELETE", path, "");
}

}  // namespace fruix::testing
