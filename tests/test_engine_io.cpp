// .npy and .safetensors: round trips, a file laid out by hand from the format's spec, and bad files.
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/io.h"
#include "engine_test_util.h"

using namespace tint;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("tint_test_io_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
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
