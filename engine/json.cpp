#include "engine/json.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "engine/error.h"

namespace tint::json {

const Value* Value::get(const std::string& key) const {
  if (auto* o = object())
    for (auto& [k, val] : *o)
      if (k == key) return &val;
  return nullptr;
}

namespace {

class Parser {
 public:
  Parser(const std::string& s, const std::string& origin) : s_(s), origin_(origin) {}
  Value parse() {
    Value j = value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters");
    return j;
  }

 private:
  const std::string& s_;
  const std::string& origin_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const char* what) {
    throw Error(fmt::format("{}: {} at byte {}", origin_, what, pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  char peek() {
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++pos_;
  }
  Value value(int depth) {
    if (depth > 64) fail("nesting too deep");
    char c = peek();
    if (c == '{') {
      ++pos_;
      Object o;
      if (peek() == '}') {
        ++pos_;
        return {o};
      }
      for (;;) {
        std::string key = string();
        expect(':');
        o.emplace_back(std::move(key), value(depth + 1));
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}');
        return {o};
      }
    }
    if (c == '[') {
      ++pos_;
      Array a;
      if (peek() == ']') {
        ++pos_;
        return {a};
      }
      for (;;) {
        a.push_back(value(depth + 1));
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect(']');
        return {a};
      }
    }
    if (c == '"') return {string()};
    if (s_.compare(pos_, 4, "true") == 0) return pos_ += 4, Value{true};
    if (s_.compare(pos_, 5, "false") == 0) return pos_ += 5, Value{false};
    if (s_.compare(pos_, 4, "null") == 0) return pos_ += 4, Value{nullptr};
    size_t start = pos_;
    // (strchr would also match the terminating NUL, letting a zero byte pass as part of a number.)
    while (pos_ < s_.size() && s_[pos_] != '\0' && (std::isdigit(uint8_t(s_[pos_])) || strchr("+-.eE", s_[pos_])))
      ++pos_;
    if (start == pos_) fail("unexpected character");
    const std::string text = s_.substr(start, pos_ - start);
    double v = 0;
    size_t used = 0;
    try {
      v = std::stod(text, &used);
    } catch (...) {
      fail("bad number");
    }
    if (used != text.size() || !std::isfinite(v)) fail("bad number");
    return {v};
  }
  std::string string() {
    expect('"');
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("bad escape");
      char e = s_[pos_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (pos_ + 4 > s_.size()) fail("bad \\u escape");
          unsigned cp = 0;
          for (int i = 0; i < 4; ++i, ++pos_) {  // by hand: std::stoul would accept "+1" and throw its own type
            const char h = s_[pos_];
            const int digit = h >= '0' && h <= '9' ? h - '0'
                              : h >= 'a' && h <= 'f' ? h - 'a' + 10
                              : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                     : -1;
            if (digit < 0) fail("bad \\u escape");
            cp = cp * 16 + unsigned(digit);
          }
          if (cp < 0x80) {
            out += char(cp);
          } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
          } else {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: out += e;
      }
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }
};

}  // namespace

Value parse(const std::string& text, const std::string& where) { return Parser(text, where).parse(); }

}  // namespace tint::json
