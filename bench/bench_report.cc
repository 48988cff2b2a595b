#include "bench/bench_report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace fruix::bench {
namespace {

constexpr double kRssLimitMib = 64;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string SizeText(uint64_t bytes) {
  if (bytes % (1024ULL * 1024 * 1024) == 0) return std::to_string(bytes >> 30) + " GiB";
  return Fmt("%.0f MiB", Mib(bytes));
}

std::string Pad(std::string s, size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

nlohmann::json CaseJson(const GeneratedImage& image) {
  return {{"name", image.spec.name},
          {"kind", std::string(ImageKindName(image.spec.kind))},
          {"file_size", image.file_size},
          {"allocated_bytes", image.allocated_bytes},
          {"data_fraction", image.spec.kind == ImageKind::kDense ? 1.0 : image.spec.data_fraction},
          {"data_extents", image.layout.extents.size()},
          {"data_bytes", image.layout.data_bytes},
          {"data_blocks", image.layout.data_blocks},
          {"disk_blocks", image.layout.disk_blocks},
          {"vhd_bytes", DynamicVhdBytes(image.file_size, image.layout.data_blocks)},
          {"reused", image.reused}};
}

nlohmann::json RowJson(const Row& row, const Report& report) {
  nlohmann::json runs = nlohmann::json::array();
  for (const Sample& s : row.samples) {
    runs.push_back({{"seconds", s.seconds},
                    {"bytes_on_wire", s.bytes_on_wire},
                    {"peak_rss_kib", s.peak_rss_kib},
                    {"sim_cpu_seconds", s.sim_cpu_seconds},
                    {"start_s", s.start_s},
                    {"first_byte_s", s.first_byte_s},
                    {"sent_s", s.sent_s}});
  }
  const double median = row.MedianSeconds();
  nlohmann::json j = {
      {"case", row.case_name},
      {"contender", std::string(ContenderName(row.contender))},
      {"format", std::string(ContenderFormat(row.contender))},
      {"median_s", median},
      {"bytes_on_wire", row.BytesOnWire()},
      {"bytes_consistent", row.BytesConsistent()},
      {"wire_mib_s", median > 0 ? Mib(row.BytesOnWire()) / median : 0},
      {"disk_mib_s", median > 0 ? Mib(row.image_size) / median : 0},
      {"peak_rss_kib", row.PeakRssKib()},
      {"runs", runs},
  };
  if (row.contender == Contender::kFruixd || row.contender == Contender::kFruixdRaw) {
    const Row* qemu = report.Find(row.case_name, Contender::kQemuCurl);
    const Row* curl = report.Find(row.case_name, Contender::kCurlRaw);
    if (qemu != nullptr && qemu->MedianSeconds() > 0) {
      j["ratio_vs_qemu_img_curl"] = median / qemu->MedianSeconds();
    }
    if (curl != nullptr && curl->MedianSeconds() > 0) {
      j["ratio_vs_curl_raw"] = median / curl->MedianSeconds();
    }
  }
  return j;
}

}  // namespace

double Row::MedianSeconds() const { return MedianOf(&Sample::seconds); }

double Row::MedianOf(double Sample::*field) const {
  std::vector<double> v;
  for (const Sample& s : samples) v.push_back(s.*field);
  return Median(std::move(v));
}

uint64_t Row::BytesOnWire() const { return samples.empty() ? 0 : samples.front().bytes_on_wire; }

bool Row::BytesConsistent() const {
  return std::all_of(samples.begin(), samples.end(),
                     [&](const Sample& s) { return s.bytes_on_wire == BytesOnWire(); });
}

uint64_t Row::PeakRssKib() const {
  uint64_t peak = 0;
  for (const Sample& s : samples) peak = std::max(peak, s.peak_rss_kib);
  return peak;
}

const Row* Report::Find(const std::string& case_name, Contender contender) const {
  for (const Row& row : rows) {
    if (row.case_name == case_name && row.contender == contender && !row.samples.empty()) {
      return &row;
    }
  }
  return nullptr;
}

void Report::EvaluateTargets() {
  targets.clear();
  auto ratio = [&](const std::string& case_name, Contender ours, Contender theirs, double limit) {
    Target t{case_name + ": " + std::string(ContenderName(ours)) + " / " +
                 std::string(ContenderName(theirs)),
             0,
             limit,
             "x",
             false,
             false};
    const Row* a = Find(case_name, ours);
    const Row* b = Find(case_name, theirs);
    if (a != nullptr && b != nullptr && b->MedianSeconds() > 0) {
      t.value = a->MedianSeconds() / b->MedianSeconds();
      t.measured = true;
      t.pass = t.value <= limit;
    }
    targets.push_back(t);
  };
  ratio("dense", Contender::kFruixd, Contender::kQemuCurl, 0.30);
  ratio("sparse", Contender::kFruixd, Contender::kQemuCurl, 0.45);
  ratio("zeros", Contender::kFruixd, Contender::kQemuCurl, 0.75);
  ratio("dense", Contender::kFruixdRaw, Contender::kCurlRaw, 1.15);

  Target rss{"peak RSS of fruixd, " + SizeText(config.size) + " cases",
             0,
             kRssLimitMib,
             "MiB",
             false,
             false};
  for (const Row& row : rows) {
    if (row.contender != Contender::kFruixd && row.contender != Contender::kFruixdRaw) continue;
    if (row.samples.empty()) continue;
    rss.measured = true;
    rss.value = std::max(rss.value, static_cast<double>(row.PeakRssKib()) / 1024.0);
  }
  rss.pass = rss.measured && rss.value <= kRssLimitMib;
  targets.push_back(rss);

  Target big{"peak RSS of fruixd, " + SizeText(config.big_size) + " sparse",
             0,
             kRssLimitMib,
             "MiB",
             false,
             false};
  if (big_row && !big_row->samples.empty()) {
    big.measured = true;
    big.value = static_cast<double>(big_row->PeakRssKib()) / 1024.0;
    big.pass = big.value <= kRssLimitMib;
  }
  targets.push_back(big);
}

bool Report::AllPass() const {
  return !targets.empty() &&
         std::all_of(targets.begin(), targets.end(), [](const Target& t) { return t.pass; });
}

void PrintReport(const Report& report, std::ostream& out) {
  const BenchConfig& c = report.config;
  out << "\nfruix-upload-bench: " << SizeText(c.size) << " images, " << c.runs
      << (c.runs == 1 ? " run" : " runs") << " per contender (median shown), PUT /import_raw_vdi"
      << " into fruix-xapi-sim over plain HTTP on loopback.\n"
      << "fruixd: upload::Importer, zero_fill=" << c.zero_fill
      << " (what a first import into a fresh VDI sends; the baselines also send only the image)"
      << ", force, sendfile. Times run from start until the import task succeeded.\n\n";
  for (const GeneratedImage& image : report.cases) {
    out << "  " << Pad(image.spec.name, 7) << " " << SizeText(image.file_size) << ", "
        << Fmt("%.1f", Mib(image.layout.data_bytes)) << " MiB of data in "
        << image.layout.data_blocks << " of " << image.layout.disk_blocks << " 2 MiB blocks, "
        << Fmt("%.1f", Mib(image.allocated_bytes)) << " MiB allocated on disk"
        << (image.reused ? " (kept from an earlier run)" : "") << "\n";
  }
  out << "\n"
      << Pad("case", 8) << Pad("contender", 15) << Pad("fmt", 5) << Pad("median s", 10, true)
      << Pad("min s", 8, true) << Pad("max s", 8, true) << Pad("bytes on wire", 15, true)
      << Pad("disk MiB/s", 12, true) << Pad("wire MiB/s", 12, true) << Pad("peak RSS MiB", 14, true)
      << Pad("sim CPU s", 11, true) << Pad("vs qemu+curl", 14, true) << Pad("vs curl raw", 13, true)
      << "\n";
  auto print_row = [&](const Row& row) {
    std::vector<double> t;
    for (const Sample& s : row.samples) t.push_back(s.seconds);
    const double median = row.MedianSeconds();
    std::string vs_qemu = "", vs_curl = "";
    if (row.contender == Contender::kFruixd || row.contender == Contender::kFruixdRaw) {
      if (const Row* q = report.Find(row.case_name, Contender::kQemuCurl)) {
        vs_qemu = Fmt("%.2fx", median / q->MedianSeconds());
      }
      if (const Row* r = report.Find(row.case_name, Contender::kCurlRaw)) {
        vs_curl = Fmt("%.2fx", median / r->MedianSeconds());
      }
    }
    out << Pad(row.case_name, 8) << Pad(std::string(ContenderName(row.contender)), 15)
        << Pad(std::string(ContenderFormat(row.contender)), 5) << Pad(Fmt("%.2f", median), 10, true)
        << Pad(Fmt("%.2f", *std::min_element(t.begin(), t.end())), 8, true)
        << Pad(Fmt("%.2f", *std::max_element(t.begin(), t.end())), 8, true)
        << Pad(std::to_string(row.BytesOnWire()) + (row.BytesConsistent() ? "" : "*"), 15, true)
        << Pad(Fmt("%.0f", Mib(row.image_size) / median), 12, true)
        << Pad(Fmt("%.0f", Mib(row.BytesOnWire()) / median), 12, true)
        << Pad(Fmt("%.1f", static_cast<double>(row.PeakRssKib()) / 1024.0), 14, true)
        << Pad(Fmt("%.2f", row.MedianOf(&Sample::sim_cpu_seconds)), 11, true)
        << Pad(vs_qemu, 14, true) << Pad(vs_curl, 13, true) << "\n";
  };
  for (const Row& row : report.rows) {
    if (!row.samples.empty()) print_row(row);
  }
  if (report.big_row && !report.big_row->samples.empty()) print_row(*report.big_row);

  out << "\nPhases (median s from start): fruixd = child started and logged in / first body byte"
         " sent (preflight, scan, digest done) / last body byte sent / task succeeded;"
         " qemu-img+curl = convert done / curl done / task succeeded.\n";
  for (const Row& row : report.rows) {
    if (row.samples.empty() || row.contender == Contender::kCurlRaw) continue;
    out << "  " << Pad(row.case_name, 8) << Pad(std::string(ContenderName(row.contender)), 15);
    if (row.contender != Contender::kQemuCurl) {
      out << Fmt("%.2f", row.MedianOf(&Sample::start_s)) << " / ";
    }
    out << Fmt("%.2f", row.MedianOf(&Sample::first_byte_s)) << " / "
        << Fmt("%.2f", row.MedianOf(&Sample::sent_s)) << " / " << Fmt("%.2f", row.MedianSeconds())
        << "\n";
  }
  if (report.planning.size() == report.cases.size() && !report.planning.empty()) {
    out << "\nfruixd's planning pass alone (PlanImageStream), in the bench process: Importer plans\n"
           "with the zero test only before the first byte, and hashes (the digest) while sending,\n"
           "unless a skip of identical content is possible:\n";
    for (size_t i = 0; i < report.cases.size(); ++i) {
      const PlanTimes& p = report.planning[i];
      out << "  " << Pad(report.cases[i].spec.name, 8) << "with digest "
          << Fmt("%.2f s", p.with_digest_s) << ", " << Fmt("%.0f", Mib(p.with_digest_bytes_read))
          << " MiB read;  zero test only " << Fmt("%.2f s", p.zero_test_only_s) << ", "
          << Fmt("%.0f", Mib(p.zero_test_only_bytes_read)) << " MiB read\n";
    }
  }
  if (report.big_case) {
    const GeneratedImage& b = *report.big_case;
    out << "\n"
        << b.spec.name << ": " << SizeText(b.file_size) << " sparse image, "
        << Fmt("%.0f", b.spec.data_fraction * 100) << " % data ("
        << Fmt("%.0f", Mib(b.layout.data_bytes)) << " MiB in " << b.layout.extents.size()
        << " scattered 1 MiB extents, " << b.layout.data_blocks
        << " 2 MiB blocks), imported once by fruixd.\n";
  }
  out << "\nLoad average (1/5/15 min) before the timed runs: " << report.loadavg_start
      << "; after: " << report.loadavg_end << "\n";
  out << "\nTargets (issue 3, item 8):\n";
  for (const Target& t : report.targets) {
    out << "  " << (t.measured ? (t.pass ? "PASS" : "FAIL") : "n/a ") << "  " << Pad(t.name, 42)
        << (t.measured ? Fmt(t.unit == "x" ? "%.2f" : "%.1f", t.value) : std::string("-"))
        << (t.unit == "x" ? "x" : " MiB") << "  (limit " << Fmt("%.2f", t.limit)
        << (t.unit == "x" ? "x" : " MiB") << ")\n";
  }
  out << (report.AllPass() ? "\nAll targets met.\n" : "\nSome targets missed.\n");
}

std::string ReportJson(const Report& report) {
  const BenchConfig& c = report.config;
  nlohmann::json j;
  j["config"] = {{"size", c.size},           {"runs", c.runs},
                 {"quick", c.quick},         {"data_fraction", c.fraction},
                 {"big_size", c.big_size},   {"big_data_fraction", c.big_fraction},
                 {"zero_fill", c.zero_fill}, {"transport", "http (plain, loopback)"}};
  j["loadavg_start"] = report.loadavg_start;
  j["loadavg_end"] = report.loadavg_end;
  j["cases"] = nlohmann::json::array();
  for (size_t i = 0; i < report.cases.size(); ++i) {
    nlohmann::json entry = CaseJson(report.cases[i]);
    if (i < report.planning.size()) {
      const PlanTimes& p = report.planning[i];
      entry["plan_with_digest_s"] = p.with_digest_s;
      entry["plan_with_digest_bytes_read"] = p.with_digest_bytes_read;
      entry["plan_zero_test_only_s"] = p.zero_test_only_s;
      entry["plan_zero_test_only_bytes_read"] = p.zero_test_only_bytes_read;
    }
    j["cases"].push_back(std::move(entry));
  }
  j["rows"] = nlohmann::json::array();
  for (const Row& row : report.rows) {
    if (!row.samples.empty()) j["rows"].push_back(RowJson(row, report));
  }
  if (report.big_case) j["big_case"] = CaseJson(*report.big_case);
  if (report.big_row && !report.big_row->samples.empty()) {
    j["big_row"] = RowJson(*report.big_row, report);
  }
  j["targets"] = nlohmann::json::array();
  for (const Target& t : report.targets) {
    j["targets"].push_back({{"name", t.name},
                            {"value", t.value},
                            {"limit", t.limit},
                            {"unit", t.unit},
                            {"measured", t.measured},
                            {"pass", t.pass}});
  }
  j["pass"] = report.AllPass();
  return j.dump(2) + "\n";
}

}  // namespace fruix::bench
