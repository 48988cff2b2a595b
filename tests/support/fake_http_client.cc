#include "tests/support/fake_http_client.h"

namespace fruix::testing {

http::HttpResponse XapiSuccessResponse(const xenapi::Value& v) {
  return {
      .status = 200, .headers = {{"content-type", "text/xml"}}, .body = xenapi::EncodeSuccess(v)};
}

http::HttpResponse XapiFailureResponse(const std::vector<std::string>& description) {
  return {.status = 200,
          .headers = {{"content-type", "text/xml"}},
          .body = xenapi::EncodeFailure(description)};
}

void FakeHttpClient::Push(Result<http::HttpResponse> response) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.push_back(std::move(response));
}

void FakeHttpClient::SetHandler(Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(handler);
}

void FakeHttpClient::SetXapiHandler(XapiHandler handler) {
  SetXapiHandler(
      CancellableXapiHandler([h = std::move(handler)](const xenapi::MethodCall& call,
                                                      const std::stop_token&) { return h(call); }));
}

void FakeHttpClient::SetXapiHandler(CancellableXapiHandler handler) {
  SetHandler([h = std::move(handler)](const http::HttpRequest& req) -> Result<http::HttpResponse> {
    auto call = xenapi::DecodeCall(req.body);
    if (!call.ok()) {
      return http::HttpResponse{.status = 500, .headers = {}, .body = "<html>bad request</html>"};
    }
    auto v = h(*call, req.cancel);
    if (v.ok()) return XapiSuccessResponse(*v);
    if (v.error().is_xapi()) return XapiFailureResponse(v.error().xapi_description());
    return v.error();
  });
}

Result<http::HttpResponse> FakeHttpClient::Send(const http::HttpRequest& request) {
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    if (!script_.empty()) {
      auto r = std::move(script_.front());
      script_.pop_front();
      return r;
    }
    handler = handler_;
  }
  if (handler) return handler(request);
  auto call = xenapi::DecodeCall(request.body);
  return Error::Internal("FakeHttpClient: unexpected request " +
                         (call.ok() ? call->method : http::RedactUrl(request.url)));
}

std::vector<http::HttpRequest> FakeHttpClient::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<xenapi::MethodCall> FakeHttpClient::calls() const {
  std::vector<xenapi::MethodCall> out;
  for (const auto& r : requests()) {
    auto call = xenapi::DecodeCall(r.body);
    if (call.ok()) out.push_back(std::move(call).value());
  }
  return out;
}

std::vector<std::string> FakeHttpClient::methods() const {
  std::vector<std::string> out;
  for (const auto& c : calls()) out.push_back(c.method);
  return out;
}

size_t FakeHttpClient::CountCalls(std::string_view method) const {
  size_t n = 0;
  for (const auto& c : calls()) n += c.method == method ? 1 : 0;
  return n;
}

size_t FakeHttpClient::pending_scripted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return script_.size();
}

}  // namespace fruix::testing
