#include "sim/input/json_input.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "sim/input/paths.h"

namespace fpusim {

std::string json_type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "a value";
  }
}

namespace {

// A key an object has twice (JSON allows it, nlohmann keeps the last; a
// config with one is a mistake: DESIGN principle 4).
struct DuplicateKey {
  std::string path;  // the object's JSON path
  std::string key;
};

// nlohmann's parser callback: tracks where the parser is (each object's keys
// so far, each array's index) and throws DuplicateKey at a repeated key.
class DuplicateKeyCheck {
 public:
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        stack_.push_back(Frame{event == Json::parse_event_t::array_start, 0, {}, {}});
        break;
      case Json::parse_event_t::key: {
        Frame& f = stack_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) throw DuplicateKey{path(stack_.size() - 1), f.key};
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        stack_.pop_back();
        element_done();
        break;
      case Json::parse_event_t::value:
        element_done();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool array;
    size_t index;
    std::string key;  // objects: the member being read
    std::set<std::string> keys;
  };
  void element_done() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().index;
  }
  // The path of the container at stack_[depth].
  std::string path(size_t depth) const {
    std::string p;
    for (size_t i = 0; i < depth; ++i) {
      p += "/" + (stack_[i].array ? std::to_string(stack_[i].index) : stack_[i].key);
    }
    return p.empty() ? "/" : p;
  }
  std::vector<Frame> stack_;
};

// The lines of the first key given twice in one object, in document order
// (the one DuplicateKeyCheck stops at): a scan of the text's structure, as
// nlohmann tells no positions. {0, 0} if it finds none (a key spelled with
// escapes one time and without the other).
std::pair<size_t, size_t> duplicate_key_lines(const std::string& t) {
  struct Container {
    bool array;
    std::map<std::string, size_t> keys;  // key -> line
  };
  std::vector<Container> stack;
  size_t line = 1;
  bool expect_key = false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '\n') {
      ++line;
    } else if (c == '{' || c == '[') {
      stack.push_back({c == '[', {}});
      expect_key = c == '{';
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
      expect_key = false;
    } else if (c == ',') {
      expect_key = !stack.empty() && !stack.back().array;
    } else if (c == '"') {
      const size_t at = line;
      std::string s;
      for (++i; i < t.size() && t[i] != '"'; ++i) {
        if (t[i] == '\\' && i + 1 < t.size()) s += t[i++];
        if (t[i] == '\n') ++line;
        s += t[i];
      }
      if (expect_key && !stack.empty() && !stack.back().array) {
        if (s.find('\\') != std::string::npos) {
          // Compare keys as nlohmann does: decoded ("\u0061" is "a").
          try {
            s = Json::parse("\"" + s + "\"").get<std::string>();
          } catch (const Json::exception&) {
          }
        }
        auto [it, fresh] = stack.back().keys.emplace(s, at);
        if (!fresh) return {it->second, at};
        expect_key = false;
      }
    }
  }
  return {0, 0};
}

}  // namespace

Json parse_json_text(const std::string& text, const std::string& file) {
  try {
    return Json::parse(text, DuplicateKeyCheck{});
  } catch (const DuplicateKey& d) {
    const auto [first, second] = duplicate_key_lines(text);
    const std::string where =
        first ? " (lines " + std::to_string(first) + " and " + std::to_string(second) + ")" : "";
    throw InputError{file, d.path, "the key \"" + d.key + "\" is given twice in this object" + where +
                                       "; JSON keeps only one: remove the other"};
  } catch (const Json::parse_error& e) {
    // Turn the byte offset into line:column.
    size_t line = 1, col = 1;
    for (size_t i = 0; i < e.byte - 1 && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    const auto pos = what.find("syntax error");
    if (pos != std::string::npos) what = what.substr(pos);
    throw InputError{file, "", "invalid JSON at line " + std::to_string(line) + ", column " +
                                   std::to_string(col) + ": " + what};
  } catch (const Json::out_of_range& e) {
    // A number no double holds ("1e400"): nlohmann says which, not where;
    // the first occurrence of its text is.
    std::string what = e.what();
    const auto q = what.find('\'');
    const std::string number = q == std::string::npos ? "" : what.substr(q + 1, what.rfind('\'') - q - 1);
    std::string where;
    if (const auto at = number.empty() ? std::string::npos : text.find(number); at != std::string::npos) {
      const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
      const auto nl = text.rfind('\n', at);
      where = " at line " + std::to_string(line) + ", column " +
              std::to_string(at - (nl == std::string::npos ? 0 : nl + 1) + 1);
    }
    throw InputError{file, "", "invalid JSON" + where + ": the number " + number +
                                   " is out of range (larger than any double)"};
  }
}

Json load_json_file(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::is_directory(st)) throw InputError{path, "", "is a directory, not a JSON file"};
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st)) {
    throw InputError{path, "", "is not a regular file (a device, a pipe?), not a JSON file"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError{path, "", "cannot open file (does it exist and is it readable?)"};
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError{path, "", "read error"};
  return parse_json_text(ss.str(), path);
}

namespace {

// valijson's context is like ["<root>", "[events]", "[3]", "[cpu]"]; returns
// the unquoted parts, ["events", "3", "cpu"].
std::vector<std::string> context_parts(const std::vector<std::string>& ctx) {
  std::vector<std::string> parts;
  for (size_t i = 1; i < ctx.size(); ++i) {
    std::string c = ctx[i];
    if (c.size() >= 2 && c.front() == '[' && c.back() == ']') c = c.substr(1, c.size() - 2);
    if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
    parts.push_back(c);
  }
  return parts;
}

std::string parts_to_path(const std::vector<std::string>& parts) {
  std::string p;
  for (const auto& c : parts) p += "/" + c;
  return p.empty() ? "/" : p;
}

// Follows $ref ("#/definitions/x") within the same schema document.
const Json* resolve_ref(const Json& root, const Json* node) {
  for (int depth = 0; node && node->is_object() && node->contains("$ref") && depth < 16; ++depth) {
    const Json& ref = (*node)["$ref"];
    if (!ref.is_string() || ref.get<std::string>().rfind("#", 0) != 0) return nullptr;
    try {
      node = &root.at(Json::json_pointer(ref.get<std::string>().substr(1)));
    } catch (const Json::exception&) {
      return nullptr;
    }
  }
  return node;
}

// The schema that applies at `parts`, where that is unambiguous (through
// properties, additionalProperties and items); nullptr otherwise (oneOf...).
const Json* schema_at(const Json& root, const std::vector<std::string>& parts) {
  const Json* node = resolve_ref(root, &root);
  for (const auto& part : parts) {
    if (!node || !node->is_object()) return nullptr;
    if (node->contains("properties") && (*node)["properties"].contains(part)) {
      node = &(*node)["properties"][part];
    } else if (node->contains("additionalProperties") && (*node)["additionalProperties"].is_object()) {
      node = &(*node)["additionalProperties"];
    } else if (node->contains("items") && (*node)["items"].is_object()) {
      node = &(*node)["items"];
    } else {
      return nullptr;
    }
    node = resolve_ref(root, node);
  }
  return node;
}

std::string got(const Json* value) {
  if (!value) return "";
  std::string g = ", got " + json_type_name(*value);
  if (value->is_primitive()) g += " (" + value->dump() + ")";
  return g;
}

std::string type_expected(const Json& type) {
  std::string out;
  const Json types = type.is_array() ? type : Json::array({type});
  for (const auto& t : types) {
    if (!t.is_string()) continue;
    const std::string n = t.get<std::string>();
    const std::string article = (n == "integer" || n == "object" || n == "array") ? "an " : "a ";
    out += (out.empty() ? "" : " or ") + (n == "null" ? n : n == "boolean" ? std::string("true or false") : article + n);
  }
  return out;
}

// What a schema node accepts, in words ("a string matching ..."); "" if it
// cannot say.
std::string accepted(const Json& root, const Json* node) {
  node = resolve_ref(root, node);
  if (!node || !node->is_object()) return "";
  if (node->contains("const")) return (*node)["const"].dump();
  if (node->contains("enum")) {
    std::string vals;
    for (const auto& v : (*node)["enum"]) vals += (vals.empty() ? "" : ", ") + v.dump();
    return "one of " + vals;
  }
  if (node->contains("pattern")) return "a string matching " + (*node)["pattern"].dump();
  if (!node->contains("type")) return "";
  std::string a = type_expected((*node)["type"]);
  if (node->contains("minimum")) a += " >= " + (*node)["minimum"].dump();
  if (node->contains("maximum")) a += " <= " + (*node)["maximum"].dump();
  if (node->contains("properties") && (*node)["properties"].is_object() && !(*node)["properties"].empty()) {
    std::string keys;
    for (auto it = (*node)["properties"].begin(); it != (*node)["properties"].end(); ++it) {
      keys += (keys.empty() ? "" : ", ") + it.key();
    }
    a += " with keys from " + keys;
  }
  return a;
}

// Rewrites valijson's generic descriptions into "what was expected, what was
// found", using the schema node and the offending value where they are known.
std::string explain(const std::string& desc, const Json& root, const Json* node, const Json* value,
                    std::vector<std::string>* parts) {
  auto starts = [&](const char* p) { return desc.rfind(p, 0) == 0; };
  if (starts("Object contains a property that could not be validated")) {
    const auto q1 = desc.find("constraints: '"), q2 = desc.rfind('\'');
    if (q1 != std::string::npos && q2 > q1 + 14) {
      const std::string key = desc.substr(q1 + 14, q2 - q1 - 14);
      std::string msg = "unknown key \"" + key + "\"";
      if (node && node->contains("properties") && (*node)["properties"].is_object()) {
        std::string keys;
        for (auto it = (*node)["properties"].begin(); it != (*node)["properties"].end(); ++it) {
          keys += (keys.empty() ? "" : ", ") + it.key();
        }
        msg += "; expected one of " + keys;
      }
      parts->push_back(key);
      return msg;
    }
  }
  if (starts("Missing required property '")) {
    const auto q1 = desc.find('\''), q2 = desc.rfind('\'');
    if (q2 > q1) return "missing required key \"" + desc.substr(q1 + 1, q2 - q1 - 1) + "\"";
  }
  if (node && node->is_object() && (node->contains("oneOf") || node->contains("anyOf"))) {
    // A choice ("machine": a preset name or an object): list the alternatives.
    std::string alts;
    for (const auto& alt : (*node)[node->contains("oneOf") ? "oneOf" : "anyOf"]) {
      const std::string a = accepted(root, &alt);
      if (a.empty()) {
        alts.clear();
        break;
      }
      alts += (alts.empty() ? "" : " or ") + a;
    }
    if (!alts.empty()) return "expected " + alts + got(value);
  }
  if (node && node->is_object()) {
    if (starts("Failed to match expected value set by 'const'") && node->contains("const")) {
      return "expected " + (*node)["const"].dump() + got(value);
    }
    if (starts("Failed to match against any enum values") && node->contains("enum")) {
      std::string vals;
      for (const auto& v : (*node)["enum"]) vals += (vals.empty() ? "" : ", ") + v.dump();
      return "expected one of " + vals + got(value);
    }
    if (starts("Value type not permitted by 'type'") && node->contains("type")) {
      return "expected " + type_expected((*node)["type"]) + got(value);
    }
    if (starts("Failed to match regex specified by 'pattern'") && node->contains("pattern")) {
      return "expected a string matching " + (*node)["pattern"].dump() + got(value);
    }
    if (starts("Expected number greater than or equal to") && node->contains("minimum")) {
      return "expected at least " + (*node)["minimum"].dump() + got(value);
    }
    if (starts("Expected number less than or equal to") && node->contains("maximum")) {
      return "expected at most " + (*node)["maximum"].dump() + got(value);
    }
    if (starts("Expected number greater than ") && node->contains("exclusiveMinimum")) {
      return "expected more than " + (*node)["exclusiveMinimum"].dump() + got(value);
    }
  }
  return desc + (value && value->is_primitive() ? " (got " + value->dump() + ")" : "");
}

}  // namespace

void validate_against_schema(const Json& doc, const Json& schema_json, const std::string& file) {
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_json);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter doc_adapter(doc);
  if (validator.validate(schema, doc_adapter, &results)) return;
  // Report the most specific error: the deepest path; among equals, the last
  // one valijson produced (it reports the leaf before its parents' summaries).
  valijson::ValidationResults::Error err, best;
  size_t best_depth = 0;
  bool have = false;
  while (results.popError(err)) {
    if (!have || err.context.size() > best_depth) {
      best = err;
      best_depth = err.context.size();
      have = true;
    }
  }
  std::vector<std::string> parts = context_parts(best.context);
  const Json* value = nullptr;
  try {
    Json::json_pointer ptr;
    for (const auto& p : parts) ptr /= p;
    value = &doc.at(ptr);
  } catch (const Json::exception&) {
  }
  const std::string message = explain(best.description, schema_json, schema_at(schema_json, parts), value, &parts);
  throw InputError{file, parts_to_path(parts), message};
}

const Json& schema_named(const std::string& name) {
  static std::map<std::string, Json> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const std::string path = config_dir() + "/schema/" + name + ".schema.json";
  return cache[name] = load_json_file(path);
}

JsonIn::JsonIn(const Json& j, std::string file, std::string path)
    : j_(&j), file_(std::move(file)), path_(std::move(path)), read_(std::make_shared<std::set<std::string>>()) {}

bool JsonIn::has(const std::string& key) const { return j_->is_object() && j_->contains(key); }

JsonIn JsonIn::at(const std::string& key) const {
  if (!j_->is_object()) fail("an object");
  auto it = j_->find(key);
  if (it == j_->end()) throw InputError{file_, path_.empty() ? "/" : path_, "missing required key \"" + key + "\""};
  read_->insert(key);
  return JsonIn(*it, file_, path_ + "/" + key);
}

JsonIn JsonIn::at(size_t index) const {
  if (!j_->is_array()) fail("an array");
  return JsonIn((*j_)[index], file_, path_ + "/" + std::to_string(index));
}

size_t JsonIn::size() const {
  if (!j_->is_array() && !j_->is_object()) fail("an array");
  return j_->size();
}

void JsonIn::fail(const std::string& expected) const {
  std::string got = json_type_name(*j_);
  if (j_->is_primitive()) got += " (" + j_->dump() + ")";
  throw InputError{file_, path_.empty() ? "/" : path_, "expected " + expected + ", got " + got};
}

std::string JsonIn::as_string() const {
  if (!j_->is_string()) fail("a string");
  return j_->get<std::string>();
}

std::uint64_t JsonIn::as_u64(std::uint64_t max) const {
  if (j_->is_number_unsigned()) {
    const auto v = j_->get<std::uint64_t>();
    if (v > max) fail("an integer from 0 to " + std::to_string(max));
    return v;
  }
  if (j_->is_number_integer()) fail("a non-negative integer");
  fail("a non-negative integer" + std::string(max < UINT64_MAX ? " up to " + std::to_string(max) : ""));
}

double JsonIn::as_double() const {
  if (!j_->is_number()) fail("a number");
  const double v = j_->get<double>();
  if (!std::isfinite(v)) fail("a finite number");
  return v;
}

double JsonIn::as_positive() const {
  const double v = as_double();
  if (!(v > 0)) fail("a number greater than 0");
  return v;
}

double JsonIn::as_non_negative() const {
  const double v = as_double();
  if (v < 0) fail("a number >= 0");
  return v;
}

bool JsonIn::as_bool() const {
  if (!j_->is_boolean()) fail("true or false");
  return j_->get<bool>();
}

std::uint64_t JsonIn::as_hex() const {
  if (j_->is_number_unsigned()) return j_->get<std::uint64_t>();
  if (!j_->is_string()) fail("a hex string such as \"0x2E7\"");
  const std::string s = j_->get<std::string>();
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || s.size() > 18) {
    fail("a hex string such as \"0x2E7\" (at most 16 hex digits)");
  }
  std::uint64_t v = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    const char c = s[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else fail("a hex string such as \"0x2E7\"");
    v = (v << 4) | static_cast<unsigned>(d);
  }
  return v;
}

void JsonIn::require_all_read() const {
  if (!j_->is_object()) return;
  for (auto it = j_->begin(); it != j_->end(); ++it) {
    if (!read_->count(it.key())) {
      throw InputError{file_, path_ + "/" + it.key(), "unknown key \"" + it.key() + "\""};
    }
  }
}

}  // namespace fpusim
