// daemon job views — the conversions between the three shapes of a job: the runner's report
// (job::JobReport), the stored row (store::JobRow + PhaseRow) and what the protocol shows
// (proto::JobInfo, JobEvent members). Pure functions; any thread.
#pragma once

#include <vector>

#include "lib/console/console_recorder.h"
#include "lib/job/report.h"
#include "lib/store/job_store.h"
#include "lib/upload/importer.h"
#include "proto/messages.h"

namespace fruix::daemon {

// The protocol's view of a stored job; the report (parsed from report_json) only when asked.
proto::JobInfo InfoFromRow(const store::JobRow& row, const std::vector<store::PhaseRow>& phases,
                           bool with_report);

// Copies the report's facts into `row`: phase, failure, image digest, started/finished times,
// report_json, and the state ("running" until the report is terminal, then ready / failed /
// cancelled).
void ApplyReport(const job::JobReport& report, store::JobRow* row);
std::vector<store::PhaseRow> PhaseRows(const job::JobReport& report);

proto::PhaseInfo PhaseInfoOf(const job::PhaseRecord& record);
proto::UploadProgressInfo ProgressInfoOf(const upload::ImportProgress& progress);
proto::ConsoleLineInfo ConsoleLineInfoOf(const console::ConsoleLine& line, bool partial);
proto::MilestoneInfo MilestoneInfoOf(const job::MilestoneRecord& milestone);

}  // namespace fruix::daemon
