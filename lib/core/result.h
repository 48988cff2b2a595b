// fruix::Result<T> — either a T or an fruix::Error; the return type of every fallible function
// that crosses a module boundary (GCC 12 has no std::expected in C++20). A plain value type with
// no thread affinity. Accessing value() on an error (or error() on a value) is a bug and aborts.
#pragma once

#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "lib/core/error.h"

namespace fruix {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& v) : v_(std::in_place_index<0>, v) {}          // NOLINT: implicit
  Result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}    // NOLINT: implicit
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT: implicit
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, Result>)
      Result(U&& v)
      : v_(std::in_place_index<0>, T(std::forward<U>(v))) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    Check(true);
    return std::get<0>(v_);
  }
  const T& value() const& {
    Check(true);
    return std::get<0>(v_);
  }
  T&& value() && {
    Check(true);
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    Check(false);
    return std::get<1>(v_);
  }
  Error&& error() && {
    Check(false);
    return std::get<1>(std::move(v_));
  }

  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  void Check(bool want_value) const {
    if (ok() != want_value) std::abort();
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : e_(std::move(e)) {}  // NOLINT: implicit

  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  void value() const {
    if (!ok()) std::abort();
  }
  const Error& error() const& {
    if (ok()) std::abort();
    return *e_;
  }
  Error&& error() && {
    if (ok()) std::abort();
    return std::move(*e_);
  }

 private:
  std::optional<Error> e_;
};

inline Result<void> Ok() { return {}; }

}  // namespace fruix

// Early return on error inside a function returning Result<...>.
#define FRUIX_CONCAT_INNER(a, b) a##b
#define FRUIX_CONCAT(a, b) FRUIX_CONCAT_INNER(a, b)
#define FRUIX_RETURN_IF_ERROR(expr)                                   \
  do {                                                                \
    auto fruix_status_ = (expr);                                      \
    if (!fruix_status_.ok()) return std::move(fruix_status_).error(); \
  } while (0)
// FRUIX_ASSIGN_OR_RETURN(auto x, Foo()); declares x from Foo()'s value or returns its error.
#define FRUIX_ASSIGN_OR_RETURN(lhs, expr) \
  FRUIX_ASSIGN_OR_RETURN_IMPL(FRUIX_CONCAT(fruix_result_, __LINE__), lhs, expr)
#define FRUIX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).error();     \
  lhs = std::move(tmp).value()
