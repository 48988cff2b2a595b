// XML-RPC codec for XenAPI. Decoding is built on xmlrpc-c and accepts everything xapi emits
// (untyped strings, ints as strings, <i4>/<i8>, <boolean>, <double>, dateTime.iso8601 with a
// trailing Z, empty <value/>). Encoding writes exactly what xapi (ocaml-rpc) writes: no whitespace
// anywhere, strings untyped and escaped (&, <, >, "), control characters other than TAB/LF/CR
// dropped, doubles as %.16g, and the "<?xml version="1.0"?>" prolog with nothing after it.
// All functions are pure and thread-safe. Decoders never throw; malformed input is kProtocol.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/xenapi/value.h"

namespace fruix::xenapi {

struct MethodCall {
  std::string method;
  Array params;
};

// Appends the wire form of `v` ("<value>...</value>") to `out`.
void AppendValue(std::string& out, const Value& v);
// The wire form of `v`: a task's `result` field is such a fragment ("<value>OpaqueRef:x</value>").
std::string EncodeValue(const Value& v);

// A complete <methodCall> document.
std::string EncodeCall(std::string_view method, const Array& params);
// A <methodResponse> whose single param is `v` (used bare by system.listMethods).
std::string EncodeResponse(const Value& v);
// xapi's envelopes: {Status: Success, Value: v} and {Status: Failure, ErrorDescription: [...]}.
std::string EncodeSuccess(const Value& v);
std::string EncodeFailure(const std::vector<std::string>& error_description);

// Parses a <methodCall>. kProtocol on malformed XML or a document that is not a call.
Result<MethodCall> DecodeCall(std::string_view xml);
// Parses a <methodResponse> and returns its single param. An XML-RPC <fault> is returned as a
// kXapi error whose description is ["XMLRPC_FAULT", faultCode, faultString].
Result<Value> DecodeResponse(std::string_view xml);
// Parses a standalone "<value>...</value>" fragment (a task's `result`). "" decodes to "".
Result<Value> DecodeValue(std::string_view xml);
// Unwraps xapi's Status envelope: the Value on Success; Error::Xapi(ErrorDescription) on Failure;
// kProtocol if `response` is not an envelope.
Result<Value> UnwrapEnvelope(const Value& response);

}  // namespace fruix::xenapi
