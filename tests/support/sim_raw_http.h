// testing::RawHttp — a deliberately small blocking HTTP client for tests that talk to the
// simulator over real sockets: exact bytes out, exact bytes in. Plain TCP to loopback addresses
// only (it refuses anything else); every read and write is bounded by a timeout so a test cannot
// hang. Not thread-safe; one RawConnection per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/result.h"

namespace fruix::testing {

struct RawResponse {
  std::string head;  // status line + headers, including the final "\r\n\r\n"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Case-insensitive header lookup ("" when absent).
  std::string Header(std::string_view name) const;
};

class RawConnection {
 public:
  // Connects to a loopback address (127.0.0.0/8). kInvalidArgument for anything else.
  static Result<RawConnection> Connect(
      const std::string& address, uint16_t port,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&& other) noexcept;
  ~RawConnection();

  Result<void> Send(std::string_view bytes);
  // Reads up to and including the blank line that ends a response head, byte by byte (nothing
  // after it is consumed), and parses it.
  Result<RawResponse> ReadHead();
  Result<std::string> ReadExactly(size_t n);
  // Reads until the peer closes (or the timeout expires: kTimeout).
  Result<std::string> ReadToEnd();
  // Reads whatever arrives within `wait` (possibly nothing); kUnavailable once the peer closed
  // and nothing is left.
  Result<std::string> ReadAvailable(std::chrono::milliseconds wait);
  // A full response: head, then a body of content-length bytes (or to the end of the stream
  // when the reply has no content-length).
  Result<RawResponse> ReadResponse();
  void ShutdownWrite();
  int fd() const { return fd_; }

 private:
  explicit RawConnection(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// One request on a fresh connection; returns the full response.
Result<RawResponse> RawExchange(const std::string& address, uint16_t port,
                                std::string_view request);
// "POST <path> HTTP/1.1" with Host, Content-Type and Content-Length.
std::string PostRequest(std::string_view path, std::string_view content_type, std::string_view body,
                        std::string_view extra_headers = "");

}  // namespace fruix::testing
