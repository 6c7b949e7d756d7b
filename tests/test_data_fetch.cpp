// The pieces of `tint data fetch` that need no network: SHA-256 against the FIPS 180-4 examples, and the Qt
// resource bundle reader on a bundle built here byte by byte.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "data/rcc.h"
#include "data/sha256.h"
#include "engine/error.h"

using namespace tint;

TEST_CASE("sha256: FIPS 180-4 example digests, any chunking") {
  CHECK(Sha256::hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(Sha256::hex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  Sha256 h;  // fed in odd pieces, across block boundaries
  for (size_t at = 0; at < million.size(); at += 997) h.update(million.data() + at, std::min<size_t>(997, million.size() - at));
  const auto d = h.finish();
  CHECK(d[0] == 0xcd);
  CHECK(d[1] == 0xc7);
  CHECK(d[31] == 0xd0);  // cdc76e5c 9914fb92 81a1c7e2 84d73e67 f1809a48 a497200e 046d39cc c7112cd0
}

namespace {

struct RccBuilder {
  std::vector<uint8_t> tree, names, data;
  int version = 2;
  static void u32(std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
  }
  static void u16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(uint8_t(x >> 8));
    v.push_back(uint8_t(x));
  }
  uint32_t name(const std::string& s) {
    const uint32_t at = uint32_t(names.size());
    u16(names, uint16_t(s.size()));
    u32(names, 0);  // hash: not checked by readers
    for (char c : s) u16(names, uint16_t(c));
    return at;
  }
  void pad_entry() {
    if (version >= 2)
      for (int i = 0; i < 8; ++i) tree.push_back(0);
  }
  void dir(uint32_t name_offset, uint32_t count, uint32_t first) {
    u32(tree, name_offset);
    u16(tree, 2);
    u32(tree, count);
    u32(tree, first);
    pad_entry();
  }
  void file(uint32_t name_offset, uint16_t flags, const std::string& contents) {
    u32(tree, name_offset);
    u16(tree, flags);
    u16(tree, 0);
    u16(tree, 0);
    u32(tree, uint32_t(data.size()));
    pad_entry();
    u32(data, uint32_t(contents.size()));
    data.insert(data.end(), contents.begin(), contents.end());
  }
  std::vector<uint8_t> build() const {
    std::vector<uint8_t> out = {'q', 'r', 'e', 's'};
    const uint32_t tree_at = 20, data_at = tree_at + uint32_t(tree.size()), names_at = data_at + uint32_t(data.size());
    u32(out, uint32_t(version));
    u32(out, tree_at);
    u32(out, data_at);
    u32(out, names_at);
    out.insert(out.end(), tree.begin(), tree.end());
    out.insert(out.end(), data.begin(), data.end());
    out.insert(out.end(), names.begin(), names.end());
    return out;
  }
};

}  // namespace

TEST_CASE("rcc: a hand-built bundle lists its files with full paths and contents") {
  for (int version : {1, 2, 3}) {
    INFO("version " << version);
    RccBuilder b;
    b.version = version;
    // 0: root {1: "act" {3: "a.webp", 4: "b.txt" (zlib flag)}, 2: "z.webp"}
    b.dir(0, 2, 1);
    b.dir(b.name("act"), 2, 3);
    b.file(b.name("z.webp"), 0, "ZZZ");
    b.file(b.name("a.webp"), 0, "RIFF....WEBP");
    b.file(b.name("b.txt"), 1, "xx");
    const RccBundle bundle = parse_rcc(b.build(), "test.rcc");
    REQUIRE(bundle.entries.size() == 3);
    CHECK(bundle.entries[0].path == "/act/a.webp");
    CHECK(bundle.entries[1].path == "/act/b.txt");
    CHECK(bundle.entries[2].path == "/z.webp");
    const auto a = bundle.contents(bundle.entries[0]);
    CHECK(std::string(a.begin(), a.end()) == "RIFF....WEBP");
    CHECK(bundle.entries[1].compressed());
    CHECK_THROWS_AS(bundle.contents(bundle.entries[1]), tint::Error);
  }
}

TEST_CASE("rcc: malformed bundles are errors naming the file") {
  CHECK_THROWS_WITH(parse_rcc({'n', 'o', 'p', 'e'}, "bad.rcc"), Catch::Contains("bad.rcc"));
  RccBuilder b;
  b.dir(0, 1, 1);
  b.file(b.name("x"), 0, "abc");
  auto bytes = b.build();
  const auto truncated = std::vector<uint8_t>(bytes.begin(), bytes.end() - 5);
  CHECK_THROWS_AS(parse_rcc(truncated, "cut.rcc"), tint::Error);
  RccBuilder loop;  // a directory that contains itself
  loop.dir(0, 1, 0);
  CHECK_THROWS_WITH(parse_rcc(loop.build(), "loop.rcc"), Catch::Contains("loop"));
  CHECK_THROWS_AS(read_rcc("/nonexistent/file.rcc"), tint::Error);
}
