#include "lib/sim/schema.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::DateTime;
using xenapi::Struct;
using xenapi::Value;

constexpr Qualifier kRW = Qualifier::kRW;
constexpr Qualifier kSRO = Qualifier::kStaticRO;
constexpr Qualifier kDRO = Qualifier::kDynamicRO;

// Field builders. Defaults are what xapi gives a fresh object of the class.
FieldSpec S(std::string n, Qualifier q = kSRO, std::string def = "") {
  return {std::move(n), FieldType::kString, q, Value(std::move(def)), "", FieldType::kString, ""};
}
FieldSpec I(std::string n, Qualifier q = kSRO, int64_t def = 0) {
  return {std::move(n), FieldType::kInt, q, Value(def), "", FieldType::kString, ""};
}
FieldSpec F(std::string n, Qualifier q = kSRO, double def = 0.0) {
  return {std::move(n), FieldType::kFloat, q, Value(def), "", FieldType::kString, ""};
}
FieldSpec B(std::string n, Qualifier q = kSRO, bool def = false) {
  return {std::move(n), FieldType::kBool, q, Value(def), "", FieldType::kString, ""};
}
FieldSpec D(std::string n, Qualifier q = kSRO) {
  return {std::move(n), FieldType::kDateTime, q, Value(DateTime{"19700101T00:00:00Z"}),
          "",           FieldType::kString,   ""};
}
FieldSpec E(std::string n, std::string enum_type, Qualifier q, std::string def) {
  return {std::move(n),         FieldType::kEnum,   q, Value(std::move(def)),
          std::move(enum_type), FieldType::kString, ""};
}
FieldSpec R(std::string n, std::string cls, Qualifier q = kSRO) {
  return {std::move(n),       FieldType::kRef, q, Value("OpaqueRef:NULL"), "",
          FieldType::kString, std::move(cls)};
}
FieldSpec SS(std::string n, Qualifier q = kSRO) {  // string set
  return {std::move(n), FieldType::kSet, q, Value(Array{}), "", FieldType::kString, ""};
}
FieldSpec RS(std::string n, std::string cls, Qualifier q = kDRO) {  // ref set
  return {std::move(n), FieldType::kSet, q, Value(Array{}), "", FieldType::kRef, std::move(cls)};
}
FieldSpec ES(std::string n, std::string enum_type, Qualifier q = kDRO) {  // enum set
  return {std::move(n),         FieldType::kSet,  q, Value(Array{}),
          std::move(enum_type), FieldType::kEnum, ""};
}
FieldSpec IS(std::string n, Qualifier q = kSRO) {  // int set
  return {std::move(n), FieldType::kSet, q, Value(Array{}), "", FieldType::kInt, ""};
}
FieldSpec M(std::string n, Qualifier q = kSRO) {  // (string -> string) map
  return {std::move(n), FieldType::kMap, q, Value(Struct{}), "", FieldType::kString, ""};
}
FieldSpec MR(std::string n, std::string cls, Qualifier q = kDRO) {  // (string -> ref) map
  return {std::move(n), FieldType::kMap, q, Value(Struct{}), "", FieldType::kRef, std::move(cls)};
}
FieldSpec ME(std::string n, std::string enum_type, Qualifier q = kDRO) {  // (string -> enum) map
  return {std::move(n),         FieldType::kMap,  q, Value(Struct{}),
          std::move(enum_type), FieldType::kEnum, ""};
}
// allowed_operations / current_operations, as xapi's `allowed_and_current_operations`.
std::vector<FieldSpec> Ops(const std::string& enum_type) {
  return {ES("allowed_operations", enum_type), ME("current_operations", enum_type)};
}
std::vector<FieldSpec> Cat(std::initializer_list<std::vector<FieldSpec>> parts) {
  std::vector<FieldSpec> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<ClassSpec> BuildClasses() {
  std::vector<ClassSpec> c;
  c.push_back({"session",
               {S("uuid", kDRO), R("this_host", "host", kDRO), R("this_user", "user", kDRO),
                D("last_active", kDRO), B("pool", kDRO), M("other_config", kRW),
                B("is_local_superuser", kDRO), R("subject", "subject", kDRO),
                D("validation_time", kDRO), S("auth_user_sid", kDRO), S("auth_user_name", kDRO),
                SS("rbac_permissions", kDRO), RS("tasks", "task"), R("parent", "session", kDRO),
                S("originator", kDRO), B("client_certificate", kDRO)}});
  c.push_back({"task", Cat({{S("uuid", kDRO), S("name_label", kDRO), S("name_description", kDRO)},
                            Ops("task_allowed_operations"),
                            {D("created", kDRO), D("finished", kDRO),
                             E("status", "task_status_type", kDRO, "pending"),
                             R("resident_on", "host", kDRO), F("progress", kDRO),
                             S("type", kDRO, "<none/>"), S("result", kDRO), SS("error_info", kDRO),
                             M("other_config", kRW), R("subtask_of", "task", kDRO),
                             RS("subtasks", "task"), S("backtrace", kDRO, "()")}})});
  c.push_back(
      {"pool",
       Cat({{S("uuid", kDRO),
             S("name_label", kRW),
             S("name_description", kRW),
             R("master", "host", kDRO),
             R("default_SR", "SR", kRW),
             R("suspend_image_SR", "SR", kRW),
             R("crash_dump_SR", "SR", kRW),
             M("other_config", kRW),
             B("ha_enabled", kDRO),
             M("ha_configuration", kDRO),
             SS("ha_statefiles", kDRO),
             I("ha_host_failures_to_tolerate", kDRO),
             I("ha_plan_exists_for", kDRO),
             B("ha_allow_overcommit", kRW),
             B("ha_overcommitted", kDRO),
             MR("blobs", "blob"),
             SS("tags", kRW),
             M("gui_config", kRW),
             M("health_check_config", kRW),
             S("wlb_url", kDRO),
             S("wlb_username", kDRO),
             B("wlb_enabled", kRW),
             B("wlb_verify_cert", kRW),
             B("redo_log_enabled", kDRO),
             R("redo_log_vdi", "VDI", kDRO),
             S("vswitch_controller", kDRO),
             M("restrictions", kDRO),
             RS("metadata_VDIs", "VDI"),
             S("ha_cluster_stack", kDRO, "xhad")},
            Ops("pool_allowed_operations"),
            {M("guest_agent_config", kDRO), M("cpu_info", kDRO), B("policy_no_vendor_device", kRW),
             B("live_patching_disabled", kRW), B("igmp_snooping_enabled", kDRO),
             S("uefi_certificates", kDRO), B("is_psr_pending", kDRO),
             B("tls_verification_enabled", kDRO), RS("repositories", "Repository"),
             B("client_certificate_auth_enabled", kDRO), S("client_certificate_auth_name", kDRO),
             S("repository_proxy_url", kDRO), S("repository_proxy_username", kDRO),
             R("repository_proxy_password", "secret", kDRO), B("migration_compression", kRW),
             B("coordinator_bias", kRW, true), M("recommendations", kDRO), M("license_server", kRW),
             B("limit_console_sessions", kRW)}})});
  c.push_back(
      {"host", Cat({{S("uuid", kDRO), S("name_label", kRW), S("name_description", kRW),
                     I("memory_overhead", kDRO)},
                    Ops("host_allowed_operations"),
                    {I("API_version_major", kDRO, 2),
                     I("API_version_minor", kDRO, 21),
                     S("API_version_vendor", kDRO, "XenSource"),
                     M("API_version_vendor_implementation", kDRO),
                     B("enabled", kDRO, true),
                     M("software_version", kDRO),
                     M("other_config", kRW),
                     SS("capabilities", kDRO),
                     M("cpu_configuration", kDRO),
                     S("sched_policy", kDRO, "credit"),
                     SS("supported_bootloaders", kDRO),
                     RS("resident_VMs", "VM"),
                     M("logging", kRW),
                     RS("PIFs", "PIF"),
                     R("suspend_image_sr", "SR", kRW),
                     R("crash_dump_sr", "SR", kRW),
                     RS("crashdumps", "host_crashdump"),
                     RS("patches", "host_patch"),
                     RS("updates", "pool_update"),
                     RS("PBDs", "PBD"),
                     RS("host_CPUs", "host_cpu"),
                     M("cpu_info", kDRO),
                     S("hostname", kRW),
                     S("address", kRW),
                     R("metrics", "host_metrics", kDRO),
                     M("license_params", kDRO),
                     SS("ha_statefiles", kDRO),
                     SS("ha_network_peers", kDRO),
                     MR("blobs", "blob"),
                     SS("tags", kRW),
                     S("external_auth_type", kDRO),
                     S("external_auth_service_name", kDRO),
                     M("external_auth_configuration", kDRO),
                     S("edition", kDRO, "xcp-ng"),
                     M("license_server", kDRO),
                     M("bios_strings", kDRO),
                     S("power_on_mode", kDRO),
                     M("power_on_config", kDRO),
                     R("local_cache_sr", "SR", kDRO),
                     M("chipset_info", kDRO),
                     RS("PCIs", "PCI"),
                     RS("PGPUs", "PGPU"),
                     RS("PUSBs", "PUSB"),
                     B("ssl_legacy", kDRO),
                     M("guest_VCPUs_params", kRW),
                     E("display", "host_display", kDRO, "enabled"),
                     IS("virtual_hardware_platform_versions", kDRO),
                     R("control_domain", "VM", kDRO),
                     RS("updates_requiring_reboot", "pool_update"),
                     RS("features", "Feature"),
                     S("iscsi_iqn", kDRO),
                     B("multipathing", kDRO),
                     S("uefi_certificates", kDRO),
                     RS("certificates", "Certificate"),
                     SS("editions", kDRO),
                     ES("pending_guidances", "update_guidances"),
                     B("tls_verification_enabled", kDRO),
                     D("last_software_update", kDRO),
                     B("https_only", kDRO),
                     D("latest_synced_updates_applied", kDRO),
                     E("numa_affinity_policy", "host_numa_affinity_policy", kDRO, "default_policy"),
                     ES("pending_guidances_recommended", "update_guidances"),
                     ES("pending_guidances_full", "update_guidances"),
                     S("last_update_hash", kDRO)}})});
  c.push_back({"host_metrics",
               {S("uuid", kDRO), I("memory_total", kDRO), I("memory_free", kDRO),
                B("live", kDRO, true), D("last_updated", kDRO), M("other_config", kRW)}});
  c.push_back(
      {"VM", Cat({{S("uuid", kDRO)},
                  Ops("vm_operations"),
                  {E("power_state", "vm_power_state", kDRO, "Halted"),
                   S("name_label", kRW),
                   S("name_description", kRW),
                   I("user_version", kRW, 1),
                   B("is_a_template", kRW),
                   B("is_default_template", kDRO),
                   R("suspend_VDI", "VDI", kDRO),
                   R("resident_on", "host", kDRO),
                   R("scheduled_to_be_resident_on", "host", kDRO),
                   R("affinity", "host", kRW),
                   I("memory_overhead", kDRO),
                   I("memory_target", kDRO),
                   I("memory_static_max", kRW),
                   I("memory_dynamic_max", kRW),
                   I("memory_dynamic_min", kRW),
                   I("memory_static_min", kRW),
                   M("VCPUs_params", kRW),
                   I("VCPUs_max", kRW, 1),
                   I("VCPUs_at_startup", kRW, 1),
                   E("actions_after_softreboot", "on_softreboot_behavior", kRW, "soft_reboot"),
                   E("actions_after_shutdown", "on_normal_exit", kRW, "destroy"),
                   E("actions_after_reboot", "on_normal_exit", kRW, "restart"),
                   E("actions_after_crash", "on_crash_behaviour", kRW, "restart"),
                   RS("consoles", "console"),
                   RS("VIFs", "VIF"),
                   RS("VBDs", "VBD"),
                   RS("VUSBs", "VUSB"),
                   RS("crash_dumps", "crashdump"),
                   RS("VTPMs", "VTPM"),
                   S("PV_bootloader", kRW),
                   S("PV_kernel", kRW),
                   S("PV_ramdisk", kRW),
                   S("PV_args", kRW),
                   S("PV_bootloader_args", kRW),
                   S("PV_legacy_args", kRW),
                   S("HVM_boot_policy", kRW),
                   M("HVM_boot_params", kRW),
                   F("HVM_shadow_multiplier", kRW, 1.0),
                   M("platform", kRW),
                   S("PCI_bus", kRW),
                   M("other_config", kRW),
                   I("domid", kDRO, -1),
                   S("domarch", kDRO),
                   M("last_boot_CPU_flags", kDRO),
                   B("is_control_domain", kDRO),
                   R("metrics", "VM_metrics", kDRO),
                   R("guest_metrics", "VM_guest_metrics", kDRO),
                   S("last_booted_record", kDRO),
                   S("recommendations", kRW),
                   M("xenstore_data", kRW),
                   B("ha_always_run", kDRO),
                   S("ha_restart_priority", kDRO),
                   B("is_a_snapshot", kDRO),
                   R("snapshot_of", "VM", kDRO),
                   RS("snapshots", "VM"),
                   D("snapshot_time", kDRO),
                   S("transportable_snapshot_id", kDRO),
                   MR("blobs", "blob"),
                   SS("tags", kRW),
                   M("blocked_operations", kRW),
                   M("snapshot_info", kDRO),
                   S("snapshot_metadata", kDRO),
                   R("parent", "VM", kDRO),
                   RS("children", "VM"),
                   M("bios_strings", kDRO),
                   R("protection_policy", "VMPP", kDRO),
                   B("is_snapshot_from_vmpp", kDRO),
                   R("snapshot_schedule", "VMSS", kDRO),
                   B("is_vmss_snapshot", kDRO),
                   R("appliance", "VM_appliance", kDRO),
                   I("start_delay", kDRO),
                   I("shutdown_delay", kDRO),
                   I("order", kDRO),
                   RS("VGPUs", "VGPU"),
                   RS("attached_PCIs", "PCI"),
                   R("suspend_SR", "SR", kRW),
                   I("version", kDRO),
                   S("generation_id", kDRO, "0:0"),
                   I("hardware_platform_version", kRW),
                   B("has_vendor_device", kDRO),
                   B("requires_reboot", kDRO),
                   S("reference_label", kDRO),
                   E("domain_type", "domain_type", kRW, "unspecified"),
                   M("NVRAM", kDRO),
                   ES("pending_guidances", "update_guidances")}})});
  c.push_back(
      {"VM_metrics",
       {S("uuid", kDRO), I("memory_actual", kDRO), I("VCPUs_number", kDRO),
        M("VCPUs_utilisation", kDRO), M("VCPUs_CPU", kDRO), M("VCPUs_params", kDRO),
        M("VCPUs_flags", kDRO), SS("state", kDRO), D("start_time", kDRO), D("install_time", kDRO),
        D("last_updated", kDRO), M("other_config", kRW), B("hvm", kDRO), B("nested_virt", kDRO),
        B("nomigrate", kDRO), E("current_domain_type", "domain_type", kDRO, "unspecified")}});
  c.push_back({"VM_guest_metrics",
               {S("uuid", kDRO), M("os_version", kDRO), S("netbios_name", kDRO),
                M("PV_drivers_version", kDRO), B("PV_drivers_up_to_date", kDRO), M("memory", kDRO),
                M("disks", kDRO), M("networks", kDRO), M("other", kDRO), D("last_updated", kDRO),
                M("other_config", kRW), B("live", kDRO),
                E("can_use_hotplug_vbd", "tristate_type", kDRO, "unspecified"),
                E("can_use_hotplug_vif", "tristate_type", kDRO, "unspecified"),
                B("PV_drivers_detected", kDRO), M("services", kDRO)}});
  c.push_back(
      {"VBD", Cat({{S("uuid", kDRO)},
                   Ops("vbd_operations"),
                   {R("VM", "VM", kSRO), R("VDI", "VDI", kSRO), S("device", kSRO),
                    S("userdevice", kRW), B("bootable", kRW), E("mode", "vbd_mode", kRW, "RW"),
                    E("type", "vbd_type", kRW, "Disk"), B("unpluggable", kRW, true),
                    B("storage_lock", kDRO), B("empty", kSRO), M("other_config", kRW),
                    B("currently_attached", kSRO), I("status_code", kDRO), S("status_detail", kDRO),
                    M("runtime_properties", kDRO), S("qos_algorithm_type", kRW),
                    M("qos_algorithm_params", kRW), SS("qos_supported_algorithms", kDRO),
                    R("metrics", "VBD_metrics", kDRO)}})});
  c.push_back(
      {"VIF", Cat({{S("uuid", kDRO)},
                   Ops("vif_operations"),
                   {S("device", kSRO),
                    R("network", "network", kSRO),
                    R("VM", "VM", kSRO),
                    S("MAC", kSRO),
                    I("MTU", kSRO),
                    M("other_config", kRW),
                    B("currently_attached", kSRO),
                    I("status_code", kDRO),
                    S("status_detail", kDRO),
                    M("runtime_properties", kDRO),
                    S("qos_algorithm_type", kRW),
                    M("qos_algorithm_params", kRW),
                    SS("qos_supported_algorithms", kDRO),
                    R("metrics", "VIF_metrics", kDRO),
                    B("MAC_autogenerated", kDRO),
                    E("locking_mode", "vif_locking_mode", kSRO, "network_default"),
                    SS("ipv4_allowed", kSRO),
                    SS("ipv6_allowed", kSRO),
                    E("ipv4_configuration_mode", "vif_ipv4_configuration_mode", kDRO, "None"),
                    SS("ipv4_addresses", kDRO),
                    S("ipv4_gateway", kDRO),
                    E("ipv6_configuration_mode", "vif_ipv6_configuration_mode", kDRO, "None"),
                    SS("ipv6_addresses", kDRO),
                    S("ipv6_gateway", kDRO),
                    R("reserved_pci", "PCI", kDRO)}})});
  c.push_back({"VDI", Cat({{S("uuid", kDRO), S("name_label", kRW), S("name_description", kRW)},
                           Ops("vdi_operations"),
                           {R("SR", "SR", kSRO),
                            RS("VBDs", "VBD"),
                            RS("crash_dumps", "crashdump"),
                            I("virtual_size", kSRO),
                            I("physical_utilisation", kDRO),
                            E("type", "vdi_type", kSRO, "user"),
                            B("sharable", kSRO),
                            B("read_only", kSRO),
                            M("other_config", kRW),
                            B("storage_lock", kDRO),
                            S("location", kDRO),
                            B("managed", kDRO, true),
                            B("missing", kDRO),
                            R("parent", "VDI", kDRO),
                            M("xenstore_data", kSRO),
                            M("sm_config", kSRO),
                            B("is_a_snapshot", kDRO),
                            R("snapshot_of", "VDI", kDRO),
                            RS("snapshots", "VDI"),
                            D("snapshot_time", kDRO),
                            SS("tags", kRW),
                            B("allow_caching", kDRO),
                            E("on_boot", "on_boot", kDRO, "persist"),
                            R("metadata_of_pool", "pool", kDRO),
                            B("metadata_latest", kDRO),
                            B("is_tools_iso", kDRO),
                            B("cbt_enabled", kDRO)}})});
  c.push_back(
      {"SR",
       Cat({{S("uuid", kDRO), S("name_label", kRW), S("name_description", kRW)},
            Ops("storage_operations"),
            {RS("VDIs", "VDI"), RS("PBDs", "PBD"), I("virtual_allocation", kDRO),
             I("physical_utilisation", kDRO), I("physical_size", kSRO), S("type", kSRO),
             S("content_type", kSRO), B("shared", kDRO), M("other_config", kRW), SS("tags", kRW),
             M("sm_config", kRW), MR("blobs", "blob"), B("local_cache_enabled", kDRO),
             R("introduced_by", "DR_task", kDRO), B("clustered", kDRO), B("is_tools_sr", kDRO)}})});
  c.push_back({"PBD",
               {S("uuid", kDRO), R("host", "host", kSRO), R("SR", "SR", kSRO),
                M("device_config", kSRO), B("currently_attached", kDRO), M("other_config", kRW)}});
  c.push_back(
      {"network",
       Cat({{S("uuid", kDRO), S("name_label", kRW), S("name_description", kRW)},
            Ops("network_operations"),
            {RS("VIFs", "VIF"), RS("PIFs", "PIF"), I("MTU", kRW, 1500), M("other_config", kRW),
             S("bridge", kSRO), B("managed", kSRO, true), MR("blobs", "blob"), SS("tags", kRW),
             E("default_locking_mode", "network_default_locking_mode", kDRO, "unlocked"),
             MR("assigned_ips", "VIF"), ES("purpose", "network_purpose")}})});
  c.push_back({"console",
               {S("uuid", kDRO), E("protocol", "console_protocol", kDRO, "vt100"),
                S("location", kDRO), R("VM", "VM", kDRO), M("other_config", kRW)}});
  return c;
}

const std::map<std::string, std::vector<std::string>, std::less<>>& Enums() {
  static const auto* enums = new std::map<std::string, std::vector<std::string>, std::less<>>{
      {"vm_power_state", {"Halted", "Paused", "Running", "Suspended"}},
      {"task_status_type", {"pending", "success", "failure", "cancelling", "cancelled"}},
      {"task_allowed_operations", {"cancel", "destroy"}},
      {"vbd_mode", {"RO", "RW"}},
      {"vbd_type", {"CD", "Disk", "Floppy"}},
      {"vdi_type",
       {"system", "user", "ephemeral", "suspend", "crashdump", "ha_statefile", "metadata",
        "redo_log", "rrd", "pvs_cache", "cbt_metadata"}},
      {"console_protocol", {"vt100", "rfb", "rdp"}},
      {"on_normal_exit", {"destroy", "restart"}},
      {"on_softreboot_behavior", {"soft_reboot", "destroy", "restart", "preserve"}},
      {"on_crash_behaviour",
       {"destroy", "coredump_and_destroy", "restart", "coredump_and_restart", "preserve",
        "rename_restart"}},
      {"domain_type", {"hvm", "pv", "pv_in_pvh", "pvh", "unspecified"}},
      {"vif_locking_mode", {"network_default", "locked", "unlocked", "disabled"}},
      {"vif_ipv4_configuration_mode", {"None", "Static"}},
      {"vif_ipv6_configuration_mode", {"None", "Static"}},
      {"network_default_locking_mode", {"unlocked", "disabled"}},
      {"network_purpose", {"nbd", "insecure_nbd"}},
      {"on_boot", {"reset", "persist"}},
      {"tristate_type", {"yes", "no", "unspecified"}},
      {"host_display", {"enabled", "disable_on_reboot", "disabled", "enable_on_reboot"}},
      {"host_numa_affinity_policy", {"any", "best_effort", "default_policy"}},
      {"update_guidances",
       {"reboot_host", "reboot_host_on_livepatch_failure",
        "reboot_host_on_kernel_livepatch_failure", "reboot_host_on_xen_livepatch_failure",
        "restart_toolstack", "restart_device_model", "restart_vm"}},
      {"vm_operations",
       {"snapshot",
        "clone",
        "copy",
        "create_template",
        "revert",
        "checkpoint",
        "snapshot_with_quiesce",
        "provision",
        "start",
        "start_on",
        "pause",
        "unpause",
        "clean_shutdown",
        "clean_reboot",
        "hard_shutdown",
        "power_state_reset",
        "hard_reboot",
        "suspend",
        "csvm",
        "resume",
        "resume_on",
        "pool_migrate",
        "migrate_send",
        "get_boot_record",
        "send_sysrq",
        "send_trigger",
        "query_services",
        "shutdown",
        "call_plugin",
        "changing_memory_live",
        "awaiting_memory_live",
        "changing_dynamic_range",
        "changing_static_range",
        "changing_memory_limits",
        "changing_shadow_memory",
        "changing_shadow_memory_live",
        "changing_VCPUs",
        "changing_VCPUs_live",
        "changing_NVRAM",
        "assert_operation_valid",
        "data_source_op",
        "update_allowed_operations",
        "make_into_template",
        "import",
        "export",
        "metadata_export",
        "reverting",
        "destroy",
        "create_vtpm",
        "sysprep"}},
      {"vbd_operations",
       {"attach", "eject", "insert", "plug", "unplug", "unplug_force", "pause", "unpause"}},
      {"vif_operations", {"attach", "plug", "unplug", "unplug_force"}},
      {"vdi_operations",
       {"clone", "copy", "resize", "resize_online", "snapshot", "mirror", "destroy", "forget",
        "update", "force_unlock", "generate_config", "enable_cbt", "disable_cbt", "data_destroy",
        "list_changed_blocks", "set_on_boot", "blocked"}},
      {"storage_operations",
       {"scan",
        "destroy",
        "forget",
        "plug",
        "unplug",
        "update",
        "vdi_create",
        "vdi_introduce",
        "vdi_destroy",
        "vdi_resize",
        "vdi_clone",
        "vdi_snapshot",
        "vdi_mirror",
        "vdi_enable_cbt",
        "vdi_disable_cbt",
        "vdi_data_destroy",
        "vdi_list_changed_blocks",
        "vdi_set_on_boot",
        "pbd_create",
        "pbd_destroy"}},
      {"network_operations", {"attaching"}},
      {"host_allowed_operations",
       {"provision", "evacuate", "shutdown", "reboot", "power_on", "vm_start", "vm_resume",
        "vm_migrate", "apply_updates", "enable"}},
      {"pool_allowed_operations",
       {"ha_enable", "ha_disable", "cluster_create", "designate_new_master",
        "configure_repositories", "sync_updates", "sync_bundle", "get_updates", "apply_updates",
        "tls_verification_enable", "cert_refresh", "exchange_certificates_on_join",
        "exchange_ca_certificates_on_join", "copy_primary_host_certs", "eject"}},
  };
  return *enums;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

Error TypeError(std::string_view type, const Value& v) {
  return Error::Xapi("INTERNAL_ERROR", {"Failure(\"Expected " + std::string(type) + ", got '" +
                                        v.DebugString(80) + "'\")"});
}

}  // namespace

const FieldSpec* ClassSpec::Find(std::string_view field) const {
  for (const auto& f : fields) {
    if (f.name == field) return &f;
  }
  return nullptr;
}

const std::vector<ClassSpec>& AllClasses() {
  static const auto* classes = new std::vector<ClassSpec>(BuildClasses());
  return *classes;
}

const ClassSpec* FindClass(std::string_view wire_name) {
  for (const auto& c : AllClasses()) {
    if (c.name == wire_name) return &c;
  }
  return nullptr;
}

std::string EventClassName(std::string_view wire_name) { return Lower(wire_name); }

Result<std::string> CanonicalEnum(std::string_view enum_type, std::string_view value) {
  auto it = Enums().find(enum_type);
  if (it != Enums().end()) {
    std::string want = Lower(value);
    for (const auto& v : it->second) {
      if (Lower(v) == want) return v;
    }
  }
  return Error::Xapi("INTERNAL_ERROR", {"Rpc.Runtime_error(\"Enum[" + std::string(enum_type) +
                                        "]\", " + std::string(value) + ")"});
}

Result<Value> CoerceScalar(FieldType type, std::string_view enum_type, const Value& v) {
  switch (type) {
    case FieldType::kString:
    case FieldType::kRef:
      if (!v.is_string()) return TypeError(type == FieldType::kRef ? "ref" : "string", v);
      return v;
    case FieldType::kInt: {
      auto i = v.ToInt();
      if (!i.ok() || v.kind() == Value::Kind::kDouble) return TypeError("int64", v);
      return Value(*i);
    }
    case FieldType::kFloat: {
      if (v.kind() == Value::Kind::kDouble) return v;
      if (v.kind() == Value::Kind::kInt) return Value(static_cast<double>(v.int64()));
      if (v.kind() == Value::Kind::kInt32) return Value(static_cast<double>(v.int32()));
      if (v.is_string()) {
        auto d = v.ToDouble();
        if (d.ok()) return Value(*d);
      }
      return TypeError("float", v);
    }
    case FieldType::kBool:
      if (v.kind() != Value::Kind::kBool) return TypeError("bool", v);
      return v;
    case FieldType::kDateTime:
      if (v.kind() == Value::Kind::kDateTime) return v;
      if (v.is_string()) return Value(xenapi::DateTime{v.string()});
      return TypeError("datetime", v);
    case FieldType::kEnum: {
      if (!v.is_string()) return TypeError("enum", v);
      FRUIX_ASSIGN_OR_RETURN(std::string canon, CanonicalEnum(enum_type, v.string()));
      return Value(canon);
    }
    case FieldType::kSet:
    case FieldType::kMap:
      break;
  }
  return TypeError("scalar", v);
}

Result<Value> CoerceToField(const FieldSpec& field, const Value& v) {
  if (field.type == FieldType::kSet) {
    if (!v.is_array()) return TypeError("set", v);
    Array out;
    for (const auto& e : v.array()) {
      FRUIX_ASSIGN_OR_RETURN(Value c, CoerceScalar(field.elem, field.enum_type, e));
      out.push_back(std::move(c));
    }
    return Value(std::move(out));
  }
  if (field.type == FieldType::kMap) {
    if (!v.is_struct()) return TypeError("map", v);
    Struct out;
    for (const auto& [k, e] : v.structure()) {
      FRUIX_ASSIGN_OR_RETURN(Value c, CoerceScalar(field.elem, field.enum_type, e));
      out.Set(k, std::move(c));
    }
    return Value(std::move(out));
  }
  return CoerceScalar(field.type, field.enum_type, v);
}

}  // namespace fruix::sim
