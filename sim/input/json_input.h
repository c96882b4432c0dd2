// Strict, typed reading of JSON input (scenarios, machines, cost models).
// Every error names the file, the JSON path and what was expected, and is
// thrown as InputError (exit code 2). After a struct is read, keys nobody
// read are an error too (VCML's unused-property check), so a misspelt key
// can never be silently ignored.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "models/core/types.h"

namespace fpusim {

using Json = nlohmann::json;

// Reads a whole file as JSON. Errors: missing file, unreadable, broken JSON
// (with line and column).
Json load_json_file(const std::string& path);
Json parse_json_text(const std::string& text, const std::string& file);

// Validates `doc` against a JSON Schema (draft 7 subset that valijson
// supports); throws InputError naming the most specific failing path.
void validate_against_schema(const Json& doc, const Json& schema, const std::string& file);
// Loads configs/schema/NAME.schema.json from the config directory.
const Json& schema_named(const std::string& name);

// A cursor into a JSON value with its path, for typed access.
class JsonIn {
 public:
  JsonIn(const Json& j, std::string file, std::string path = "");

  const Json& json() const { return *j_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

  bool is_object() const { return j_->is_object(); }
  bool is_string() const { return j_->is_string(); }
  bool is_null() const { return j_->is_null(); }
  bool has(const std::string& key) const;
  // Member access (objects): marks the key as read.
  JsonIn at(const std::string& key) const;
  // Array element.
  JsonIn at(size_t index) const;
  size_t size() const;

  std::string as_string() const;
  std::uint64_t as_u64(std::uint64_t max = UINT64_MAX) const;
  double as_double() const;       // finite, any sign
  double as_positive() const;     // finite, > 0
  double as_non_negative() const; // finite, >= 0
  bool as_bool() const;
  // A hex string "0x1F" (or a non-negative integer).
  std::uint64_t as_hex() const;

  // Every member of this object must have been read through at().
  void require_all_read() const;
  [[noreturn]] void fail(const std::string& expected) const;

 private:
  const Json* j_;
  std::string file_;
  std::string path_;
  std::shared_ptr<std::set<std::string>> read_;
};

std::string json_type_name(const Json& j);

}  // namespace fpusim
