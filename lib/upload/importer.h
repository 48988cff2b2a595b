// upload::Importer — puts an image file into an existing VDI through xapi's PUT /import_raw_vdi
// (xenapi-spec.md §6), safely and only when needed. Owns nothing long-lived: it borrows a
// xenapi::Session (and the http::HttpClient that uploads), both of which must outlive Import().
//
// One Import():
//   1. Preflight, before a body byte is sent: the VDI exists (UUID_INVALID names the uuid), is
//      not read-only, is not attached to a running VM, and the image's virtual size fits in the
//      VDI's virtual_size (the error gives both numbers). The image is opened and validated.
//   2. Plans the body (image::PlanImageStream, digest on) with the zero-fill mode:
//        previous  also sends zeros for blocks the previous import wrote (recorded on the VDI)
//                  and this image leaves empty, so nothing of the old image survives;
//        full      sends every block of the image's disk;
//        none      sends only the image's data blocks; older content may remain in the others
//                  (ImportResult::zero_fill says kNone so the caller can report it).
//   3. Skip: when the VDI records this image's digest and the recorded map equals the blocks this
//      import would write, nothing is sent and the result is `skipped` (options.force overrides).
//   4. Removes the recorded keys (kAllocMapKey, kDigestKey) before sending, so a failed import
//      never leaves a map that lies; writes them again only after the task succeeded.
//   5. Sends to the host that sees the VDI's SR (VDI.SR -> SR.PBDs -> attached PBD's host ->
//      host.address, same scheme and port as the session URL), following one 302 Location.
//      The body has an exact Content-Length (never chunked). http:// goes over a socket of our
//      own with file ranges by sendfile (http/plain_http_put.h); https:// through the
//      HttpClient, which pulls the body in 2 MiB reads (vhd::PlanReader). The task (task.create,
//      passed as task_id) is the only verdict: HTTP 200 is not success. The task is always
//      destroyed.
//   6. Transient failures (connection cut/reset, TOO_MANY_PENDING_TASKS, VDI_IN_USE, and the task's
//      VDI_IO_ERROR, which is how xapi reports a broken body stream) are retried
//      up to options.retries times with exponential backoff; others fail at once (a task failure
//      as Error::Xapi with the task's error_info).
//   7. options.cancel stops the sending, cancels the task, and Import() returns kCancelled.
//
// Threads: Import() may run on any thread; one Importer may run several imports at once (of
// different VDIs). Progress callbacks run on the importing thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include "lib/core/result.h"
#include "lib/image/image_stream.h"
#include "lib/xenapi/session.h"

namespace fruix::upload {

// other_config keys recorded on the VDI after a successful import.
inline constexpr std::string_view kAllocMapKey = "fruix-alloc-map";  // AllocationMap::Encode
inline constexpr std::string_view kDigestKey = "fruix-sha256";       // ContentDigest value

struct ImportProgress {
  uint64_t bytes_sent = 0;
  uint64_t bytes_total = 0;  // the body's Content-Length
  double task_progress = 0;  // xapi's task progress when known (0..1), else 0
  int attempt = 1;           // 1 + retries so far
};

struct ImportOptions {
  image::StreamFormat format = image::StreamFormat::kVhd;
  image::ZeroFill zero_fill = image::ZeroFill::kPrevious;
  bool force = false;  // upload even when the VDI already holds this content
  int retries = 3;     // extra attempts after a transient failure
  std::chrono::milliseconds retry_backoff{std::chrono::milliseconds(200)};  // doubles per retry
  std::chrono::milliseconds timeout{std::chrono::hours(4)};  // whole import, all attempts
  std::function<void(const ImportProgress&)> progress;       // may be empty
  std::stop_token cancel;
};

struct ImportResult {
  uint64_t bytes_sent = 0;   // body bytes of the successful attempt (0 when skipped)
  uint64_t data_blocks = 0;  // 2 MiB blocks sent with image data
  uint64_t zero_blocks = 0;  // blocks sent as zeros only
  bool skipped = false;      // identical content already on the VDI; nothing sent
  image::ZeroFill zero_fill = image::ZeroFill::kPrevious;
  std::string digest;  // the image's content digest ("sha256v1:...")
  std::chrono::milliseconds duration{0};
  std::string host_address;  // host the body was sent to ("" when skipped)
  int attempts = 0;          // PUT attempts made
};

class Importer {
 public:
  // `upload_http` sends the body; it must accept the session URL's TLS policy (typically the
  // same client the session uses).
  Importer(xenapi::Session& session, http::HttpClient& upload_http)
      : session_(session), http_(upload_http) {}

  // See the top comment. Errors: kNotFound/Xapi UUID_INVALID (no such VDI), kFailedPrecondition
  // (read-only, attached to a running VM), kInvalidArgument (image too large or unusable),
  // kCancelled, kTimeout, Error::Xapi from the task, kUnavailable when retries are exhausted on
  // connection failures.
  Result<ImportResult> Import(std::string_view vdi_uuid, const std::string& image_path,
                              const ImportOptions& options) const;

 private:
  xenapi::Session& session_;
  http::HttpClient& http_;
};

}  // namespace fruix::upload
