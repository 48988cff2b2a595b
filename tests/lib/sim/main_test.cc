// The fruix-xapi-sim executable: ready line, XenAPI on the advertised port, clean SIGTERM exit.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>

#include "lib/xenapi/codec.h"
#include "tests/support/sim_raw_http.h"

namespace fruix::sim {
namespace {

// Given the shipped sample fixture and port 0 everywhere, When the binary starts, Then it prints
// one JSON ready line with real ports and the fingerprint, serves XenAPI there, and exits 0 on
// SIGTERM.
TEST(SimMainTest, ReadyLineServeAndCleanExit) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fruix-sim-main.XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    std::string fixture = std::string(FRUIX_SOURCE_DIR) + "/config/sim-fixture.json";
    execl(FRUIX_SIM_BINARY, FRUIX_SIM_BINARY, "--fixture", fixture.c_str(), "--http-port", "0",
          "--https-port", "0", "--admin-port", "0", "--state-dir", tmpl.c_str(), "--log-level",
          "error", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    char buf[512];
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  ASSERT_NE(line.find('\n'), std::string::npos) << "no ready line: " << line;
  auto ready = nlohmann::json::parse(line.substr(0, line.find('\n')));
  EXPECT_EQ(ready["ready"], true);
  EXPECT_EQ(ready["tls_fingerprint_sha256"].get<std::string>().size(), 95u);
  EXPECT_EQ(ready["hosts"].size(), 2u);
  uint16_t port = ready["http_port"].get<uint16_t>();
  ASSERT_GT(port, 0);
  auto resp = testing::RawExchange(
      "127.0.0.1", port,
      testing::PostRequest("/", "text/xml",
                           xenapi::EncodeCall("session.login_with_password",
                                              {xenapi::Value("root"), xenapi::Value("password")})));
  ASSERT_TRUE(resp.ok());
  EXPECT_NE(resp->body.find("<value>Success</value>"), std::string::npos);

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  auto waited = std::async(std::launch::async, [pid] {
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  });
  if (waited.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    kill(pid, SIGKILL);
    FAIL() << "simulator did not exit on SIGTERM";
  }
  int status = waited.get();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace fruix::sim
