// .npy and .safetensors: round trips, a file laid out by hand from the format's spec, and bad files.
#include <cstdio>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <limits>

#include "engine/io.h"
#include "engine_test_util.h"
#include "tests/temp_dir.h"

using namespace tint;
namespace fs = std::filesystem;

namespace {
// The process's folder for these files, removed when the tests end.
std::string temp_path(const std::string& name) {
  static const tint::test::TempDir dir("test_io");
  return dir / name;
}
void write_raw(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}
}  // namespace

TEST_CASE(".npy round trip keeps shape and bits", "[engine][io]") {
  Rng rng(21);
  for (Shape s : {Shape{5}, Shape{2, 3}, Shape{2, 1, 3, 4}, Shape{}}) {
    Tensor t = Tensor::normal(s, 0, 1, rng);
    std::string path = temp_path("t.npy");
    io::save_npy(path, t);
    Tensor back = io::load_npy(path);
    CHECK(back.shape() == s);
    CHECK(back.to_vector() == t.to_vector());
  }
}

TEST_CASE(".npy header matches what NumPy writes", "[engine][io]") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  std::string path = temp_path("h.npy");
  io::save_npy(path, t);
  std::string bytes = io::read_file(path);
  REQUIRE(bytes.size() == 128 + 24);  // header padded to 128 bytes, then 6 floats
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  CHECK(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") == 10);
  float third;
  std::memcpy(&third, bytes.data() + 128 + 8, 4);
  CHECK(third == 3.0f);
}

TEST_CASE(".safetensors round trip with metadata, on every device", "[engine][io]") {
  Rng rng(22);
  for (Device d : tint::testing::engine_test_devices()) {
    std::vector<std::pair<std::string, Tensor>> named = {
        {"down.0.conv1.weight", Tensor::normal({4, 1, 3, 3}, 0, 1, rng, d)},
        {"down.0.conv1.bias", Tensor::normal({4}, 0, 1, rng, d)},
        {"scalar", Tensor::full({}, 2.5f, Device::cpu())}};
    std::string path = temp_path("rt.safetensors");
    io::save_safetensors(path, named, {{"format", "pt"}, {"note", "quote \" and backslash \\"}});
    io::NamedTensors back = io::load_safetensors(path);
    REQUIRE(back.tensors.size() == 3);
    CHECK(back.metadata.at("format") == "pt");
    CHECK(back.metadata.at("note") == "quote \" and backslash \\");
    for (auto& [name, t] : named) {
      const Tensor& b = back.at(name);
      CHECK(b.shape() == t.shape());
      CHECK(b.to_vector() == t.to_vector());
    }
    CHECK_THROWS_WITH(back.at("missing"), Catch::Contains("'missing'"));
  }
}

TEST_CASE("a safetensors file laid out by hand per the spec reads back", "[engine][io]") {
  // Header JSON, padded with spaces to a multiple of 8; F32 "b" first in the data, F64 "a" second.
  std::string header =
      R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},"b":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
      R"("__metadata__":{"k":"v"}})";
  while (header.size() % 8) header += ' ';
  std::string bytes;
  uint64_t n = header.size();
  bytes.append(reinterpret_cast<const char*>(&n), 8);
  bytes += header;
  float b[2] = {1.5f, -2.0f};
  double a[2] = {0.25, 1e3};
  bytes.append(reinterpret_cast<const char*>(b), 8);
  bytes.append(reinterpret_cast<const char*>(a), 16);
  std::string path = temp_path("hand.safetensors");
  write_raw(path, bytes);
  io::NamedTensors t = io::load_safetensors(path);
  REQUIRE(t.tensors.size() == 2);
  CHECK(t.tensors[0].first == "b");  // file order = data order
  CHECK(t.at("b").shape() == Shape{1, 2});
  CHECK(t.at("b").to_vector() == std::vector<float>{1.5f, -2.0f});
  CHECK(t.at("a").to_vector() == std::vector<float>{0.25f, 1000.0f});
  CHECK(t.metadata.at("k") == "v");
}

TEST_CASE("bad tensor files give errors naming the file and the problem", "[engine][io]") {
  std::string path = temp_path("bad.safetensors");
  write_raw(path, "abc");
  CHECK_THROWS_WITH(io::load_safetensors(path), Catch::Contains("bad.safetensors") && Catch::Contains("too short"));
  std::string header = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  std::string bytes;
  uint64_t n = header.size();
  bytes.append(reinterpret_cast<const char*>(&n), 8);
  bytes += header + std::string(8, '\0');  // 8 of the 16 data bytes: truncated
  write_raw(path, bytes);
  CHECK_THROWS_WITH(io::load_safetensors(path), Catch::Contains("'w'") && Catch::Contains("inconsistent"));
  std::string bad_json = std::string("\x05\0\0\0\0\0\0\0", 8) + "{\"w\":";
  write_raw(path, bad_json);
  CHECK_THROWS_WITH(io::load_safetensors(path), Catch::Contains("malformed"));
  CHECK_THROWS_WITH(io::load_npy(temp_path("does_not_exist.npy")), Catch::Contains("does_not_exist.npy"));
  CHECK_THROWS_WITH(io::save_npy("/nonexistent-dir/x.npy", Tensor::zeros({1})), Catch::Contains("/nonexistent-dir"));
}

namespace {
std::string safetensors_bytes(std::string header, const std::string& data) {
  while (header.size() % 8) header += ' ';
  uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}
float bits_to_float(uint32_t x) {
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
}  // namespace

TEST_CASE("float16 encoding: hand-computed bit patterns, ties to even, subnormals, signed zero", "[engine][io]") {
  // IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
  CHECK(io::float_to_half(1.0f) == 0x3C00);
  CHECK(io::float_to_half(-2.0f) == 0xC000);
  CHECK(io::float_to_half(0.5f) == 0x3800);
  CHECK(io::float_to_half(65504.0f) == 0x7BFF);                  // the largest half
  CHECK(io::float_to_half(65519.996f) == 0x7BFF);                // just below the midpoint to 65536
  CHECK(io::float_to_half(65520.0f) == 0x7C00);                  // the midpoint: ties to even = inf
  CHECK(io::float_to_half(0.0f) == 0x0000);
  CHECK(io::float_to_half(-0.0f) == 0x8000);
  CHECK(io::float_to_half(std::ldexp(1.0f, -14)) == 0x0400);     // smallest normal
  CHECK(io::float_to_half(std::ldexp(1.0f, -24)) == 0x0001);     // smallest subnormal
  CHECK(io::float_to_half(std::ldexp(1023.0f, -24)) == 0x03FF);  // largest subnormal
  CHECK(io::float_to_half(std::ldexp(1.0f, -25)) == 0x0000);     // half the smallest: tie, to even (0)
  CHECK(io::float_to_half(std::ldexp(1.5f, -25)) == 0x0001);     // above the tie
  CHECK(io::float_to_half(std::ldexp(3.0f, -25)) == 0x0002);     // 1.5 steps: tie between 1 and 2, to 2
  CHECK(io::float_to_half(-std::ldexp(1.0f, -24)) == 0x8001);
  CHECK(io::float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);       // tie between 0x3C00 and 0x3C01
  CHECK(io::float_to_half(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);       // tie between 0x3C01 and 0x3C02
  CHECK(io::float_to_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)) == 0x3C01);  // above the tie
  CHECK(io::float_to_half(0.1f) == 0x2E66);
  CHECK(io::float_to_half(1.0f / 3.0f) == 0x3555);
  CHECK(io::float_to_half(std::numeric_limits<float>::infinity()) == 0x7C00);
  const uint16_t nan = io::float_to_half(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7C00) == 0x7C00);
  CHECK((nan & 0x03FF) != 0);
}

TEST_CASE("float16 and bfloat16 decoding, and every half surviving a round trip", "[engine][io]") {
  CHECK(io::half_to_float(0x3C00) == 1.0f);
  CHECK(io::half_to_float(0x7BFF) == 65504.0f);
  CHECK(io::half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(io::half_to_float(0x03FF) == std::ldexp(1023.0f, -24));
  CHECK(io::half_to_float(0x0400) == std::ldexp(1.0f, -14));
  CHECK(io::half_to_float(0xC000) == -2.0f);
  CHECK(io::half_to_float(0x3555) == 0.333251953125f);
  const float negative_zero = io::half_to_float(0x8000);
  CHECK(negative_zero == 0.0f);
  CHECK(std::signbit(negative_zero));
  CHECK(io::half_to_float(0x7C00) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(io::half_to_float(0x7E00)));
  CHECK(io::bfloat16_to_float(0x3F80) == 1.0f);
  CHECK(io::bfloat16_to_float(0xC040) == -3.0f);
  CHECK(io::bfloat16_to_float(0x0001) == bits_to_float(0x00010000u));
  // Every non-NaN half is exactly a float, so it must come back to the same bits.
  int mismatches = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const bool is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x03FF);
    if (!is_nan && io::float_to_half(io::half_to_float(uint16_t(h))) != h) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE(".safetensors written as F16 reads back rounded, and refuses values beyond float16", "[engine][io]") {
  const Tensor t = Tensor::from_vector({1.0f, 0.1f, -65504.0f, 1e-8f, -0.0f, 3.14159f}, {2, 3});
  const std::string bytes = io::encode_safetensors({{"w", t}}, {{"k", "v"}}, io::FileDtype::f16);
  CHECK(bytes.find("\"dtype\":\"F16\"") != std::string::npos);
  CHECK(bytes.find("\"data_offsets\":[0,12]") != std::string::npos);
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  REQUIRE(bytes.size() == 8 + len + 12);
  uint16_t first;
  std::memcpy(&first, bytes.data() + 8 + len, 2);
  CHECK(first == 0x3C00);
  const io::NamedTensors back = io::decode_safetensors(bytes, "half.safetensors");
  CHECK(back.metadata.at("k") == "v");
  const std::vector<float> v = back.at("w").to_vector();
  CHECK(v == std::vector<float>{1.0f, io::half_to_float(0x2E66), -65504.0f, 0.0f, -0.0f, io::half_to_float(0x4248)});
  CHECK_THROWS_WITH(io::encode_safetensors({{"big.weight", Tensor::from_vector({1.0f, 70000.0f}, {2})}}, {},
                                           io::FileDtype::f16),
                    Catch::Contains("'big.weight'") && Catch::Contains("element 1") && Catch::Contains("65504"));
}

TEST_CASE("F16 and BF16 tensors laid out by hand read back as float32", "[engine][io]") {
  const uint16_t half[3] = {0x3C00, 0xC000, 0x0001};  // 1, -2, 2^-24
  const uint16_t bf[2] = {0x3F80, 0x4049};            // 1, 3.140625
  std::string data(reinterpret_cast<const char*>(half), 6);
  data.append(reinterpret_cast<const char*>(bf), 4);
  const std::string bytes = safetensors_bytes(
      R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}})",
      data);
  const io::NamedTensors t = io::decode_safetensors(bytes, "hand16");
  CHECK(t.at("h").to_vector() == std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)});
  CHECK(t.at("b").to_vector() == std::vector<float>{1.0f, 3.140625f});
}

TEST_CASE("safetensors reading validates the header instead of trusting it", "[engine][io]") {
  const std::string eight(8, '\0');
  struct Case {
    const char* what;
    std::string header, data, expect;
  };
  const std::vector<Case> cases = {
      {"shape overflowing 64 bits", R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})",
       eight, "'w' declares a shape too large"},
      // 5581 * 826318942560005 = 2^62 + 1 elements: 4 bytes each wraps around 2^64 to exactly the 4 bytes the
      // offsets give it, so a reader multiplying without a check would accept it and allocate 2^62 floats.
      {"byte size wrapping to the data's size", R"({"w":{"dtype":"F32","shape":[5581,826318942560005],"data_offsets":[0,4]}})",
       std::string(4, '\0'), "needs more bytes"},
      {"shape larger than the file", R"({"w":{"dtype":"F32","shape":[1073741824,4],"data_offsets":[0,8]}})", eight,
       "needs more bytes"},
      {"fractional dimension", R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}})", eight, "bad shape"},
      {"negative offset", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", eight, "data_offsets"},
      {"offset 1e300", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,1e300]}})", eight, "data_offsets"},
      {"size disagreeing with shape", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", eight,
       "is 4 bytes but"},
      {"overlapping tensors",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       eight, "overlapping"},
      {"bytes after the last tensor", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight,
       "after the last tensor"},
      {"duplicate name",
       R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       eight, "appears twice"},
      {"metadata not an object", R"({"__metadata__":[1],"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       eight, "malformed metadata"},
      {"metadata value not a string", R"({"__metadata__":{"step":7},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       eight, "'step'"},
      {"unknown dtype", R"({"w":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}})", eight, "dtype I8"},
      {"bad \\u escape", R"({"w\u+0FF":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight, "malformed"},
      {"NUL inside a number", std::string(R"({"w":{"dtype":"F32","shape":[2)") + '\0' + R"(],"data_offsets":[0,8]}})",
       eight, "malformed"},
      {"not an object", "[1,2]", "", "not a JSON object"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK_THROWS_WITH(io::decode_safetensors(safetensors_bytes(c.header, c.data), "damaged.safetensors"),
                      Catch::Contains("damaged.safetensors") && Catch::Contains(c.expect));
  }
  // What the spec allows still reads: an empty tensor sharing its offset with the next one, in any order.
  const std::string ok = safetensors_bytes(
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}})",
      eight);
  const io::NamedTensors t = io::decode_safetensors(ok, "ok");
  CHECK(t.at("e").numel() == 0);
  CHECK(t.at("w").numel() == 2);
}

TEST_CASE(".npy reading refuses malformed and overflowing shapes with its own error", "[engine][io]") {
  auto npy = [](const std::string& shape) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    const uint16_t len = uint16_t(header.size());
    out.append(reinterpret_cast<const char*>(&len), 2);
    return out + header + std::string(8, '\0');
  };
  const std::string path = temp_path("bad.npy");
  for (const std::string& shape : {std::string("(4294967296, 4294967296, 4)"), std::string("(x, 2)"),
                                   std::string("(-1,)"), std::string("(3,)")}) {
    write_raw(path, npy(shape));
    INFO(shape);
    CHECK_THROWS_WITH(io::load_npy(path), Catch::Contains("bad.npy"));
  }
  write_raw(path, npy("(2,)"));
  CHECK(io::load_npy(path).numel() == 2);
}
