// Reading a model file never trusts it: a deterministic fuzz of a small valid model file (bit flips,
// truncations, inserted bytes, header edits) where every load must either succeed or throw tint::Error,
// never another exception and never a crash (the sanitizer build turns overflows and bad reads into
// failures); then targeted damage with the exact message expected, and the checks of models/model_file.
//
// TINT_FUZZ_CASES=N sets the number of fuzz cases per stored dtype, F32 and F16 (default 2000, 4000 in all:
// under 20 s in the ASan build on a busy 2-core machine).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "engine/error.h"
#include "engine/io.h"
#include "models/model_file.h"

using namespace tint;

namespace {

uint64_t splitmix(uint64_t& state) {
  uint64_t x = (state += 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

models::UNetConfig tiny_config() {
  return {2, 1};
}

// Named weights and metadata of a tiny U-Net (548 weights), as tint train would write them.
std::vector<std::pair<std::string, Tensor>> tiny_weights(models::UNet& unet) {
  std::vector<std::pair<std::string, Tensor>> named;
  for (auto& [name, t] : unet.named_parameters()) named.emplace_back(name, t->detach());
  return named;
}

std::map<std::string, std::string> tiny_metadata() {
  auto meta = models::model_metadata(tiny_config());
  meta["image_size"] = "16";
  meta["loss"] = "l2";
  meta["step"] = "7";
  return meta;
}

std::string valid_model_bytes(io::FileDtype dtype = io::FileDtype::f32) {
  Rng rng(3);
  models::UNet unet(tiny_config(), rng);
  return io::encode_safetensors(tiny_weights(unet), tiny_metadata(), dtype);
}

// The whole read path of `tint colorize`: decode, metadata, architecture, weights.
void load_model_bytes(const std::string& bytes) {
  const io::NamedTensors file = io::decode_safetensors(bytes, "fuzz.safetensors");
  models::load_unet(file, "fuzz.safetensors", Device::cpu());
}

std::string header_of(const std::string& bytes) {
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  return bytes.substr(8, size_t(len));
}

// Rebuilds a file around an edited header (length prefix updated, data unchanged).
std::string with_header(const std::string& bytes, std::string header) {
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  const std::string data = bytes.substr(8 + size_t(len));
  while (header.size() % 8) header += ' ';
  uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

enum Mutation {
  bit_flips,
  truncate,
  insert_bytes,
  header_digit,
  header_char,
  header_delete,
  length_field,
  kMutations
};
const char* mutation_name(int m) {
  static const char* names[] = {"bit flips",        "truncation",          "inserted bytes", "header digit",
                                "header character", "header byte deleted", "length field"};
  return names[m];
}

std::string mutate(const std::string& valid, size_t header_end, int kind, uint64_t& rng) {
  std::string b = valid;
  auto pick = [&](size_t n) { return size_t(splitmix(rng) % std::max<size_t>(n, 1)); };
  // Half of the positions land in the header, where the parser and the checks live; the rest anywhere.
  auto position = [&]() { return splitmix(rng) & 1 ? 8 + pick(header_end - 8) : pick(b.size()); };
  switch (kind) {
    case bit_flips: {
      const int flips = 1 + int(pick(4));
      for (int i = 0; i < flips; ++i) b[position()] ^= char(1u << pick(8));
      break;
    }
    case truncate:
      b.resize(pick(b.size()));
      break;
    case insert_bytes: {
      std::string extra(1 + pick(8), '\0');
      for (char& c : extra) c = char(splitmix(rng));
      b.insert(position(), extra);
      break;
    }
    case header_digit: {  // a number in the header changes: shapes, offsets, metadata values
      std::vector<size_t> digits;
      for (size_t i = 8; i < header_end; ++i)
        if (b[i] >= '0' && b[i] <= '9') digits.push_back(i);
      const size_t at = digits[pick(digits.size())];
      const std::string replacement[] = {"9",   "0", "99999999999",         "-1", "1e30",
                                         "0.5", "",  "18446744073709551616"};
      b.replace(at, 1, replacement[pick(8)]);
      break;
    }
    case header_char: {
      const char structural[] = "{}[]\":,-.e0\\u ";
      b[8 + pick(header_end - 8)] = structural[pick(sizeof structural - 1)];
      break;
    }
    case header_delete:
      b.erase(8 + pick(header_end - 8), 1 + pick(3));
      break;
    case length_field: {
      const uint64_t lengths[] = {0,
                                  1,
                                  header_end - 9,
                                  header_end - 7,
                                  uint64_t(b.size()),
                                  ~uint64_t(0),
                                  uint64_t(1) << 63,
                                  splitmix(rng)};
      const uint64_t len = lengths[pick(8)];
      std::memcpy(&b[0], &len, 8);
      break;
    }
  }
  return b;
}

}  // namespace

TEST_CASE("fuzz: a damaged model file loads or throws tint::Error, nothing else", "[fuzz][io]") {
  int cases = 2000;
  if (const char* env = std::getenv("TINT_FUZZ_CASES")) cases = std::max(1, std::atoi(env));
  for (io::FileDtype dtype : {io::FileDtype::f32, io::FileDtype::f16}) {
    const std::string valid = valid_model_bytes(dtype);
    REQUIRE_NOTHROW(load_model_bytes(valid));
    uint64_t len;
    std::memcpy(&len, valid.data(), 8);
    const size_t header_end = 8 + size_t(len);
    int loaded = 0, refused = 0;
    uint64_t rng = dtype == io::FileDtype::f32 ? 1 : 2;
    for (int i = 0; i < cases; ++i) {
      const int kind = i % kMutations;
      const std::string bytes = mutate(valid, header_end, kind, rng);
      try {
        load_model_bytes(bytes);
        ++loaded;
      } catch (const tint::Error&) {
        ++refused;
      } catch (const std::exception& e) {
        FAIL("case " << i << " (" << mutation_name(kind) << ", " << io::file_dtype_name(dtype)
                     << ") threw a non-tint exception: " << e.what());
      }
    }
    WARN(io::file_dtype_name(dtype) << ": " << cases << " damaged files, " << loaded << " loaded, " << refused
                                    << " refused with tint::Error");
    CHECK(refused > cases / 2);  // the mutations really damage the files
  }
}

TEST_CASE("a model file with a NaN or infinite weight names the tensor and element", "[fuzz][model_file]") {
  Rng rng(3);
  models::UNet unet(tiny_config(), rng);
  auto named = tiny_weights(unet);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> v = named[2].second.to_vector();
    v[1] = bad;
    auto damaged = named;
    damaged[2].second = Tensor::from_vector(v, named[2].second.shape());
    const std::string bytes = io::encode_safetensors(damaged, tiny_metadata());
    CHECK_THROWS_WITH(load_model_bytes(bytes), Catch::Contains("fuzz.safetensors") &&
                                                   Catch::Contains("'" + named[2].first + "'") &&
                                                   Catch::Contains("element 1"));
  }
}

TEST_CASE("a model file with missing or malformed metadata is refused, naming the file and key",
          "[fuzz][model_file]") {
  Rng rng(3);
  models::UNet unet(tiny_config(), rng);
  const auto named = tiny_weights(unet);
  CHECK_THROWS_WITH(load_model_bytes(io::encode_safetensors(named, {})),
                    Catch::Contains("fuzz.safetensors") && Catch::Contains("not a tint U-Net"));
  auto meta = tiny_metadata();
  meta.erase("width");
  CHECK_THROWS_WITH(load_model_bytes(io::encode_safetensors(named, meta)), Catch::Contains("'width'"));
  meta = tiny_metadata();
  meta["levels"] = "two";
  CHECK_THROWS_WITH(load_model_bytes(io::encode_safetensors(named, meta)),
                    Catch::Contains("'levels'") && Catch::Contains("not a whole number"));
  meta = tiny_metadata();
  meta["width"] = "4096";  // would be a network of gigabytes: refused before anything is built
  CHECK_THROWS_WITH(load_model_bytes(io::encode_safetensors(named, meta)),
                    Catch::Contains("width 4096") && Catch::Contains("548 weights"));
  // Metadata that is not a string -> string object is malformed JSON content, not silently dropped.
  const std::string valid = valid_model_bytes();
  const std::string bad = with_header(valid, replace_once(header_of(valid), "\"step\":\"7\"", "\"step\":7"));
  CHECK_THROWS_WITH(load_model_bytes(bad), Catch::Contains("fuzz.safetensors") &&
                                               Catch::Contains("malformed metadata") &&
                                               Catch::Contains("'step'"));
}

TEST_CASE("a model file with a wrong, missing or extra tensor names it", "[fuzz][model_file]") {
  Rng rng(3);
  models::UNet unet(tiny_config(), rng);
  auto named = tiny_weights(unet);
  auto wrong = named;
  wrong[0].second = Tensor::zeros({1, 2, 3, 3});  // transposed in/out channels: same count, wrong shape
  CHECK_THROWS_WITH(load_model_bytes(io::encode_safetensors(wrong, tiny_metadata())),
                    Catch::Contains("'" + named[0].first + "'") && Catch::Contains("(1, 2, 3, 3)") &&
                        Catch::Contains("(2, 1, 3, 3)"));
  auto renamed = named;
  renamed.back().first = "head.weights";
  CHECK_THROWS_WITH(load_model_bytes(io::encode_safetensors(renamed, tiny_metadata())),
                    Catch::Contains("'" + named.back().first + "'") && Catch::Contains("missing"));
}

TEST_CASE("a huge declared shape is refused without overflow or allocation", "[fuzz][io]") {
  const std::string valid = valid_model_bytes();
  const std::string header = header_of(valid);
  // down.0.conv1.bias is (2): declare it (2^40, 2^40), whose element count overflows int64 when multiplied
  // naively, and (2^30, 2^30), whose byte size fits 64 bits but not the file.
  for (const std::string& shape :
       {std::string("[1099511627776,1099511627776]"), std::string("[1073741824,1073741824]"),
        std::string("[1e300]"), std::string("[-2]"), std::string("[2.5]")}) {
    const std::string bytes = with_header(valid, replace_once(header, "\"shape\":[2]", "\"shape\":" + shape));
    INFO(shape);
    CHECK_THROWS_WITH(load_model_bytes(bytes),
                      Catch::Contains("fuzz.safetensors") && Catch::Contains("'down.0.conv1.bias'"));
  }
}

TEST_CASE("the U-Net's parameter count is known without building it", "[model_file]") {
  for (models::UNetConfig c : {models::UNetConfig{2, 1}, models::UNetConfig{4, 2}, models::UNetConfig{3, 5},
                               models::UNetConfig{8, 4}}) {
    Rng rng(1);
    models::UNet unet(c, rng);
    INFO("width " << c.width << " levels " << c.levels);
    CHECK(models::unet_parameter_count(c) == unet.parameter_count());
  }
  // By hand for width 2, levels 1: convs 1->2 3x3 (20), 2->2 3x3 (38), 2->4 4x4 (132), 4->4 3x3 (148),
  // transposed 4->2 4x4 (130), 4->2 3x3 (74), head 2->2 1x1 (6).
  CHECK(models::unet_parameter_count({2, 1}) == 548);
}
