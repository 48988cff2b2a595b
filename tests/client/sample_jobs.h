// Test data for client tests: jobs, events and the fruixctl runner shared by the test files of
// tests/client. Header-only; plain values.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "lib/core/wall_time.h"
#include "proto/messages.h"

namespace fruix::client::testing {

inline WallTime At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

inline proto::PhaseInfo Phase(std::string name, std::string status, uint64_t ms = 0,
                              std::string detail = "") {
  proto::PhaseInfo p;
  p.phase = std::move(name);
  p.status = std::move(status);
  p.duration_ms = ms;
  p.detail = std::move(detail);
  p.started_at = At("2026-11-23T20:21:16.042Z");
  return p;
}

// A job of target freebsd-nightly in `state`.
inline proto::JobInfo Job(std::string id, std::string state) {
  proto::JobInfo j;
  j.job_id = std::move(id);
  j.state = std::move(state);
  j.target = "freebsd-nightly";
  j.pool = "lab";
  j.vm_uuid = "5f0c3e9a-1b2c-4d5e-8f90-0123456789ab";
  j.vdi_uuid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  j.image = "/srv/images/fruix-20261123.img";
  j.requested_by_uid = 1000;
  j.requested_by_user = "alice";
  j.created_at = At("2026-11-23T20:21:16.042Z");
  return j;
}

inline proto::JobInfo ReadyJob(std::string id) {
  proto::JobInfo j = Job(std::move(id), "ready");
  j.phase = "ssh";
  j.started_at = At("2026-11-23T20:21:16.047Z");
  j.finished_at = At("2026-11-23T20:22:18.042Z");
  j.duration_ms = 62000;
  j.ip = "10.0.0.57";
  j.console_log = "/var/lib/fruixd/logs/" + j.job_id + ".console.log";
  j.phases = {Phase("upload", "ok", 41000, "2 GiB, 212 data blocks"), Phase("boot", "ok", 11000),
              Phase("ssh", "ok", 4000)};
  j.report = {{"schema", "fruix.job-report/1"},
              {"ssh", {{"host_key_sha256", "SHA256:q7bPAd2mEm0DnxVw1yDh3hQ0xJv4Wn9m3c0E3Wc1l8Y"}}}};
  return j;
}

inline proto::JobInfo FailedJob(std::string id, std::string code = "console:fsck-abort") {
  proto::JobInfo j = Job(std::move(id), "failed");
  j.phase = "boot";
  j.duration_ms = 60995;
  j.phases = {Phase("upload", "ok", 41000, "2 GiB, 212 data blocks"),
              Phase("boot", "failed", 11000)};
  proto::FailureInfo f;
  f.phase = "boot";
  f.code = std::move(code);
  f.failure_class = "guest";
  f.message = "console signature fsck-abort";
  f.console_excerpt = {"** /dev/ada0p2", "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY."};
  j.failure = f;
  return j;
}

inline proto::JobEvent PhaseEvent(const std::string& job, proto::PhaseInfo p) {
  proto::JobEvent e;
  e.job_id = job;
  e.kind = "phase";
  e.phase = std::move(p);
  return e;
}

inline proto::JobEvent ProgressEvent(const std::string& job, uint64_t sent, uint64_t total) {
  proto::JobEvent e;
  e.job_id = job;
  e.kind = "progress";
  e.progress = proto::UploadProgressInfo{sent, total, 0.0, ""};
  return e;
}

inline proto::JobEvent ConsoleEvent(const std::string& job, uint64_t seq, std::string text) {
  proto::JobEvent e;
  e.job_id = job;
  e.kind = "console";
  e.console = proto::ConsoleLineInfo{seq, std::move(text), false};
  return e;
}

inline proto::JobEvent WaitingEvent(const std::string& job, std::string what) {
  proto::JobEvent e;
  e.job_id = job;
  e.kind = "waiting";
  e.waiting = std::move(what);
  return e;
}

inline proto::JobEvent MilestoneEvent(const std::string& job, std::string name, std::string line,
                                      uint64_t at_ms) {
  proto::JobEvent e;
  e.job_id = job;
  e.kind = "milestone";
  e.milestone = proto::MilestoneInfo{std::move(name), std::move(line), at_ms};
  return e;
}

inline proto::JobEvent EndEvent(proto::JobInfo job) {
  proto::JobEvent e;
  e.job_id = job.job_id;
  e.kind = "end";
  job.report = nullptr;
  e.end = std::move(job);
  return e;
}

}  // namespace fruix::client::testing
