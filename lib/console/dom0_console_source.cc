#include "lib/console/dom0_console_source.h"

#include <utility>

#include "lib/ssh/shell_quote.h"

namespace fruix::console {
namespace {

// A ConsoleStream over the output of `xl console` in an SSH session. Holds the session so the
// connection lives as long as the stream.
class XlConsoleStream final : public ConsoleStream {
 public:
  XlConsoleStream(std::unique_ptr<ssh::SshSession> session,
                  std::unique_ptr<ssh::RemoteStream> stream, std::string where)
      : session_(std::move(session)), stream_(std::move(stream)), where_(std::move(where)) {}
  ~XlConsoleStream() override { Close(); }

  Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) override {
    if (closed_) return Error::Unavailable(where_ + ": closed");
    auto n = stream_->Read(buf, wait);
    if (n.ok()) return n;
    // The console ends when xl exits or the connection breaks: both are a drop to reconnect from.
    if (n.error().code() == ErrorCode::kTransport) {
      return Error::Unavailable(where_ + ": " + n.error().message());
    }
    return n.error().code() == ErrorCode::kUnavailable ? n.error().WithContext(where_) : n.error();
  }
  void Close() override {
    if (closed_) return;
    closed_ = true;
    stream_->Close();
  }

 private:
  std::unique_ptr<ssh::SshSession> session_;
  std::unique_ptr<ssh::RemoteStream> stream_;
  std::string where_;
  bool closed_ = false;
};

Error AsUnavailable(const Error& e, const std::string& context) {
  if (e.code() == ErrorCode::kCancelled) return e.WithContext(context);
  return Error::Unavailable(context + ": " + std::string(ErrorCodeName(e.code())) + ": " +
                            e.message());
}

}  // namespace

std::string_view XlConsoleTypeName(XlConsoleType type) {
  return type == XlConsoleType::kPv ? "pv" : "serial";
}

Result<XlConsoleType> ParseXlConsoleType(std::string_view text) {
  if (text == "pv") return XlConsoleType::kPv;
  if (text == "serial") return XlConsoleType::kSerial;
  return Error::InvalidArgument("xl console type '" + std::string(text) +
                                "' is not one of pv, serial");
}

Dom0ConsoleSource::Dom0ConsoleSource(ssh::SshClient& ssh, Dom0Resolver resolver, std::string what,
                                     Dom0ConsoleSourceOptions options)
    : ssh_(ssh),
      resolver_(std::move(resolver)),
      what_(std::move(what)),
      options_(std::move(options)) {}

std::string Dom0ConsoleSource::Describe() const {
  return "dom0 `xl console` of " + what_ + " over SSH";
}

std::string Dom0ConsoleSource::ConsoleCommand(std::string_view xl_path, XlConsoleType type,
                                              int64_t domid) {
  return ssh::ShellQuote(xl_path) + " console -t " + std::string(XlConsoleTypeName(type)) + " " +
         std::to_string(domid);
}

Result<std::unique_ptr<ConsoleStream>> Dom0ConsoleSource::Open(std::stop_token stop) {
  if (!resolver_) return Error::InvalidArgument("dom0 console of " + what_ + ": no resolver");
  FRUIX_ASSIGN_OR_RETURN(Dom0ConsoleTarget target, resolver_(stop));
  if (target.domid < 0) {
    return Error::FailedPrecondition(what_ + " is not running (domid " +
                                     std::to_string(target.domid) + "): no console now");
  }
  const std::string where = "dom0 " + ssh::Describe(target.dom0);
  auto session = ssh_.Connect(target.dom0, stop);
  if (!session.ok()) return AsUnavailable(session.error(), "console of " + what_ + ": " + where);

  const std::string domid = std::to_string(target.domid);
  if (options_.check_domain) {
    std::string check = ssh::ShellQuote(options_.xl_path) + " list " + domid;
    auto listed = (*session)->Run(check, options_.check_timeout, 64 * 1024);
    if (!listed.ok()) {
      return AsUnavailable(listed.error(),
                           "console of " + what_ + ": " + where + ": `" + check + "`");
    }
    if (listed->exit_status != 0) {
      std::string out = listed->error_output.empty() ? listed->output : listed->error_output;
      while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
      if (out.size() > 500) out.resize(500);
      return Error::Unavailable("console of " + what_ + ": " + where + ": `" + check +
                                "` exited with status " + std::to_string(listed->exit_status) +
                                (out.empty() ? "" : ": " + out));
    }
  }
  std::string command = ConsoleCommand(options_.xl_path, target.type, target.domid);
  auto stream = (*session)->Stream(command, /*pty=*/true);
  if (!stream.ok()) {
    return AsUnavailable(stream.error(),
                         "console of " + what_ + ": " + where + ": `" + command + "`");
  }
  return std::unique_ptr<ConsoleStream>(std::make_unique<XlConsoleStream>(
      std::move(session).value(), std::move(stream).value(), where + " `" + command + "`"));
}

}  // namespace fruix::console
