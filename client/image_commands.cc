#include "client/image_commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/image/convert.h"
#include "lib/image/inspect.h"

namespace fruix::client {
namespace {

using nlohmann::json;

// "67108864 bytes (64 MiB)"
std::string Size(uint64_t n) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  std::string s = std::to_string(n) + " bytes";
  if (n < 1024) return s;
  double v = static_cast<double>(n);
  int unit = -1;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, " (%.4g %s)", v, kUnits[unit]);
  return s + buf;
}

json ReportJson(const image::ImageReport& r) {
  json problems = json::array();
  for (const auto& p : r.problems) {
    problems.push_back({{"field", p.field}, {"offset", p.offset}, {"message", p.message}});
  }
  json j = {
      {"image", r.path},
      {"format", std::string(image::SourceFormatName(r.format.format))},
      {"format_description", r.format.description},
      {"supported", r.format.supported()},
      {"file_size", r.file_size},
      {"virtual_size", r.virtual_size},
      {"usable", r.usable()},
      {"problems", problems},
      {"problems_omitted", r.problems_omitted},
      {"notes", r.notes},
  };
  if (!r.format.remedy.empty()) j["remedy"] = r.format.remedy;
  if (r.scanned) {
    j["block_size"] = r.block_size;
    j["block_count"] = r.block_count;
    j["allocated_blocks"] = r.allocated_blocks;
    j["allocated_bytes"] = r.allocated_bytes;
    j["hole_blocks"] = r.hole_blocks;
    j["zero_blocks"] = r.zero_blocks;
    j["stream_bytes"] = {{"vhd", r.vhd_stream_bytes}, {"raw", r.raw_stream_bytes}};
    j["allocation_map"] = r.allocation_map;
  }
  j["digest"] = r.digest ? json(*r.digest) : json(nullptr);
  return j;
}

void PrintReport(std::ostream& out, const image::ImageReport& r) {
  out << "image:         " << r.path << "\n";
  out << "format:        " << image::SourceFormatName(r.format.format) << ": "
      << r.format.description << "\n";
  if (r.format.supported()) out << "virtual size:  " << Size(r.virtual_size) << "\n";
  if (r.scanned) {
    out << "blocks:        " << r.block_count << " of 2 MiB: " << r.allocated_blocks
        << " with data, " << r.hole_blocks << " holes, " << r.zero_blocks << " all-zero\n";
    out << "data:          " << Size(r.allocated_bytes) << "\n";
    out << "upload:        ";
    if (r.vhd_stream_bytes > 0) out << r.vhd_stream_bytes << " bytes as VHD, ";
    out << r.raw_stream_bytes << " bytes as raw\n";
  }
  if (r.digest) out << "digest:        " << *r.digest << "\n";
  for (const auto& note : r.notes) out << "note:          " << note << "\n";
  if (!r.problems.empty()) {
    out << "problems:\n";
    for (const auto& p : r.problems) {
      out << "  " << (p.field == "format" ? p.message : p.ToString()) << "\n";
    }
    if (r.problems_omitted > 0) out << "  ... and " << r.problems_omitted << " more\n";
  }
  const uint64_t count = r.problems.size() + r.problems_omitted;
  if (count == 0) {
    out << "status:        usable\n";
  } else {
    out << "status:        UNUSABLE (" << count << (count == 1 ? " problem" : " problems") << ")\n";
  }
}

}  // namespace

Handler SetupImageCheck(CLI::App& app) {
  struct State {
    std::string image;
    image::InspectOptions options;
  };
  auto s = std::make_shared<State>();
  app.add_option("IMAGE", s->image, "Image file (raw, VHD, ...)")->required();
  app.add_flag("--digest", s->options.digest,
               "Also compute the content digest (reads every block with data)");
  return [s](const Context& ctx) {
    auto report = image::InspectImage(s->image, s->options);
    if (!report.ok()) return ReportError(ctx, report.error());
    if (ctx.json) {
      ctx.out << ReportJson(*report).dump(2) << "\n";
    } else {
      PrintReport(ctx.out, *report);
    }
    return report->usable() ? kExitOk : kExitFailed;
  };
}

Handler SetupImageConvert(CLI::App& app) {
  struct State {
    std::string image;
    std::string output;
    std::string format = "vhd";
    image::ConvertOptions options;
  };
  auto s = std::make_shared<State>();
  app.add_option("IMAGE", s->image, "Image file to convert")->required();
  app.add_option("OUT", s->output, "Output file (written whole, or not at all)")->required();
  app.add_option("--format", s->format, "Stream format: vhd (dynamic VHD), raw, raw-chunked")
      ->check(CLI::IsMember({"vhd", "raw", "raw-chunked"}))
      ->default_str("vhd");
  app.add_flag("--force", s->options.force, "Replace OUT if it exists");
  app.add_flag("--digest", s->options.digest, "Also compute the content digest");
  return [s](const Context& ctx) {
    auto format = image::ParseStreamFormat(s->format);
    if (!format.ok()) return ReportError(ctx, format.error());
    s->options.format = *format;
    auto result = image::ConvertImage(s->image, s->output, s->options);
    if (!result.ok()) return ReportError(ctx, result.error());
    if (ctx.json) {
      json j = {{"image", s->image},
                {"output", result->output},
                {"format", std::string(image::StreamFormatName(result->format))},
                {"bytes", result->bytes_written},
                {"disk_size", result->disk_size},
                {"data_blocks", result->data_blocks},
                {"allocation_map", result->allocation_map}};
      j["digest"] = result->digest ? json(*result->digest) : json(nullptr);
      ctx.out << j.dump(2) << "\n";
    } else {
      ctx.out << "wrote " << result->output << ": " << Size(result->bytes_written) << ", "
              << image::StreamFormatName(result->format) << " stream of a "
              << Size(result->disk_size) << " disk, " << result->data_blocks
              << " blocks with data\n";
      if (result->digest) ctx.out << "digest: " << *result->digest << "\n";
    }
    return kExitOk;
  };
}

}  // namespace fruix::client
