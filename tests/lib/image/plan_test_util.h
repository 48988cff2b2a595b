// Test support for stream plans: feed a vhd::StreamPlan to the simulator's model of xapi's
// vhd-tool (lib/sim/vhd_tool.h) as the request body, and write plans to files. Single-threaded.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "lib/sim/file_block_writer.h"
#include "lib/sim/vhd_tool.h"
#include "lib/vhd/stream_plan.h"

namespace fruix::image::testing {

// A sim::ByteReader over a plan's bytes (the HTTP body as vhd-tool would read it), delivering at
// most `max_read` bytes per Read like a socket.
class PlanByteReader : public sim::ByteReader {
 public:
  explicit PlanByteReader(const vhd::StreamPlan& plan, size_t max_read = 1 << 20)
      : reader_(plan), max_read_(max_read) {}
  Result<size_t> Read(void* buf, size_t n) override {
    return reader_.Read(std::span(static_cast<uint8_t*>(buf), std::min(n, max_read_)));
  }
  uint64_t position() const { return reader_.position(); }

 private:
  vhd::PlanReader reader_;
  size_t max_read_;
};

enum class Body { kVhd, kRaw, kChunked };

// Imports `plan` into the backing file `vdi` (of `vdi_size` bytes, created sparse if missing) the
// way xapi would for that body format, with Content-Length = plan.size(). Returns the error
// message, or "" on success.
inline std::string ImportPlan(const vhd::StreamPlan& plan, Body body, const std::string& vdi,
                              uint64_t vdi_size) {
  auto writer = sim::FileBlockWriter::Open(vdi, vdi_size);
  if (!writer.ok()) return writer.error().message();
  PlanByteReader in(plan);
  Result<sim::ImportStats> stats = body == Body::kVhd ? sim::ServeVhd(in, plan.size(), **writer, {})
                                   : body == Body::kRaw
                                       ? sim::ServeRaw(in, plan.size(), **writer, {})
                                       : sim::ServeChunked(in, **writer, {});
  if (!stats.ok()) return stats.error().message();
  if (in.position() != plan.size()) {
    return "the importer consumed " + std::to_string(in.position()) + " of " +
           std::to_string(plan.size()) + " bytes";
  }
  return "";
}

// Writes `plan` to `path` (created or truncated). Returns "" or the error message.
std::string WritePlanToFile(const vhd::StreamPlan& plan, const std::string& path);

}  // namespace fruix::image::testing
