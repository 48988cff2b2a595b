#include "lib/upload/importer.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
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

// Import failures worth another attempt. VDI_IO_ERROR is what xapi's task reports when the body
// stream breaks (connection cut or reset, even after the client saw its early 200), so it is
// retried too; the retry count bounds a real device error.
bool IsTransientXapi(const Error& e) {
  return e.IsXapi("TOO_MANY_PENDING_TASKS") || e.IsXapi("VDI_IN_USE") || e.IsXapi("VDI_IO_ERROR");
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

// The outcome of one PUT attempt.
struct Attempt {
  Result<void> status = Ok();
  bool transient = false;
  uint64_t bytes_sent = 0;
};

}  // namespace

Result<ImportResult> Importer::Import(std::string_view vdi_uuid, const std::string& image_path,
                                      const ImportOptions& options) const {
  const auto started = std::chrono::steady_clock::now();
  const Deadline deadline(RealClock(), options.timeout);
  const std::string uuid(vdi_uuid);
  Api api(session_);

  // 1. Preflight.
  auto vdi_ref = api.GetByUuid<xenapi::VdiRecord>(uuid);
  if (!vdi_ref.ok()) return vdi_ref.error().WithContext("VDI " + uuid);
  FRUIX_ASSIGN_OR_RETURN(xenapi::VdiRecord vdi, api.GetRecord<xenapi::VdiRecord>(*vdi_ref));
  FRUIX_RETURN_IF_ERROR(CheckVdiUsable(api, uuid, vdi));
  FRUIX_ASSIGN_OR_RETURN(image::ImageSource source, image::ImageSource::Open(image_path));
  const uint64_t vdi_size = static_cast<uint64_t>(std::max<int64_t>(vdi.virtual_size, 0));
  if (source.virtual_size() > vdi_size) {
    return Error::InvalidArgument("image " + image_path + " has a virtual size of " +
                                  std::to_string(source.virtual_size()) + " bytes, more than the " +
                                  std::to_string(vdi_size) + " bytes of VDI " + uuid);
  }

  // 2. Plan the body.
  const Recorded recorded = ReadRecorded(vdi);
  image::PlanOptions plan_options;
  plan_options.format = options.format;
  plan_options.zero_fill = options.zero_fill;
  plan_options.previous = recorded.map;
  plan_options.digest = true;
  if (options.zero_fill == image::ZeroFill::kPrevious && recorded.map &&
      recorded.map->block_count() > source.block_count()) {
    // The previous image reached further: zero its blocks past this image's end as well.
    plan_options.disk_size =
        std::min<uint64_t>(vdi_size, recorded.map->block_count() * image::kBlockSize);
    plan_options.disk_size = std::max<uint64_t>(plan_options.disk_size, source.virtual_size());
  }
  FRUIX_ASSIGN_OR_RETURN(image::PlannedStream planned,
                         image::PlanImageStream(source, plan_options));
  const image::ImageStream& stream = planned.stream;
  const image::AllocationMap written = stream.WrittenBlocks();

  ImportResult result;
  result.data_blocks = stream.data_blocks.Count();
  result.zero_blocks = stream.zero_blocks.Count();
  result.zero_fill = options.zero_fill;
  result.digest = planned.scan.digest.value_or("");

  // 3. Skip identical content.
  if (!options.force && recorded.digest && recorded.map && *recorded.digest == result.digest &&
      *recorded.map == written) {
    result.skipped = true;
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    return result;
  }

  // 4. Forget the old record before writing anything.
  FRUIX_RETURN_IF_ERROR(api.RemoveFromOtherConfig<xenapi::VdiRecord>(*vdi_ref, kAllocMapKey));
  FRUIX_RETURN_IF_ERROR(api.RemoveFromOtherConfig<xenapi::VdiRecord>(*vdi_ref, kDigestKey));

  // 5. Where to send.
  FRUIX_ASSIGN_OR_RETURN(http::Url base, http::Url::Parse(session_.url()));
  FRUIX_ASSIGN_OR_RETURN(std::optional<std::string> sr_host, SrHostAddress(api, vdi.sr));
  if (sr_host) {
    FRUIX_ASSIGN_OR_RETURN(base, base.WithHost(*sr_host));
  }
  result.host_address = base.host();

  std::string format_query = options.format == image::StreamFormat::kRaw ? "raw"
                             : options.format == image::StreamFormat::kRawChunked
                                 ? "raw&chunked=true"
                                 : "vhd";

  auto attempt_once = [&](int attempt_no) -> Attempt {
    Attempt out;
    auto session_ref = session_.SessionRef();
    if (!session_ref.ok()) return {session_ref.error(), false, 0};
    auto task_ref = api.TaskCreate("fruixd import " + uuid, "PUT /import_raw_vdi of " + image_path);
    if (!task_ref.ok()) return {task_ref.error(), IsTransientXapi(task_ref.error()), 0};
    xenapi::ScopedTask task(session_, *task_ref);

    http::Url url = base;
    std::string target = url.ToString();
    // ToString() includes the session URL's path; replace it with the handler's.
    if (!url.path().empty()) target.resize(target.size() - url.path().size());
    const std::string query = "/import_raw_vdi?session_id=" + PercentEncode(session_ref->str()) +
                              "&task_id=" + PercentEncode(task_ref->str()) + "&vdi=" + uuid +
                              "&format=" + format_query;
    std::string put_url = target + query;

    Result<http::HttpResponse> response = Error::Internal("no PUT made");
    for (int hop = 0; hop < 2; ++hop) {
      uint64_t sent = 0;
      const auto remaining =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline.remaining());
      if (remaining.count() <= 0) return {Error::Timeout("import of " + uuid), false, 0};
      auto report = [&](uint64_t done) {
        sent = done;
        if (options.progress) options.progress({done, stream.plan.size(), 0.0, attempt_no});
      };
      if (put_url.starts_with("http://")) {
        // Plain HTTP: our own socket, file ranges by sendfile(2).
        http::PlainPutRequest preq;
        preq.url = put_url;
        preq.body_length = stream.plan.size();
        preq.io_timeout = std::min<std::chrono::milliseconds>(remaining, std::chrono::minutes(5));
        preq.write_body = [&](int fd) -> Result<void> {
          vhd::FdSink sink(fd, /*sparse_zeros=*/false);
          auto written_ok = vhd::WritePlan(stream.plan, sink, [&](uint64_t done) {
            report(done);
            return !options.cancel.stop_requested();
          });
          report(sink.bytes_written());
          return written_ok;
        };
        response = http::PlainHttpPut(preq);
      } else {
        // HTTPS: curl pulls the plan through its (2 MiB) upload buffer.
        vhd::PlanReader reader(stream.plan);
        http::HttpRequest req;
        req.method = http::Method::kPut;
        req.url = put_url;
        req.body_length = stream.plan.size();
        req.cancel = options.cancel;
        req.timeout = remaining;
        req.body_source = [&](std::span<uint8_t> buf) -> Result<size_t> {
          if (options.cancel.stop_requested()) return Error::Cancelled("import cancelled");
          FRUIX_ASSIGN_OR_RETURN(size_t n, reader.Read(buf));
          report(sent + n);
          return n;
        };
        response = http_.Send(req);
      }
      out.bytes_sent = sent;
      if (!response.ok() || response->status != 302) break;
      const std::string* location = response->Header("location");
      if (location == nullptr || hop == 1) {
        response = Error::Protocol("import to " + http::RedactUrl(put_url) +
                                   " redirected without a usable Location");
        break;
      }
      put_url = *location;
      if (auto u = http::Url::Parse(*location); u.ok()) result.host_address = u->host();
    }

    // Cancels the task and waits (bounded, not cancellable) until xapi has finished it, so the
    // caller sees a settled VDI and the task is really gone once destroyed.
    auto cancel_task = [&] {
      (void)api.TaskCancel(task.ref());
      (void)xenapi::WaitForTask(session_, task.ref(),
                                Deadline(RealClock(), std::chrono::seconds(30)));
    };
    if (options.cancel.stop_requested()) {
      cancel_task();
      return {Error::Cancelled("import of " + image_path + " into VDI " + uuid + " cancelled"),
              false, out.bytes_sent};
    }
    if (response.ok() && response->status != 200) {
      (void)api.TaskCancel(task.ref());
      return {Error::Transport("import to " + http::RedactUrl(put_url) + " answered HTTP " +
                               std::to_string(response->status)),
              false, out.bytes_sent};
    }
    // The task is the verdict, also after a failed connection (it then says why).
    const bool connection_failed = !response.ok();
    if (connection_failed && response.error().code() != ErrorCode::kUnavailable) {
      (void)api.TaskCancel(task.ref());
    }
    auto record = xenapi::WaitForTask(session_, task.ref(), deadline, options.cancel);
    if (!record.ok()) {
      if (record.error().code() == ErrorCode::kCancelled) cancel_task();
      return {record.error(), false, out.bytes_sent};
    }
    if (options.progress) {
      options.progress({out.bytes_sent, stream.plan.size(), record->progress, attempt_no});
    }
    auto outcome = xenapi::TaskOutcome(*record);
    (void)task.Destroy();
    if (!outcome.ok()) {
      const bool transient =
          IsTransientXapi(outcome.error()) ||
          (connection_failed && response.error().code() == ErrorCode::kUnavailable);
      return {outcome.error().WithContext("import into VDI " + uuid), transient, out.bytes_sent};
    }
    if (connection_failed) {
      return {response.error(), response.error().code() == ErrorCode::kUnavailable, out.bytes_sent};
    }
    return out;
  };

  // 6. Attempts with backoff.
  auto backoff = options.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    result.attempts = attempt;
    Attempt a = attempt_once(attempt);
    if (a.status.ok()) {
      result.bytes_sent = a.bytes_sent;
      break;
    }
    if (!a.transient || attempt > options.retries) return a.status.error();
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    const auto wait_for =
        std::min<std::chrono::steady_clock::duration>(backoff, deadline.remaining());
    std::stop_token cancel = options.cancel;
    cv.wait_for(lock, cancel, wait_for, [] { return false; });
    if (options.cancel.stop_requested()) {
      return Error::Cancelled("import of " + image_path + " into VDI " + uuid + " cancelled");
    }
    if (deadline.expired()) return a.status.error().WithContext("deadline reached");
    backoff *= 2;
  }

  // 7. Record what the VDI now holds. With zero_fill=none, blocks of the previous import that
  // this one did not write still hold old data: they stay in the map (so a later `previous`
  // import zeroes them), and the digest is recorded only if no such block exists (otherwise the
  // VDI does not hold exactly this image and must not be skipped next time).
  image::AllocationMap holds = written;
  bool exact = true;
  if (options.zero_fill == image::ZeroFill::kNone && recorded.map) {
    holds = image::Union(*recorded.map, written);
    exact = holds == written;
  }
  FRUIX_RETURN_IF_ERROR(
      api.AddToOtherConfig<xenapi::VdiRecord>(*vdi_ref, kAllocMapKey, holds.Encode()));
  if (exact && !result.digest.empty()) {
    FRUIX_RETURN_IF_ERROR(
        api.AddToOtherConfig<xenapi::VdiRecord>(*vdi_ref, kDigestKey, result.digest));
  }
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace fruix::upload
