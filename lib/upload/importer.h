// upload::Importer — puts an image file into an existing VDI through xapi's PUT /import_raw_vdi
// (xenapi-spec.md §6), safely and only when needed. Owns nothing long-lived: it borrows a
// xenapi::Session (and the http::HttpClient that uploads), both of which must outlive Import().
// User documentation: docs/importing.md.
//
// One Import():
//   1. Preflight, before a body byte is sent: the VDI exists (UUID_INVALID names the uuid), is
//      not read-only, is not attached to a running VM, and the image's virtual size fits in the
//      VDI's virtual_size (the error gives both numbers). The image is opened and validated.
//   2. Plans the body (image::PlanImageStream, zero test only: nothing is hashed before the
//      first byte is sent) with the zero-fill mode:
//        previous  also sends zeros for blocks the previous import wrote (recorded on the VDI)
//                  and this image leaves empty, so nothing of the old image survives;
//        full      sends every block of the VDI: the image's, and zeros for all the others up to
//                  the VDI's virtual_size, whatever was recorded (the VDI then equals the image
//                  followed by zeros);
//        none      sends only the image's data blocks; older content may remain in the others
//                  (ImportResult::zero_fill says kNone so the caller can report it).
//      Formats raw and raw&chunked: raw sends every byte of the disk it covers (Content-Length =
//      that size), so inside the image zero filling is implied whatever the mode; the mode still
//      decides how far the disk reaches (previous: over the previous import's blocks; full: the
//      whole VDI; none: the image only). raw&chunked sends frames for the same blocks as vhd.
//   3. Skip: when the VDI records this image's digest and the recorded map lists exactly the
//      image's data blocks (nothing to zero), nothing is sent and the result is `skipped`
//      (options.force overrides; zero_fill=full never skips: it trusts no record). The digest
//      (image::ImageSource::Digest, SHA-256 of the data blocks) is computed up front only when
//      such a skip is possible; otherwise on a thread of its own while the body is sent, and
//      joined before it is recorded.
//   4. Before sending, removes the digest (kDigestKey) and widens the map (kAllocMapKey) to every
//      block that may hold data if the import stops half-way (the previous map's and every block
//      this import writes), so a failed or cancelled import never leaves a record that lies.
//      After the task succeeded: the map of the blocks that now may hold data (the image's data
//      blocks; with zero_fill=none also the previous map's), and the digest unless none left
//      older blocks behind.
//   5. Sends to the host that sees the VDI's SR (VDI.SR -> SR.PBDs -> attached PBD's host ->
//      host.address, same scheme and port as the session URL), following one 302 Location (the
//      result's host_address is then the Location's host). The body has an exact Content-Length
//      (never chunked). http:// goes over a socket of our own with file ranges by sendfile
//      (http/plain_http_put.h), and the body is sent only after xapi's response head said 200
//      (xapi answers before it reads the body; a 302 or an error is then read, not written
//      into); https:// through the HttpClient, which pulls the body in 2 MiB reads
//      (vhd::PlanReader) and sends it without waiting for xapi's answer, so each https retry is
//      preceded by a body-less probe PUT (format=raw, Content-Length 0, no task_id: xapi imports
//      nothing) whose 302 moves the import to the Location's host. The task (task.create, passed
//      as task_id) is the only verdict: HTTP 200 is not success. The task is always destroyed.
//   6. Transient failures are retried up to options.retries times with exponential backoff
//      (options.progress is told why, before each wait):
//        - the task's (or task.create's) TOO_MANY_PENDING_TASKS or VDI_IN_USE, whatever happened
//          on the wire (xapi is busy, or the VDI is still attached by an earlier import);
//        - a broken body stream seen on our side (connection refused, reset or closed early, a
//          failed or short write, a stalled socket): the task's verdict is awaited for at most
//          options.task_wait_after_break; a task that is still pending then (xapi stuck) is
//          cancelled and the attempt counts as transient; a VDI_IO_ERROR verdict after a broken
//          stream is the break's echo and is retried; a success verdict is a success.
//      Everything else fails at once: a task failure as Error::Xapi with the task's error_info
//      (in particular VDI_IO_ERROR after a complete body: a device error), an HTTP status other
//      than 200 and 302 as kTransport.
//   7. options.cancel stops the sending, cancels the task (waiting at most
//      options.task_wait_after_break for xapi to settle it), and Import() returns kCancelled.
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
#include "lib/image/image_source.h"
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
  // Set in the one call made before each retry's backoff (bytes_sent 0, `attempt` = the attempt
  // about to start): why the previous attempt failed. Empty otherwise.
  std::string retrying_because;
};

struct ImportOptions {
  image::StreamFormat format = image::StreamFormat::kVhd;
  image::ZeroFill zero_fill = image::ZeroFill::kPrevious;
  bool force = false;  // upload even when the VDI already holds this content
  int retries = 3;     // extra attempts after a transient failure
  std::chrono::milliseconds retry_backoff{std::chrono::milliseconds(200)};  // doubles per retry
  std::chrono::milliseconds timeout{std::chrono::hours(4)};  // whole import, all attempts
  // After the body stream broke, or after a cancel, how long xapi's task may stay pending before
  // it is cancelled (and, for a broken stream, the attempt retried).
  std::chrono::milliseconds task_wait_after_break{std::chrono::seconds(30)};
  std::function<void(const ImportProgress&)> progress;  // may be empty
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
  // kCancelled, kTimeout (options.timeout), Error::Xapi from the task (after the last attempt
  // for TOO_MANY_PENDING_TASKS, VDI_IN_USE and a VDI_IO_ERROR after a broken stream),
  // kUnavailable when retries are exhausted on broken streams (including tasks left pending),
  // kTransport for an unexpected HTTP status.
  Result<ImportResult> Import(std::string_view vdi_uuid, const std::string& image_path,
                              const ImportOptions& options) const;
  // The same for an image already open (e.g. from a descriptor a client passed): `source` must
  // outlive the call; an unusable source is kInvalidArgument.
  Result<ImportResult> Import(std::string_view vdi_uuid, const image::ImageSource& source,
                              const ImportOptions& options) const;

 private:
  xenapi::Session& session_;
  http::HttpClient& http_;
};

}  // namespace fruix::upload
