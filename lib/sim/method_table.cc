#include "lib/sim/method_table.h"

namespace fruix::sim {

void MethodTable::Add(MethodSpec spec) {
  std::string alt = spec.name;
  size_t dot = alt.find('.');
  if (dot != std::string::npos) {
    alt[dot] = '_';
    alternatives_[alt] = spec.name;
  }
  std::string name = spec.name;
  methods_[name] = std::move(spec);
}

const MethodSpec* MethodTable::Find(std::string_view name, bool allow_alternative) const {
  auto it = methods_.find(name);
  if (it != methods_.end()) return &it->second;
  if (!allow_alternative) return nullptr;
  auto alt = alternatives_.find(name);
  if (alt == alternatives_.end()) return nullptr;
  return &methods_.find(alt->second)->second;
}

std::vector<std::string> MethodTable::Names() const {
  std::vector<std::string> out;
  out.reserve(methods_.size());
  for (const auto& [name, spec] : methods_) out.push_back(name);
  return out;
}

}  // namespace fruix::sim
