// sim::Database — the simulator's object store, the equivalent of xapi's in-memory database.
// Holds every object of the simulated classes (sim/schema.h) as a record in IDL field order,
// keyed by class and opaque reference, with a uuid index.
//
// Event bookkeeping follows xapi (xapi_event.ml): one global generation counter; every create,
// write and delete takes the next generation and stamps the row (created / modified), deleted
// rows are remembered with their generations so event.from can report `del`. event.from is a
// function of these stamps (see sim/events.h), not of a log.
//
// Thread rules: all access goes through Read()/Write(), which hold one mutex for the duration of
// the callback; the Txn handed to the callback must not escape it. Never block or do I/O inside a
// callback. Write() wakes WaitLoop() callers when the generation moved. Created by the Simulator,
// shared by every module that needs state.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/schema.h"
#include "lib/xenapi/value.h"

namespace fruix::sim {

struct ObjectRow {
  const ClassSpec* cls = nullptr;
  std::string ref;
  xenapi::Struct record;  // every field of cls, in IDL order
  uint64_t created = 0;   // generation of creation
  uint64_t modified = 0;  // generation of the last write (>= created)
};

struct DeletedRow {
  std::string cls;  // wire class name
  std::string ref;
  uint64_t created = 0;
  uint64_t modified = 0;
  uint64_t deleted = 0;
};

class Database {
 public:
  class Txn {
   public:
    // Lookups. Class names are wire names ("VM", "VM_guest_metrics").
    const ObjectRow* Find(std::string_view cls, std::string_view ref) const;
    // HANDLE_INVALID [cls, ref] if there is no such object of that class.
    Result<const ObjectRow*> Get(std::string_view cls, std::string_view ref) const;
    // UUID_INVALID [cls, uuid] if no object of that class has the uuid.
    Result<std::string> RefOfUuid(std::string_view cls, std::string_view uuid) const;
    // The class of `ref`, or "" when no object has that ref.
    std::string ClassOf(std::string_view ref) const;
    std::vector<const ObjectRow*> All(std::string_view cls) const;
    size_t Count(std::string_view cls) const;
    uint64_t generation() const;
    const std::deque<DeletedRow>& deleted() const;

    // Mutations; each takes a new generation. REQUIRES: Write() (aborts under Read()).
    // Creates an object with schema defaults overridden by `fields` (names must be fields of the
    // class; unknown names abort, they are bugs). A missing uuid is generated. Returns the ref.
    std::string Create(std::string_view cls, xenapi::Struct fields, std::string ref = "");
    Result<void> Set(std::string_view cls, std::string_view ref, std::string_view field,
                     xenapi::Value v);
    // Several fields in one generation.
    Result<void> SetMany(std::string_view cls, std::string_view ref, const xenapi::Struct& fields);
    Result<void> Destroy(std::string_view cls, std::string_view ref);
    // Marks the row modified without changing it (event.inject).
    Result<void> Touch(std::string_view cls, std::string_view ref);
    // Set-valued field helpers (no duplicates added; absent members ignored on removal).
    Result<void> AddToSet(std::string_view cls, std::string_view ref, std::string_view field,
                          const xenapi::Value& member);
    Result<void> RemoveFromSet(std::string_view cls, std::string_view ref, std::string_view field,
                               const xenapi::Value& member);

   private:
    friend class Database;
    Txn(Database* db, bool writable) : db_(db), writable_(writable) {}
    ObjectRow* MutableRow(std::string_view cls, std::string_view ref);
    Database* db_;
    bool writable_;
  };

  Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  template <typename F>
  auto Read(F&& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    const Txn txn(const_cast<Database*>(this), false);
    return fn(txn);
  }

  template <typename F>
  auto Write(F&& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    Txn txn(this, true);
    Notifier notify(this, generation_);
    return fn(txn);
  }

  // Calls fn(txn, last_chance) under the lock, first at once and then each time the generation
  // moves, until it returns a value. When `deadline` has passed or Shutdown() was called,
  // last_chance is true and the returned optional is passed through whatever it holds.
  template <typename R, typename F>
  std::optional<R> WaitLoop(std::chrono::steady_clock::time_point deadline, F&& fn) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      const Txn txn(this, false);
      bool last = shutdown_ || std::chrono::steady_clock::now() >= deadline;
      std::optional<R> r = fn(txn, last);
      if (r.has_value() || last) return r;
      uint64_t seen = generation_;
      cv_.wait_until(lock, deadline, [&] { return shutdown_ || generation_ != seen; });
    }
  }

  // Wakes every WaitLoop() for good (their next round is the last chance).
  void Shutdown();
  // Wakes WaitLoop() callers without a change (e.g. a session was invalidated elsewhere).
  void Poke();

 private:
  struct Notifier {
    Notifier(Database* database, uint64_t generation) : db(database), before(generation) {}
    ~Notifier() {
      if (db->generation_ != before) db->cv_.notify_all();
    }
    Database* db;
    uint64_t before;
  };
  static constexpr size_t kMaxDeleted = 100000;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
  uint64_t generation_ = 0;
  // class -> ref -> row
  std::map<std::string, std::map<std::string, ObjectRow, std::less<>>, std::less<>> tables_;
  std::unordered_map<std::string, std::string> class_of_ref_;
  std::map<std::string, std::string, std::less<>> ref_of_uuid_;  // key: cls + '\n' + uuid
  std::deque<DeletedRow> deleted_;
};

}  // namespace fruix::sim
