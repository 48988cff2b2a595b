#include "lib/sim/database.h"

#include <cstdlib>

#include "lib/core/ids.h"

namespace fruix::sim {
namespace {

std::string UuidKey(std::string_view cls, std::string_view uuid) {
  std::string k(cls);
  k += '\n';
  k += uuid;
  return k;
}

const std::string& UuidOf(const xenapi::Struct& rec) {
  static const std::string kEmpty;
  const xenapi::Value* v = rec.Find("uuid");
  return v != nullptr && v->is_string() ? v->string() : kEmpty;
}

}  // namespace

const ObjectRow* Database::Txn::Find(std::string_view cls, std::string_view ref) const {
  auto t = db_->tables_.find(cls);
  if (t == db_->tables_.end()) return nullptr;
  auto r = t->second.find(ref);
  return r == t->second.end() ? nullptr : &r->second;
}

Result<const ObjectRow*> Database::Txn::Get(std::string_view cls, std::string_view ref) const {
  const ObjectRow* row = Find(cls, ref);
  if (row == nullptr) return Error::Xapi("HANDLE_INVALID", {std::string(cls), std::string(ref)});
  return row;
}

Result<std::string> Database::Txn::RefOfUuid(std::string_view cls, std::string_view uuid) const {
  auto it = db_->ref_of_uuid_.find(UuidKey(cls, uuid));
  if (it == db_->ref_of_uuid_.end()) {
    return Error::Xapi("UUID_INVALID", {std::string(cls), std::string(uuid)});
  }
  return it->second;
}

std::string Database::Txn::ClassOf(std::string_view ref) const {
  auto it = db_->class_of_ref_.find(std::string(ref));
  return it == db_->class_of_ref_.end() ? std::string() : it->second;
}

std::vector<const ObjectRow*> Database::Txn::All(std::string_view cls) const {
  std::vector<const ObjectRow*> out;
  auto t = db_->tables_.find(cls);
  if (t == db_->tables_.end()) return out;
  out.reserve(t->second.size());
  for (const auto& [ref, row] : t->second) out.push_back(&row);
  return out;
}

size_t Database::Txn::Count(std::string_view cls) const {
  auto t = db_->tables_.find(cls);
  return t == db_->tables_.end() ? 0 : t->second.size();
}

uint64_t Database::Txn::generation() const { return db_->generation_; }

const std::deque<DeletedRow>& Database::Txn::deleted() const { return db_->deleted_; }

ObjectRow* Database::Txn::MutableRow(std::string_view cls, std::string_view ref) {
  if (!writable_) std::abort();
  auto t = db_->tables_.find(cls);
  if (t == db_->tables_.end()) return nullptr;
  auto r = t->second.find(ref);
  return r == t->second.end() ? nullptr : &r->second;
}

std::string Database::Txn::Create(std::string_view cls, xenapi::Struct fields, std::string ref) {
  if (!writable_) std::abort();
  const ClassSpec* spec = FindClass(cls);
  if (spec == nullptr) std::abort();
  ObjectRow row;
  row.cls = spec;
  row.ref = ref.empty() ? "OpaqueRef:" + NewUuidString() : std::move(ref);
  for (const auto& f : spec->fields) row.record.Set(f.name, f.default_value);
  for (auto& [k, v] : fields) {
    xenapi::Value* slot = row.record.Find(k);
    if (slot == nullptr) std::abort();  // a field the schema does not know: a bug
    *slot = std::move(v);
  }
  xenapi::Value* uuid = row.record.Find("uuid");
  if (uuid != nullptr && (!uuid->is_string() || uuid->string().empty())) {
    *uuid = NewUuidString();
  }
  row.created = row.modified = ++db_->generation_;
  db_->class_of_ref_[row.ref] = spec->name;
  db_->ref_of_uuid_[UuidKey(spec->name, UuidOf(row.record))] = row.ref;
  std::string out = row.ref;
  db_->tables_[spec->name].emplace(row.ref, std::move(row));
  return out;
}

Result<void> Database::Txn::Set(std::string_view cls, std::string_view ref, std::string_view field,
                                xenapi::Value v) {
  xenapi::Struct one;
  one.Set(std::string(field), std::move(v));
  return SetMany(cls, ref, one);
}

Result<void> Database::Txn::SetMany(std::string_view cls, std::string_view ref,
                                    const xenapi::Struct& fields) {
  ObjectRow* row = MutableRow(cls, ref);
  if (row == nullptr) return Error::Xapi("HANDLE_INVALID", {std::string(cls), std::string(ref)});
  for (const auto& [k, v] : fields) {
    xenapi::Value* slot = row->record.Find(k);
    if (slot == nullptr) std::abort();
    if (k == "uuid") {
      db_->ref_of_uuid_.erase(UuidKey(cls, UuidOf(row->record)));
      db_->ref_of_uuid_[UuidKey(cls, v.is_string() ? v.string() : "")] = row->ref;
    }
    *slot = v;
  }
  row->modified = ++db_->generation_;
  return Ok();
}

Result<void> Database::Txn::Destroy(std::string_view cls, std::string_view ref) {
  ObjectRow* row = MutableRow(cls, ref);
  if (row == nullptr) return Error::Xapi("HANDLE_INVALID", {std::string(cls), std::string(ref)});
  DeletedRow d{std::string(cls), row->ref, row->created, row->modified, ++db_->generation_};
  db_->ref_of_uuid_.erase(UuidKey(cls, UuidOf(row->record)));
  db_->class_of_ref_.erase(row->ref);
  db_->tables_.find(cls)->second.erase(row->ref);
  db_->deleted_.push_back(std::move(d));
  if (db_->deleted_.size() > kMaxDeleted) db_->deleted_.pop_front();
  return Ok();
}

Result<void> Database::Txn::Touch(std::string_view cls, std::string_view ref) {
  ObjectRow* row = MutableRow(cls, ref);
  if (row == nullptr) return Error::Xapi("HANDLE_INVALID", {std::string(cls), std::string(ref)});
  row->modified = ++db_->generation_;
  return Ok();
}

Result<void> Database::Txn::AddToSet(std::string_view cls, std::string_view ref,
                                     std::string_view field, const xenapi::Value& member) {
  ObjectRow* row = MutableRow(cls, ref);
  if (row == nullptr) return Error::Xapi("HANDLE_INVALID", {std::string(cls), std::string(ref)});
  xenapi::Value* slot = row->record.Find(field);
  if (slot == nullptr || !slot->is_array()) std::abort();
  for (const auto& e : slot->array()) {
    if (e == member) return Ok();
  }
  slot->array().push_back(member);
  row->modified = ++db_->generation_;
  return Ok();
}

Result<void> Database::Txn::RemoveFromSet(std::string_view cls, std::string_view ref,
                                          std::string_view field, const xenapi::Value& member) {
  ObjectRow* row = MutableRow(cls, ref);
  if (row == nullptr) return Error::Xapi("HANDLE_INVALID", {std::string(cls), std::string(ref)});
  xenapi::Value* slot = row->record.Find(field);
  if (slot == nullptr || !slot->is_array()) std::abort();
  auto& arr = slot->array();
  for (auto it = arr.begin(); it != arr.end(); ++it) {
    if (*it == member) {
      arr.erase(it);
      row->modified = ++db_->generation_;
      return Ok();
    }
  }
  return Ok();
}

void Database::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

void Database::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
  }
  cv_.notify_all();
}

}  // namespace fruix::sim
