// A registry of named things that register themselves (Ramulator 2's
// factories): a source file defines an entry and FPUSIM_REGISTER adds it to
// its registry while static objects are initialised, so adding one is adding
// a file, not editing a list. Architecture-neutral: each architecture's
// policies use one (and bug models can).
//
// Static initialisers run in an order the language leaves open, so each
// entry carries an explicit order key and the registry is kept sorted by it:
// listings and iteration are the same on every build whatever the link order.
//
// A static library's object file that nothing references is not linked, and
// its registrations vanish with it: the library holding registering files
// must be linked whole (meson `link_whole`, see meson.build).
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace fpusim {

// `Info` has a `std::string name`. Use one instance per kind of entry, held
// in a function-local static (so that it exists before any registration).
template <class Info>
class Registry {
  using Map = std::map<int, Info>;

 public:
  // Iteration yields the entries (const Info&) by ascending order key.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Info;
    using difference_type = std::ptrdiff_t;
    using pointer = const Info*;
    using reference = const Info&;
    const_iterator() = default;
    explicit const_iterator(typename Map::const_iterator it) : it_(it) {}
    reference operator*() const { return it_->second; }
    pointer operator->() const { return &it_->second; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++it_;
      return old;
    }
    bool operator==(const const_iterator& o) const { return it_ == o.it_; }
    bool operator!=(const const_iterator& o) const { return it_ != o.it_; }

   private:
    typename Map::const_iterator it_;
  };

  // Adds `info` at `order`. A name or order key used twice is a programming
  // error found at start-up, before main(): it aborts with both entries
  // named. Returns true, for FPUSIM_REGISTER's namespace-scope variable.
  bool add(int order, Info info) {
    if (const Info* other = find(info.name)) {
      die("\"" + info.name + "\" is registered twice", *other);
    }
    if (auto it = entries_.find(order); it != entries_.end()) {
      die("\"" + info.name + "\" has order key " + std::to_string(order) + ", already used", it->second);
    }
    entries_.emplace(order, std::move(info));
    return true;
  }

  // Entries never move once added (std::map nodes), so the pointer stays
  // valid for the program's life.
  const Info* find(std::string_view name) const {
    for (const auto& [order, info] : entries_) {
      if (info.name == name) return &info;
    }
    return nullptr;
  }

  const_iterator begin() const { return const_iterator(entries_.begin()); }
  const_iterator end() const { return const_iterator(entries_.end()); }
  std::size_t size() const { return entries_.size(); }

 private:
  [[noreturn]] static void die(const std::string& what, const Info& other) {
    std::fprintf(stderr, "fpusim: internal error: registry: %s (by \"%s\")\n", what.c_str(), other.name.c_str());
    std::abort();
  }

  Map entries_;
};

#define FPUSIM_REGISTRY_CAT2(a, b) a##b
#define FPUSIM_REGISTRY_CAT(a, b) FPUSIM_REGISTRY_CAT2(a, b)

// FPUSIM_REGISTER(registry, order, info): at namespace scope in a .cpp file,
// adds `info` (an expression, commas allowed) to `registry` (an expression
// yielding a Registry<Info>&) during static initialisation.
#define FPUSIM_REGISTER(registry, order, ...)                                           \
  namespace {                                                                         \
  [[maybe_unused]] const bool FPUSIM_REGISTRY_CAT(fpusim_registered_, __LINE__) =     \
      (registry).add((order), __VA_ARGS__);                                           \
  }

}  // namespace fpusim
