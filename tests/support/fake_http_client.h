// FakeHttpClient — the test double of http::HttpClient for unit tests of the XenAPI client. Answers
// from a FIFO script of responses first, then from a handler; records every request. A request
// with neither a scripted response nor a handler fails with kInternal naming the method, so an
// unexpected call makes the test fail instead of hanging.
//
// Threads: all members are safe from any thread; the handler runs on the caller's thread, outside
// the fake's lock (it may block).
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lib/http/http_client.h"
#include "lib/xenapi/codec.h"
#include "lib/xenapi/value.h"

namespace fruix::testing {

// HTTP 200 text/xml responses carrying xapi's envelopes.
http::HttpResponse XapiSuccessResponse(const xenapi::Value& v);
http::HttpResponse XapiFailureResponse(const std::vector<std::string>& description);

class FakeHttpClient final : public http::HttpClient {
 public:
  using Handler = std::function<Result<http::HttpResponse>(const http::HttpRequest&)>;
  // Gets each decoded XML-RPC call; a kXapi error becomes a Failure envelope, any other error is
  // returned from Send() as a transport error.
  using XapiHandler = std::function<Result<xenapi::Value>(const xenapi::MethodCall&)>;
  // The same, also given the request's stop token (a blocking handler should honour it the way
  // CurlHttpClient does, returning kCancelled).
  using CancellableXapiHandler =
      std::function<Result<xenapi::Value>(const xenapi::MethodCall&, const std::stop_token&)>;

  void Push(Result<http::HttpResponse> response);
  void PushXapiSuccess(const xenapi::Value& v) { Push(XapiSuccessResponse(v)); }
  void PushXapiFailure(const std::vector<std::string>& d) { Push(XapiFailureResponse(d)); }
  void SetHandler(Handler handler);
  void SetXapiHandler(XapiHandler handler);
  void SetXapiHandler(CancellableXapiHandler handler);

  Result<http::HttpResponse> Send(const http::HttpRequest& request) override;

  std::vector<http::HttpRequest> requests() const;
  // Every XML-RPC call sent, decoded, in order (bodies that are not calls are skipped).
  std::vector<xenapi::MethodCall> calls() const;
  std::vector<std::string> methods() const;
  size_t CountCalls(std::string_view method) const;
  size_t pending_scripted() const;

 private:
  mutable std::mutex mu_;
  std::deque<Result<http::HttpResponse>> script_;
  Handler handler_;
  std::vector<http::HttpRequest> requests_;
};

}  // namespace fruix::testing
