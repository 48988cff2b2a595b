// sim::fixture — loads a simulated pool from its JSON description (the format is documented in
// config/sim-fixture.md; config/sim-fixture.json is a complete sample).
//
// Top-level keys: credentials, pool, hosts, networks, srs, vdis, vms, faults. Objects are
// cross-referenced by uuid (refs are generated, "OpaqueRef:<uuid>", distinct from the uuids).
// Any key naming a schema field of the object's class sets that field (type-checked like an RPC
// argument); the special keys (address/master on hosts, backing_dir/hosts on SRs, sr/backing_file
// on VDIs, resident_on/vbds/vifs/guest on VMs) wire objects together. Keys starting with '_' are
// comments. Unknown keys are errors (kInvalidArgument naming the path), so typos do not pass
// silently. Every host gets a control-domain VM and host_metrics; every VM a VM_metrics; SRs get
// one PBD per host that sees them; VDIs a sparse backing file of virtual_size under the SR's
// backing directory (relative paths resolve against `state_dir`).
//
// Runs once, single-threaded, before the simulator serves requests.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/database.h"
#include "lib/sim/faults.h"
#include "lib/sim/sim_config.h"
#include "lib/sim/storage.h"

namespace fruix::sim {

struct LoadedFixture {
  struct Host {
    std::string ref;
    std::string uuid;
    std::string address;
    bool master = false;
  };
  std::vector<Host> hosts;
  // Guest VMs the fixture declares Running: (VM ref, host ref), to be given a domain.
  std::vector<std::pair<std::string, std::string>> running;
};

Result<LoadedFixture> LoadFixture(std::string_view json, const std::string& state_dir, Database& db,
                                  SimConfig& config, Storage& storage, FaultInjector& faults);

}  // namespace fruix::sim
