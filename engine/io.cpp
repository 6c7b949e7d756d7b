#include "engine/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <variant>

#include "engine/error.h"
#include "engine/json.h"

namespace tint::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tint's file formats assume a little-endian host");

// ---- half precision ----------------------------------------------------------------------------------

const char* file_dtype_name(FileDtype dtype) { return dtype == FileDtype::f16 ? "F16" : "F32"; }

uint16_t float_to_half(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return uint16_t(sign | (abs > 0x7f800000u ? 0x7e00u | ((abs >> 13) & 0x3ffu) : 0x7c00u));
  // 65520 = 0x477ff000 is the midpoint between 65504 (largest half) and 65536: ties-to-even goes up, to inf.
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);
  if (abs < 0x38800000u) {
    // Below 2^-14 the half is a subnormal: a count of 2^-24 steps. The scaling by 2^24 is exact in float and
    // nearbyint rounds ties to even (the default mode), so this is the correctly rounded result; 1024 steps
    // come out as 0x0400, the smallest normal, as they should.
    float magnitude;
    std::memcpy(&magnitude, &abs, 4);
    return uint16_t(sign | uint16_t(std::nearbyint(magnitude * 16777216.0f)));
  }
  // Normal: rebias the exponent (127 -> 15), keep 10 of the 23 mantissa bits, round the other 13 to nearest
  // even. A carry out of the mantissa moves into the exponent, which is the right answer.
  uint32_t h = (abs >> 13) - ((127u - 15u) << 10);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return uint16_t(sign | h);
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = uint32_t(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  uint32_t x;
  if (exponent == 0x1fu) {
    x = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent == 0) {
    // Subnormal (or zero): mantissa * 2^-24, exact in float.
    const float magnitude = float(mantissa) * (1.0f / 16777216.0f);
    std::memcpy(&x, &magnitude, 4);
    x |= sign;
  } else {
    x = sign | ((exponent + 127u - 15u) << 23) | (mantissa << 13);
  }
  float out;
  std::memcpy(&out, &x, 4);
  return out;
}

float bfloat16_to_float(uint16_t bits) {
  const uint32_t x = uint32_t(bits) << 16;
  float out;
  std::memcpy(&out, &x, 4);
  return out;
}

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
  const size_t close = header.find(')', open);
  TINT_CHECK(close != std::string::npos, "'{}': malformed shape in .npy header", path);
  std::string dims = header.substr(open + 10, close - open - 10);
  Shape shape;
  std::stringstream ss(dims);
  std::string item;
  const size_t data_start = header_start + header_len;
  const uint64_t data_size = bytes.size() - data_start;
  uint64_t n = 1;
  while (std::getline(ss, item, ',')) {
    const size_t first = item.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    const size_t last = item.find_last_not_of(' ');
    uint64_t dim = 0;
    auto [end, ec] = std::from_chars(item.data() + first, item.data() + last + 1, dim);
    TINT_CHECK(ec == std::errc() && end == item.data() + last + 1 && dim <= (uint64_t(1) << 53),
               "'{}': malformed shape '({})' in .npy header", path, dims);
    TINT_CHECK(!__builtin_mul_overflow(n, dim, &n), "'{}': .npy shape ({}) is too large to exist", path, dims);
    shape.push_back(int64_t(dim));
  }
  uint64_t need = 0;
  TINT_CHECK(!__builtin_mul_overflow(n, uint64_t(f8 ? 8 : 4), &need) && data_size == need,
             "'{}': expected {} bytes of data for shape {}, found {}", path, need, shape_str(shape), data_size);
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

namespace {

using json::Value;

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

namespace {

// A header number used as a size or an offset: a whole number in [0, limit]. Converting an arbitrary double
// to an integer type is undefined behaviour when it is out of range, so nothing is cast before this check.
bool whole_number(const Value& j, double limit, uint64_t& out) {
  const double* d = j.number();
  if (!d || !(*d >= 0) || !(*d <= limit) || std::floor(*d) != *d) return false;
  out = uint64_t(*d);
  return true;
}

size_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

}  // namespace

std::string encode_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata, FileDtype dtype) {
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
  const size_t element = dtype == FileDtype::f16 ? 2 : 4;
  size_t offset = 0;
  std::string payload;
  for (auto& [name, t] : tensors) {
    TINT_CHECK(name != "__metadata__" && !name.empty(), "safetensors: invalid tensor name '{}'", name);
    std::string shape;
    for (size_t i = 0; i < t.shape().size(); ++i) shape += fmt::format("{}{}", i ? "," : "", t.shape()[i]);
    const size_t bytes = size_t(t.numel()) * element;
    header += fmt::format("{}\"{}\":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}", first ? "" : ",",
                          json_escape(name), file_dtype_name(dtype), shape, offset, offset + bytes);
    first = false;
    offset += bytes;
    const std::vector<float> v = t.to_vector();
    if (dtype == FileDtype::f32) {
      payload.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
      continue;
    }
    for (size_t i = 0; i < v.size(); ++i) {
      const uint16_t h = float_to_half(v[i]);
      // Only a finite value that rounds to infinity is refused: inf and NaN are representable as they are.
      TINT_CHECK(!(std::isfinite(v[i]) && (h & 0x7fffu) == 0x7c00u),
                 "safetensors: tensor '{}' holds {} at element {}, beyond float16's range (largest 65504); save it "
                 "as F32",
                 name, v[i], i);
      payload.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out;
  uint64_t len = header.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out += header;
  out += payload;
  return out;
}

NamedTensors decode_safetensors(const std::string& bytes, const std::string& origin) {
  TINT_CHECK(bytes.size() >= 8, "{}: too short for a safetensors file ({} bytes)", origin, bytes.size());
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  TINT_CHECK(len <= bytes.size() - 8 && len < (100u << 20), "{}: header length {} exceeds the file ({} bytes)", origin,
             len, bytes.size());
  const std::string header = bytes.substr(8, size_t(len));
  const Value root = json::parse(header, origin + ": malformed safetensors header");
  TINT_CHECK(root.object(), "{}: safetensors header is not a JSON object", origin);
  const size_t data_start = 8 + size_t(len);
  const size_t data_size = bytes.size() - data_start;
  NamedTensors out;
  struct Entry {
    size_t begin, end;
    std::string name;
    Shape shape;
    std::string dtype;
    size_t count;  // elements
  };
  std::vector<Entry> entries;
  std::set<std::string> seen;
  for (auto& [name, j] : *root.object()) {
    TINT_CHECK(seen.insert(name).second, "{}: malformed safetensors header: '{}' appears twice", origin, name);
    if (name == "__metadata__") {
      TINT_CHECK(j.object(), "{}: malformed metadata: '__metadata__' is not a JSON object", origin);
      for (auto& [k, v] : *j.object()) {
        TINT_CHECK(v.string(), "{}: malformed metadata: the value of '{}' is not a string", origin, k);
        TINT_CHECK(out.metadata.emplace(k, *v.string()).second, "{}: malformed metadata: '{}' appears twice", origin,
                   k);
      }
      continue;
    }
    const Value* dtype = j.get("dtype");
    const Value* shape = j.get("shape");
    const Value* offs = j.get("data_offsets");
    TINT_CHECK(dtype && dtype->string() && shape && shape->array() && offs && offs->array() &&
                   offs->array()->size() == 2,
               "{}: entry '{}' lacks dtype, shape or data_offsets", origin, name);
    Entry e;
    e.name = name;
    e.dtype = *dtype->string();
    const size_t element = dtype_bytes(e.dtype);
    TINT_CHECK(element, "{}: tensor '{}' has dtype {}; tint reads F32, F64, F16 and BF16", origin, name, e.dtype);
    TINT_CHECK(shape->array()->size() <= 8, "{}: tensor '{}' has {} dimensions (at most 8)", origin, name,
               shape->array()->size());
    // The element count is multiplied out in unsigned 64 bits with an overflow check, so a declared shape
    // such as [2^40, 2^40] is reported instead of wrapping around into a small, plausible size.
    uint64_t count = 1;
    for (auto& d : *shape->array()) {
      uint64_t dim = 0;
      TINT_CHECK(whole_number(d, 9007199254740992.0, dim), "{}: tensor '{}' has a bad shape (dimensions must be whole "
                 "numbers >= 0)", origin, name);
      e.shape.push_back(int64_t(dim));
      TINT_CHECK(!__builtin_mul_overflow(count, dim, &count), "{}: tensor '{}' declares a shape too large to exist",
                 origin, name);
    }
    uint64_t need = 0;
    TINT_CHECK(!__builtin_mul_overflow(count, uint64_t(element), &need) && need <= data_size,
               "{}: tensor '{}' {} {} needs more bytes than the file's {} data bytes (shape inconsistent with the "
               "data: truncated or damaged)", origin, name, e.dtype, shape_str(e.shape), data_size);
    uint64_t begin = 0, end = 0;
    TINT_CHECK(whole_number((*offs->array())[0], double(data_size), begin) &&
                   whole_number((*offs->array())[1], double(data_size), end),
               "{}: tensor '{}' has data_offsets outside the file's {} data bytes", origin, name, data_size);
    TINT_CHECK(begin <= end && end - begin == need,
               "{}: tensor '{}' {} {} is {} bytes but its data_offsets [{}, {}] span {} (inconsistent)", origin, name, e.dtype,
               shape_str(e.shape), need, begin, end, int64_t(end) - int64_t(begin));
    e.begin = size_t(begin);
    e.end = size_t(end);
    e.count = size_t(count);
    entries.push_back(std::move(e));
  }
  // By (begin, end): an empty tensor sharing its offset with a non-empty one must come first.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  // The spec's layout: the tensors tile the data section, no gap, no overlap (two names reading the same
  // bytes), nothing after the last one.
  size_t expected = 0;
  for (auto& e : entries) {
    TINT_CHECK(e.begin == expected, "{}: tensor '{}' starts at data byte {}, expected {} (overlapping or gapped "
               "data_offsets)", origin, e.name, e.begin, expected);
    expected = e.end;
  }
  TINT_CHECK(expected == data_size, "{}: {} bytes after the last tensor's data (truncated header or appended "
             "bytes?)", origin, data_size - expected);
  for (auto& e : entries) {
    const size_t n = e.count;
    std::vector<float> v(n);
    const char* src = bytes.data() + data_start + e.begin;
    if (e.dtype == "F64") {
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        v[i] = float(d);
      }
    } else if (e.dtype == "F16" || e.dtype == "BF16") {
      const bool half = e.dtype == "F16";
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        v[i] = half ? half_to_float(h) : bfloat16_to_float(h);
      }
    } else if (n) {
      std::memcpy(v.data(), src, n * 4);
    }
    out.tensors.emplace_back(e.name, Tensor::from_vector(v, e.shape));
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata, FileDtype dtype) {
  write_file_atomic(path, encode_safetensors(tensors, metadata, dtype));
}

NamedTensors load_safetensors(const std::string& path) { return decode_safetensors(read_file(path), path); }

}  // namespace tint::io
