#include "engine/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "engine/error.h"

namespace tint::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tint's file formats assume a little-endian host");

// ---- files --------------------------------------------------------------------------------------------

void write_file_atomic(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  fs::path target(path);
  if (target.has_parent_path() && !fs::exists(target.parent_path()))
    throw Error(fmt::format("cannot write '{}': folder '{}' does not exist", path, target.parent_path().string()));
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(fmt::format("cannot write '{}': {}", tmp, std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(err)));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(fmt::format("error reading '{}'", path));
  return ss.str();
}

// ---- .npy ---------------------------------------------------------------------------------------------

void save_npy(const std::string& path, const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  if (t.shape().size() > 1) shape.resize(shape.size() - 2);
  if (t.shape().size() == 1) shape.resize(shape.size() - 1);  // "(5,)"
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic(6) + version(2) + len(2) + header + '\n' padded to a multiple of 64
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  uint16_t len = uint16_t(header.size());
  out.append(reinterpret_cast<const char*>(&len), 2);
  out += header;
  std::vector<float> v = t.to_vector();
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  write_file_atomic(path, out);
}

Tensor load_npy(const std::string& path, Device device) {
  std::string bytes = read_file(path);
  TINT_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "'{}' is not a .npy file", path);
  const int major = uint8_t(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    header_start = 10;
  } else {
    TINT_CHECK(bytes.size() >= 12, "'{}': truncated .npy header", path);
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    header_start = 12;
  }
  TINT_CHECK(header_start + header_len <= bytes.size(), "'{}': truncated .npy header", path);
  std::string header = bytes.substr(header_start, header_len);
  bool f8;
  if (header.find("'<f4'") != std::string::npos)
    f8 = false;
  else if (header.find("'<f8'") != std::string::npos)
    f8 = true;
  else
    throw Error(fmt::format("'{}': only little-endian float32/float64 .npy files are supported (header: {})", path,
                            header));
  TINT_CHECK(header.find("'fortran_order': False") != std::string::npos, "'{}': Fortran-order arrays are not supported",
             path);
  size_t open = header.find("'shape': (");
  TINT_CHECK(open != std::string::npos, "'{}': no shape in .npy header", path);
  size_t close = header.find(')', open);
  std::string dims = header.substr(open + 10, close - open - 10);
  Shape shape;
  std::stringstream ss(dims);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    shape.push_back(std::stoll(item));
  }
  const size_t n = size_t(shape_numel(shape));
  const size_t data_start = header_start + header_len;
  const size_t need = n * (f8 ? 8 : 4);
  TINT_CHECK(bytes.size() - data_start == need, "'{}': expected {} bytes of data for shape {}, found {}", path, need,
             shape_str(shape), bytes.size() - data_start);
  std::vector<float> v(n);
  if (f8) {
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, bytes.data() + data_start + 8 * i, 8);
      v[i] = float(d);
    }
  } else {
    std::memcpy(v.data(), bytes.data() + data_start, need);
  }
  return Tensor::from_vector(v, shape, device);
}

// ---- a JSON reader, just enough for safetensors headers -----------------------------------------------

namespace {

struct Json;
using JsonObject = std::vector<std::pair<std::string, Json>>;
using JsonArray = std::vector<Json>;
struct Json {
  std::variant<std::nullptr_t, bool, double, std::string, JsonArray, JsonObject> v;
  const JsonObject* object() const { return std::get_if<JsonObject>(&v); }
  const JsonArray* array() const { return std::get_if<JsonArray>(&v); }
  const std::string* string() const { return std::get_if<std::string>(&v); }
  const double* number() const { return std::get_if<double>(&v); }
  const Json* get(const std::string& key) const {
    if (auto* o = object())
      for (auto& [k, val] : *o)
        if (k == key) return &val;
    return nullptr;
  }
};

class JsonParser {
 public:
  JsonParser(const std::string& s, const std::string& origin) : s_(s), origin_(origin) {}
  Json parse() {
    Json j = value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters");
    return j;
  }

 private:
  const std::string& s_;
  const std::string& origin_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const char* what) {
    throw Error(fmt::format("{}: malformed safetensors header: {} at byte {}", origin_, what, pos_));
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
  Json value(int depth) {
    if (depth > 64) fail("nesting too deep");
    char c = peek();
    if (c == '{') {
      ++pos_;
      JsonObject o;
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
      JsonArray a;
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
    if (s_.compare(pos_, 4, "true") == 0) return pos_ += 4, Json{true};
    if (s_.compare(pos_, 5, "false") == 0) return pos_ += 5, Json{false};
    if (s_.compare(pos_, 4, "null") == 0) return pos_ += 4, Json{nullptr};
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isdigit(uint8_t(s_[pos_])) || strchr("+-.eE", s_[pos_]))) ++pos_;
    if (start == pos_) fail("unexpected character");
    try {
      return {std::stod(s_.substr(start, pos_ - start))};
    } catch (...) {
      fail("bad number");
    }
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
          unsigned cp = std::stoul(s_.substr(pos_, 4), nullptr, 16);
          pos_ += 4;
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

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (uint8_t(c) < 0x20) {
      out += fmt::format("\\u{:04x}", unsigned(uint8_t(c)));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

// ---- .safetensors -------------------------------------------------------------------------------------

const Tensor* NamedTensors::find(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& NamedTensors::at(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t) throw Error(fmt::format("tensor '{}' not found (the file has {} tensors)", name, tensors.size()));
  return *t;
}

std::string encode_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool f = true;
    for (auto& [k, v] : metadata) {
      header += fmt::format("{}\"{}\":\"{}\"", f ? "" : ",", json_escape(k), json_escape(v));
      f = false;
    }
    header += "}";
    first = false;
  }
  size_t offset = 0;
  std::vector<std::vector<float>> payload;
  for (auto& [name, t] : tensors) {
    TINT_CHECK(name != "__metadata__" && !name.empty(), "safetensors: invalid tensor name '{}'", name);
    std::string shape;
    for (size_t i = 0; i < t.shape().size(); ++i) shape += fmt::format("{}{}", i ? "," : "", t.shape()[i]);
    size_t bytes = size_t(t.numel()) * 4;
    header += fmt::format("{}\"{}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{},{}]}}", first ? "" : ",",
                          json_escape(name), shape, offset, offset + bytes);
    first = false;
    offset += bytes;
    payload.push_back(t.to_vector());
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out;
  uint64_t len = header.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out += header;
  for (auto& v : payload) out.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  return out;
}

NamedTensors decode_safetensors(const std::string& bytes, const std::string& origin) {
  TINT_CHECK(bytes.size() >= 8, "{}: too short for a safetensors file ({} bytes)", origin, bytes.size());
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  TINT_CHECK(len <= bytes.size() - 8 && len < (100u << 20), "{}: header length {} exceeds the file ({} bytes)", origin,
             len, bytes.size());
  std::string header = bytes.substr(8, len);
  Json root = JsonParser(header, origin).parse();
  TINT_CHECK(root.object(), "{}: safetensors header is not a JSON object", origin);
  const size_t data_start = 8 + len;
  const size_t data_size = bytes.size() - data_start;
  NamedTensors out;
  struct Entry {
    size_t begin, end;
    std::string name;
    Shape shape;
    bool f64;
  };
  std::vector<Entry> entries;
  for (auto& [name, j] : *root.object()) {
    if (name == "__metadata__") {
      if (auto* o = j.object())
        for (auto& [k, v] : *o)
          if (auto* s = v.string()) out.metadata[k] = *s;
      continue;
    }
    const Json* dtype = j.get("dtype");
    const Json* shape = j.get("shape");
    const Json* offs = j.get("data_offsets");
    TINT_CHECK(dtype && dtype->string() && shape && shape->array() && offs && offs->array() &&
                   offs->array()->size() == 2,
               "{}: entry '{}' lacks dtype, shape or data_offsets", origin, name);
    const std::string& dt = *dtype->string();
    TINT_CHECK(dt == "F32" || dt == "F64", "{}: tensor '{}' has dtype {}; tint reads F32 and F64", origin, name, dt);
    Entry e;
    e.name = name;
    e.f64 = dt == "F64";
    for (auto& d : *shape->array()) {
      TINT_CHECK(d.number() && *d.number() >= 0, "{}: tensor '{}' has a bad shape", origin, name);
      e.shape.push_back(int64_t(*d.number()));
    }
    TINT_CHECK((*offs->array())[0].number() && (*offs->array())[1].number(), "{}: bad data_offsets for '{}'", origin,
               name);
    e.begin = size_t(*(*offs->array())[0].number());
    e.end = size_t(*(*offs->array())[1].number());
    size_t need = size_t(shape_numel(e.shape)) * (e.f64 ? 8 : 4);
    TINT_CHECK(e.begin <= e.end && e.end <= data_size && e.end - e.begin == need,
               "{}: tensor '{}' {} has data_offsets [{}, {}] inconsistent with its shape or the file's {} data bytes",
               origin, name, shape_str(e.shape), e.begin, e.end, data_size);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (auto& e : entries) {
    const size_t n = size_t(shape_numel(e.shape));
    std::vector<float> v(n);
    const char* src = bytes.data() + data_start + e.begin;
    if (e.f64) {
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        v[i] = float(d);
      }
    } else if (n) {
      std::memcpy(v.data(), src, n * 4);
    }
    out.tensors.emplace_back(e.name, Tensor::from_vector(v, e.shape));
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, encode_safetensors(tensors, metadata));
}

NamedTensors load_safetensors(const std::string& path) { return decode_safetensors(read_file(path), path); }

}  // namespace tint::io
