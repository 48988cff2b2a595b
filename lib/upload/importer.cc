#include "lib/upload/importer.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

#include "lib/core/clock.h"
#include "lib/http/plain_http_put.h"
#include "lib/http/url.h"
#include "lib/image/image_source.h"
#include "lib/vhd/stream_plan.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/records.h"
#include "lib/xenapi/tasks.h"

namespace fruix::upload {
namespace {

using std::chrono::milliseconds;
using xenapi::Api;

// What the previous import recorded on the VDI, if anything usable.
struct Recorded {
  std::optional<image::AllocationMap> map;
  std::optional<std::string> digest;
};

Recorded ReadRecorded(const xenapi::VdiRecord& vdi) {
  Recorded r;
  if (auto it = vdi.other_config.find(std::string(kAllocMapKey)); it != vdi.other_config.end()) {
    auto map = image::AllocationMap::Parse(it->second);
    if (map.ok()) r.map = std::move(map).value();  // a corrupt value counts as no record
  }
  if (auto it = vdi.other_config.find(std::string(kDigestKey)); it != vdi.other_config.end()) {
    r.digest = it->second;
  }
  return r;
}

// Preflight on the VDI's own state: read-only, attached to a running VM.
Result<void> CheckVdiUsable(const Api& api, std::string_view uuid, const xenapi::VdiRecord& vdi) {
  if (vdi.read_only) {
    return Error::FailedPrecondition("VDI " + std::string(uuid) + " is read-only");
  }
  for (const OpaqueRef& vbd_ref : vdi.vbds) {
    FRUIX_ASSIGN_OR_RETURN(xenapi::VbdRecord vbd, api.GetRecord<xenapi::VbdRecord>(vbd_ref));
    if (!vbd.currently_attached) continue;
    FRUIX_ASSIGN_OR_RETURN(xenapi::VmRecord vm, api.GetRecord<xenapi::VmRecord>(vbd.vm));
    if (vm.power_state == xenapi::VmPowerState::kRunning) {
      return Error::FailedPrecondition("VDI " + std::string(uuid) + " is attached to running VM " +
                                       vm.uuid.str() + " (" + vm.name_label + ")");
    }
  }
  return Ok();
}

// The address of a host with an attached PBD of `sr`, preferring none in particular (the first);
// nullopt when no PBD is attached (the caller then sends to the session's host).
Result<std::optional<std::string>> SrHostAddress(const Api& api, const OpaqueRef& sr_ref) {
  FRUIX_ASSIGN_OR_RETURN(xenapi::SrRecord sr, api.GetRecord<xenapi::SrRecord>(sr_ref));
  for (const OpaqueRef& pbd_ref : sr.pbds) {
    FRUIX_ASSIGN_OR_RETURN(xenapi::PbdRecord pbd, api.GetRecord<xenapi::PbdRecord>(pbd_ref));
    if (!pbd.currently_attached) continue;
    FRUIX_ASSIGN_OR_RETURN(xenapi::HostRecord host, api.GetRecord<xenapi::HostRecord>(pbd.host));
    if (!host.address.empty()) return std::optional<std::string>(host.address);
  }
  return std::optional<std::string>();
}

// Sets other_config[key] = value on the VDI, replacing any value.
Result<void> SetOtherConfig(const Api& api, const OpaqueRef& vdi, std::string_view key,
                            std::string_view value) {
  FRUIX_RETURN_IF_ERROR(api.RemoveFromOtherConfig<xenapi::VdiRecord>(vdi, key));
  return api.AddToOtherConfig<xenapi::VdiRecord>(vdi, key, value);
}

// The disk the stream covers (StreamOptions::disk_size; 0 = the image's own size). `previous`
// reaches over the previous import's last written block when that lies past the image's end,
// `full` over the whole VDI (never past its end: xapi fails a write beyond the device).
uint64_t StreamDiskSize(image::ZeroFill mode, const std::optional<image::AllocationMap>& previous,
                        uint64_t image_size, uint64_t vdi_size) {
  const uint64_t vdi_disk = vdi_size / 512 * 512;
  uint64_t disk = 0;
  if (mode == image::ZeroFill::kFull) {
    disk = vdi_disk;
  } else if (mode == image::ZeroFill::kPrevious && previous && !previous->Empty()) {
    const uint64_t last = previous->Ranges().back().second;  // inclusive
    disk = std::min<uint64_t>(vdi_disk, (last + 1) * image::kBlockSize);
  }
  return disk > image_size ? disk : 0;
}

// Failures of xapi's that say "busy, try again" whatever happened on the wire: too many threads
// queued on a lock (Helpers.retry), or the VDI still attached elsewhere (SM's VDIInUse).
bool IsBusyXapi(const Error& e) {
  return e.IsXapi("TOO_MANY_PENDING_TASKS") || e.IsXapi("VDI_IN_USE");
}

// Transport failures that mean the body stream broke on our side: the peer refused, reset or
// closed the connection, a write or read failed, the socket stalled.
bool IsStreamBreak(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kTransport ||
         e.code() == ErrorCode::kTimeout;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Waits until the status line of the response has arrived on `fd` and returns its status code,
// consuming nothing (PlainHttpPut reads the response later). xapi answers an import before it
// reads the body: 200 when it will read it, a redirect or an error when it will not. kTimeout
// after `timeout`, kUnavailable when the peer closes or resets first, kCancelled on `cancel`.
Result<int> PeekStatus(int fd, milliseconds timeout, const std::stop_token& cancel) {
  const Deadline deadline(RealClock(), timeout);
  for (;;) {
    if (cancel.stop_requested()) return Error::Cancelled("import cancelled");
    if (deadline.expired()) return Error::Timeout("no response head from xapi");
    const auto wait = std::min<milliseconds>(
        milliseconds(100), std::chrono::duration_cast<milliseconds>(deadline.remaining()));
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(wait.count()) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::Unavailable(std::string("poll failed: ") + std::strerror(errno));
    if (n == 0) continue;
    char line[12];  // "HTTP/1.1 200"; the head arrives in one piece, so this wait is short
    const ssize_t got = ::recv(fd, line, sizeof(line), MSG_PEEK | MSG_WAITALL);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      return Error::Unavailable(std::string("receive failed: ") + std::strerror(errno));
    }
    if (got < static_cast<ssize_t>(sizeof(line))) {
      return Error::Unavailable("connection closed before a response head");
    }
    const std::string_view status_line(line, sizeof(line));
    if (!status_line.starts_with("HTTP/") || status_line[8] != ' ') {
      return Error::Protocol("malformed status line");
    }
    return std::atoi(std::string(status_line.substr(9, 3)).c_str());
  }
}

// The outcome of one PUT attempt.
struct Attempt {
  Result<void> status = Ok();
  bool transient = false;
  uint64_t bytes_sent = 0;
};

// The PUT attempts of one Import(), after preflight and planning: sending, following a redirect,
// reading the task's verdict, retrying. Lives on the importing thread for one Import().
class Uploader {
 public:
  Uploader(xenapi::Session& session, http::HttpClient& http, const ImportOptions& options,
           const image::ImageStream& stream, std::string vdi_uuid, std::string image_path,
           const Deadline& deadline)
      : session_(session),
        api_(session),
        http_(http),
        options_(options),
        stream_(stream),
        uuid_(std::move(vdi_uuid)),
        image_path_(std::move(image_path)),
        deadline_(deadline) {}

  // Runs attempts against `base` (scheme://host:port of the host that sees the SR) until one
  // succeeds or a failure is final. Fills result.attempts, bytes_sent and host_address.
  Result<void> Run(const http::Url& base, ImportResult& result);

 private:
  // One attempt under `task` (created for it), first to `put_url`.
  Attempt Once(const OpaqueRef& task, const std::string& put_url, const std::string& probe_url,
               int attempt_no, std::string& host_address);
  // One PUT, following one 302; `put_url` becomes the URL finally used. A non-empty `probe_url`
  // is asked first (ProbeRedirect).
  Result<http::HttpResponse> Send(std::string& put_url, const std::string& probe_url,
                                  int attempt_no, uint64_t& sent, std::string& host_address);
  // Over https the HttpClient sends the body without waiting for xapi's answer, so a 302 (sent
  // with the body unread, then the connection closed) can break the upload instead of being
  // read. Before a retry over https a body-less PUT to `probe_url` (format=raw, no task: xapi
  // imports nothing, under a task of its own; Xen Orchestra probes so before streamed imports)
  // asks where the import must go; on a 302, `put_url` moves to the Location's host. Advisory:
  // a failed probe changes nothing.
  void ProbeRedirect(const std::string& probe_url, std::string& put_url, std::string& host_address);
  Result<http::HttpResponse> PutPlain(const std::string& url, milliseconds remaining,
                                      const std::function<void(uint64_t)>& report);
  Result<http::HttpResponse> PutTls(const std::string& url, milliseconds remaining,
                                    const std::function<void(uint64_t)>& report);
  // The task's verdict after the PUT. `broke` is the transport error of a broken body stream.
  Attempt Verdict(const OpaqueRef& task, const std::optional<Error>& broke, int attempt_no,
                  uint64_t sent);
  // Cancels `task` and, when body bytes reached xapi (`sent` > 0), waits (at most
  // task_wait_after_break, not cancellable) until xapi has settled it, so the caller sees a
  // settled VDI and the task really goes away once destroyed. Without a body byte sent the task
  // may never have been picked up, and nothing would settle it.
  void CancelAndSettle(const OpaqueRef& task, uint64_t sent);
  // Sleeps the backoff; false when cancelled or past the deadline.
  bool Backoff(milliseconds wait) const;
  Error CancelledError() const {
    return Error::Cancelled("import of " + image_path_ + " into VDI " + uuid_ + " cancelled");
  }

  xenapi::Session& session_;
  Api api_;
  http::HttpClient& http_;
  const ImportOptions& options_;
  const image::ImageStream& stream_;
  const std::string uuid_;
  const std::string image_path_;
  const Deadline& deadline_;
};

Result<void> Uploader::Run(const http::Url& base, ImportResult& result) {
  std::string target = base.ToString();
  // ToString() includes the session URL's path; replace it with the handler's.
  if (!base.path().empty()) target.resize(target.size() - base.path().size());
  std::string format_query = options_.format == image::StreamFormat::kRaw ? "raw"
                             : options_.format == image::StreamFormat::kRawChunked
                                 ? "raw&chunked=true"
                                 : "vhd";
  auto backoff = options_.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    result.attempts = attempt;
    result.host_address = base.host();
    auto session_ref = session_.SessionRef();
    if (!session_ref.ok()) return session_ref.error();
    auto task_ref =
        api_.TaskCreate("fruixd import " + uuid_, "PUT /import_raw_vdi of " + image_path_);
    Attempt a;
    if (!task_ref.ok()) {
      a = {task_ref.error(), IsBusyXapi(task_ref.error()), 0};
    } else {
      xenapi::ScopedTask task(session_, *task_ref);
      const std::string put_url =
          target + "/import_raw_vdi?session_id=" + PercentEncode(session_ref->str()) +
          "&task_id=" + PercentEncode(task_ref->str()) + "&vdi=" + uuid_ +
          "&format=" + format_query;
      // Retries over https ask first where the import must go (ProbeRedirect).
      const std::string probe_url =
          attempt > 1 && base.scheme() == "https"
              ? target + "/import_raw_vdi?session_id=" + PercentEncode(session_ref->str()) +
                    "&vdi=" + uuid_ + "&format=raw"
              : std::string();
      a = Once(task.ref(), put_url, probe_url, attempt, result.host_address);
      (void)task.Destroy();
    }
    if (a.status.ok()) {
      result.bytes_sent = a.bytes_sent;
      return Ok();
    }
    if (!a.transient || attempt > options_.retries) return a.status.error();
    if (options_.progress) {
      ImportProgress notice{0, stream_.plan.size(), 0.0, attempt + 1, a.status.error().ToString()};
      options_.progress(notice);
    }
    if (!Backoff(backoff)) {
      if (options_.cancel.stop_requested()) return CancelledError();
      return a.status.error().WithContext("deadline reached");
    }
    backoff *= 2;
  }
}

Attempt Uploader::Once(const OpaqueRef& task, const std::string& first_url,
                       const std::string& probe_url, int attempt_no, std::string& host_address) {
  std::string put_url = first_url;
  uint64_t sent = 0;
  Result<http::HttpResponse> response = Send(put_url, probe_url, attempt_no, sent, host_address);
  if (options_.cancel.stop_requested()) {
    CancelAndSettle(task, sent);
    return {CancelledError(), false, sent};
  }
  if (response.ok() && response->status != 200) {
    (void)api_.TaskCancel(task);
    return {Error::Transport("import to " + http::RedactUrl(put_url) + " answered HTTP " +
                             std::to_string(response->status)),
            false, sent};
  }
  std::optional<Error> broke;
  if (!response.ok()) {
    if (response.error().code() == ErrorCode::kTimeout && deadline_.expired()) {
      CancelAndSettle(task, sent);
      return {Error::Timeout("import of " + image_path_ + " into VDI " + uuid_), false, sent};
    }
    if (!IsStreamBreak(response.error())) {
      // Our own failure (the image unreadable, TLS refused, ...): nothing to retry.
      CancelAndSettle(task, sent);
      return {response.error(), false, sent};
    }
    broke = response.error();
  } else if (sent < stream_.plan.size()) {
    broke = Error::Unavailable("import to " + http::RedactUrl(put_url) + " sent " +
                               std::to_string(sent) + " of " + std::to_string(stream_.plan.size()) +
                               " body bytes");
  }
  return Verdict(task, broke, attempt_no, sent);
}

void Uploader::ProbeRedirect(const std::string& probe_url, std::string& put_url,
                             std::string& host_address) {
  http::HttpRequest probe;
  probe.method = http::Method::kPut;
  probe.url = probe_url;
  probe.body_length = 0;
  probe.body_source = [](std::span<uint8_t>) -> Result<size_t> { return size_t{0}; };
  probe.cancel = options_.cancel;
  probe.timeout = std::min<milliseconds>(
      std::chrono::duration_cast<milliseconds>(deadline_.remaining()), std::chrono::minutes(1));
  auto answer = http_.Send(probe);
  if (!answer.ok() || answer->status != 302) return;
  const std::string* location = answer->Header("location");
  if (location == nullptr) return;
  auto to = http::Url::Parse(*location);
  auto from = http::Url::Parse(put_url);
  if (!to.ok() || !from.ok()) return;
  std::string authority = to->ToString();
  authority.resize(authority.size() - to->path().size());
  put_url = authority + from->path();
  host_address = to->host();
}

Result<http::HttpResponse> Uploader::Send(std::string& put_url, const std::string& probe_url,
                                          int attempt_no, uint64_t& sent,
                                          std::string& host_address) {
  if (!probe_url.empty()) ProbeRedirect(probe_url, put_url, host_address);
  Result<http::HttpResponse> response = Error::Internal("no PUT made");
  for (int hop = 0; hop < 2; ++hop) {
    sent = 0;
    const auto remaining = std::chrono::duration_cast<milliseconds>(deadline_.remaining());
    if (remaining.count() <= 0) return Error::Timeout("import of " + uuid_);
    auto report = [&](uint64_t done) {
      sent = done;
      if (options_.progress) {
        options_.progress({done, stream_.plan.size(), 0.0, attempt_no, std::string()});
      }
    };
    response = put_url.starts_with("http://") ? PutPlain(put_url, remaining, report)
                                              : PutTls(put_url, remaining, report);
    if (!response.ok() || response->status != 302) return response;
    const std::string* location = response->Header("location");
    if (location == nullptr || hop == 1) break;
    put_url = *location;
    if (auto u = http::Url::Parse(*location); u.ok()) host_address = u->host();
  }
  return Error::Protocol("import to " + http::RedactUrl(put_url) +
                         " redirected without a usable Location");
}

Result<http::HttpResponse> Uploader::PutPlain(const std::string& url, milliseconds remaining,
                                              const std::function<void(uint64_t)>& report) {
  // Plain HTTP: our own socket, file ranges by sendfile(2), the body only after xapi's 200.
  http::PlainPutRequest preq;
  preq.url = url;
  preq.body_length = stream_.plan.size();
  preq.io_timeout = std::min<milliseconds>(remaining, std::chrono::minutes(5));
  preq.write_body = [&](int fd) -> Result<void> {
    FRUIX_ASSIGN_OR_RETURN(int status, PeekStatus(fd, preq.io_timeout, options_.cancel));
    if (status != 200) return Ok();  // no body: PlainHttpPut reads the redirect or refusal
    vhd::FdSink sink(fd, /*sparse_zeros=*/false);
    auto written_ok = vhd::WritePlan(stream_.plan, sink, [&](uint64_t done) {
      report(done);
      return !options_.cancel.stop_requested();
    });
    report(sink.bytes_written());
    return written_ok;
  };
  return http::PlainHttpPut(preq);
}

Result<http::HttpResponse> Uploader::PutTls(const std::string& url, milliseconds remaining,
                                            const std::function<void(uint64_t)>& report) {
  // HTTPS: curl pulls the plan through its (2 MiB) upload buffer.
  vhd::PlanReader reader(stream_.plan);
  uint64_t sent = 0;
  http::HttpRequest req;
  req.method = http::Method::kPut;
  req.url = url;
  req.body_length = stream_.plan.size();
  req.cancel = options_.cancel;
  req.timeout = remaining;
  req.body_source = [&](std::span<uint8_t> buf) -> Result<size_t> {
    if (options_.cancel.stop_requested()) return Error::Cancelled("import cancelled");
    FRUIX_ASSIGN_OR_RETURN(size_t n, reader.Read(buf));
    sent += n;
    report(sent);
    return n;
  };
  return http_.Send(req);
}

Attempt Uploader::Verdict(const OpaqueRef& task, const std::optional<Error>& broke, int attempt_no,
                          uint64_t sent) {
  // After a broken stream xapi normally fails the task at once (VDI_IO_ERROR); one that stays
  // pending is stuck, and waiting for it must not eat the whole import's time.
  const Deadline bounded(RealClock(), options_.task_wait_after_break);
  const Deadline& wait_until = broke && bounded.at() < deadline_.at() ? bounded : deadline_;
  auto record = xenapi::WaitForTask(session_, task, wait_until, options_.cancel);
  if (!record.ok()) {
    if (record.error().code() == ErrorCode::kCancelled) {
      CancelAndSettle(task, sent);
      return {CancelledError(), false, sent};
    }
    if (record.error().code() == ErrorCode::kTimeout && broke && !deadline_.expired()) {
      (void)api_.TaskCancel(task);
      return {Error::Unavailable(broke->message() + "; xapi's task was still pending " +
                                 std::to_string(options_.task_wait_after_break.count()) +
                                 " ms later and was cancelled"),
              true, sent};
    }
    if (record.error().code() == ErrorCode::kTimeout) (void)api_.TaskCancel(task);
    return {record.error(), false, sent};
  }
  if (options_.progress) {
    options_.progress({sent, stream_.plan.size(), record->progress, attempt_no, std::string()});
  }
  auto outcome = xenapi::TaskOutcome(*record);
  if (outcome.ok()) return {Ok(), false, sent};  // the task is the verdict, even after a break
  const Error& e = outcome.error();
  // VDI_IO_ERROR is how xapi reports a body stream that ended early; after a complete body it
  // is a device error and final.
  const bool transient = IsBusyXapi(e) || (broke && e.IsXapi("VDI_IO_ERROR"));
  return {e.WithContext("import into VDI " + uuid_), transient, sent};
}

void Uploader::CancelAndSettle(const OpaqueRef& task, uint64_t sent) {
  (void)api_.TaskCancel(task);
  if (sent == 0) return;
  (void)xenapi::WaitForTask(session_, task, Deadline(RealClock(), options_.task_wait_after_break));
}

bool Uploader::Backoff(milliseconds wait) const {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  const auto wait_for = std::min<std::chrono::steady_clock::duration>(wait, deadline_.remaining());
  std::stop_token cancel = options_.cancel;
  cv.wait_for(lock, cancel, wait_for, [] { return false; });
  return !options_.cancel.stop_requested() && !deadline_.expired();
}

}  // namespace

Result<ImportResult> Importer::Import(std::string_view vdi_uuid, const std::string& image_path,
                                      const ImportOptions& options) const {
  FRUIX_ASSIGN_OR_RETURN(image::ImageSource source, image::ImageSource::Open(image_path));
  return Import(vdi_uuid, source, options);
}

namespace {

// The content digest computed on a thread of its own while the body is being sent, so hashing
// (SHA-256 of every data block) costs no time before the first byte. Get() joins it.
class BackgroundDigest {
 public:
  BackgroundDigest(const image::ImageSource& source, const image::AllocationMap& data) {
    thread_ = std::jthread([this, &source, data](std::stop_token stop) {
      image::ScanOptions options;
      options.progress = [stop](uint64_t, uint64_t) { return !stop.stop_requested(); };
      auto digest = source.Digest(data, options);
      std::lock_guard lock(mu_);
      result_ = digest.ok() ? *digest : std::string();
    });
  }
  // Stops early (the import failed); Get() then returns "".
  void Abandon() { thread_.request_stop(); }
  std::string Get() {
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    return result_;
  }

 private:
  std::mutex mu_;
  std::string result_;
  std::jthread thread_;  // last: joined before the members above go
};

}  // namespace

Result<ImportResult> Importer::Import(std::string_view vdi_uuid, const image::ImageSource& source,
                                      const ImportOptions& options) const {
  const auto started = std::chrono::steady_clock::now();
  const Deadline deadline(RealClock(), options.timeout);
  const std::string uuid(vdi_uuid);
  const std::string& image_path = source.path();
  Api api(session_);

  // 1. Preflight.
  auto vdi_ref = api.GetByUuid<xenapi::VdiRecord>(uuid);
  if (!vdi_ref.ok()) return vdi_ref.error().WithContext("VDI " + uuid);
  FRUIX_ASSIGN_OR_RETURN(xenapi::VdiRecord vdi, api.GetRecord<xenapi::VdiRecord>(*vdi_ref));
  FRUIX_RETURN_IF_ERROR(CheckVdiUsable(api, uuid, vdi));
  if (!source.usable()) {
    return Error::InvalidArgument("image " + image_path +
                                  " has problems; run fruixctl image "
                                  "check on it");
  }
  const uint64_t vdi_size = static_cast<uint64_t>(std::max<int64_t>(vdi.virtual_size, 0));
  if (source.virtual_size() > vdi_size) {
    return Error::InvalidArgument("image " + image_path + " has a virtual size of " +
                                  std::to_string(source.virtual_size()) + " bytes, more than the " +
                                  std::to_string(vdi_size) + " bytes of VDI " + uuid);
  }

  // 2. Plan the body with the zero test only: the digest is not needed to send.
  const Recorded recorded = ReadRecorded(vdi);
  image::PlanOptions plan_options;
  plan_options.format = options.format;
  plan_options.zero_fill = options.zero_fill;
  plan_options.previous = recorded.map;
  plan_options.digest = false;
  plan_options.disk_size =
      StreamDiskSize(options.zero_fill, recorded.map, source.virtual_size(), vdi_size);
  FRUIX_ASSIGN_OR_RETURN(image::PlannedStream planned,
                         image::PlanImageStream(source, plan_options));
  const image::ImageStream& stream = planned.stream;
  const image::AllocationMap& data = stream.data_blocks;

  ImportResult result;
  result.data_blocks = stream.data_blocks.Count();
  result.zero_blocks = stream.zero_blocks.Count();
  result.zero_fill = options.zero_fill;

  // 3. Skip identical content: the VDI holds this image's data and, as far as fruixd knows,
  // nothing else (no block to zero). zero_fill=full trusts no record, so it never skips. Only
  // then is the digest needed before sending; otherwise it is computed while the body goes out.
  std::optional<BackgroundDigest> background;
  if (!options.force && options.zero_fill != image::ZeroFill::kFull && recorded.digest &&
      recorded.map && recorded.map->Blocks() == data.Blocks()) {
    image::ScanOptions hash;
    hash.progress = [&](uint64_t, uint64_t) { return !options.cancel.stop_requested(); };
    auto digest = source.Digest(data, hash);
    if (!digest.ok()) {
      if (options.cancel.stop_requested()) {
        return Error::Cancelled("import of " + image_path + " into VDI " + uuid + " cancelled");
      }
      return digest.error();
    }
    result.digest = *digest;
    if (*recorded.digest == result.digest) {
      result.skipped = true;
      result.duration =
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
      return result;
    }
  } else {
    background.emplace(source, data);
  }

  // 4. Before writing anything, make the record safe for an import that stops half-way: no
  // digest, and a map of every block that may then hold data (the previous map's and every block
  // this import writes), so that a later `previous` import clears them all.
  FRUIX_RETURN_IF_ERROR(api.RemoveFromOtherConfig<xenapi::VdiRecord>(*vdi_ref, kDigestKey));
  const image::AllocationMap may_hold =
      recorded.map ? image::Union(*recorded.map, stream.WrittenBlocks()) : stream.WrittenBlocks();
  FRUIX_RETURN_IF_ERROR(SetOtherConfig(api, *vdi_ref, kAllocMapKey, may_hold.Encode()));

  // 5 and 6. Where to send, then the attempts.
  FRUIX_ASSIGN_OR_RETURN(http::Url base, http::Url::Parse(session_.url()));
  FRUIX_ASSIGN_OR_RETURN(std::optional<std::string> sr_host, SrHostAddress(api, vdi.sr));
  if (sr_host) {
    FRUIX_ASSIGN_OR_RETURN(base, base.WithHost(*sr_host));
  }
  Uploader uploader(session_, http_, options, stream, uuid, image_path, deadline);
  if (auto sent = uploader.Run(base, result); !sent.ok()) {
    if (background) background->Abandon();
    return sent.error();
  }
  if (background) result.digest = background->Get();  // "" if reading failed: nothing recorded

  // 7. Record which blocks may now hold data: the image's data blocks (blocks this import filled
  // with zeros read as zeros, like never-written ones, so they need no zeroing next time). With
  // zero_fill=none, blocks of the previous import that this one left alone still hold old data:
  // they stay in the map (so a later `previous` import zeroes them), and the digest is recorded
  // only if no such block exists (otherwise the VDI does not hold exactly this image and must not
  // be skipped next time).
  image::AllocationMap holds = data;
  if (options.zero_fill == image::ZeroFill::kNone && recorded.map) {
    holds = image::Union(*recorded.map, data);
  }
  const bool exact = holds.Blocks() == data.Blocks();
  FRUIX_RETURN_IF_ERROR(SetOtherConfig(api, *vdi_ref, kAllocMapKey, holds.Encode()));
  if (exact && !result.digest.empty()) {
    FRUIX_RETURN_IF_ERROR(
        api.AddToOtherConfig<xenapi::VdiRecord>(*vdi_ref, kDigestKey, result.digest));
  }
  result.duration =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace fruix::upload
