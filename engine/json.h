// A small, strict JSON reader: safetensors headers (engine/io) and colour-hint files (data/hints).
//
// Numbers are finite doubles, strings are UTF-8 (\u escapes encoded), nesting is bounded, and every error
// is a tint::Error "<where>: <what> at byte <n>", so a damaged file names itself and the place.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tint::json {

struct Value;
using Object = std::vector<std::pair<std::string, Value>>;  // in file order; a repeated key keeps both
using Array = std::vector<Value>;
struct Value {
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v;
  const Object* object() const { return std::get_if<Object>(&v); }
  const Array* array() const { return std::get_if<Array>(&v); }
  const std::string* string() const { return std::get_if<std::string>(&v); }
  const double* number() const { return std::get_if<double>(&v); }
  // The first member named `key` of an object (nullptr when absent or not an object).
  const Value* get(const std::string& key) const;
};

// Parses a whole document. `where` starts every error message ("file.json", "x.safetensors: malformed
// safetensors header").
Value parse(const std::string& text, const std::string& where);

}  // namespace tint::json
