// A deterministic fuzz run over the decoders: small valid images of every format, made here, mutated one
// way at a time (bit flips, truncations, inserted and deleted bytes, header fields set to extreme values,
// bytes copied from elsewhere in the file). Every case must either decode to a sane image or be refused as a
// BadImage with a non-empty reason naming the file; anything else (another exception, a crash, a sanitizer
// report, an image whose buffer does not match its size) fails. TINT_FUZZ_CASES=N sets the number of cases
// (default 3000, under 2 s with ASan and UBSan); TINT_FUZZ_SEED=S starts another sequence.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/image.h"
#include "test_data_fixtures.h"

using namespace tint;
using tint::test::TempDir;

namespace {

struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? size_t(next() % n) : 0; }
};

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

struct Seed {
  std::string format;
  std::string name;  // the file name decode_image sees (TGA is recognised by its extension)
  std::vector<uint8_t> bytes;
};

std::vector<Seed> seeds() {
  std::vector<Seed> out;
  const Image a = test::pattern_image(13, 9, 1), b = test::pattern_image(32, 17, 2);
  for (const char* f : {"jpeg", "png", "gif", "bmp", "tga", "tga-raw", "webp"}) {
    const std::string ext = std::string(f) == "tga-raw" ? "tga" : std::string(f) == "jpeg" ? "jpg" : f;
    out.push_back({f, "fuzz_a." + ext, test::encode_image(a, f)});
    out.push_back({f, "fuzz_b." + ext, test::encode_image(b, f)});
  }
  return out;
}

// One mutation of `v`, chosen by the generator; returns its name for the failure message.
std::string mutate(std::vector<uint8_t>& v, Rng& rng) {
  const uint8_t extremes[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE};
  switch (rng.below(7)) {
    case 0: {  // a few bit flips anywhere
      const size_t flips = 1 + rng.below(4);
      for (size_t i = 0; i < flips; ++i) v[rng.below(v.size())] ^= uint8_t(1u << rng.below(8));
      return "bit flips";
    }
    case 1:  // truncation
      v.resize(rng.below(v.size()));
      return "truncated to " + std::to_string(v.size());
    case 2: {  // random bytes inserted
      const size_t at = rng.below(v.size() + 1), count = 1 + rng.below(16);
      std::vector<uint8_t> junk(count);
      for (auto& x : junk) x = uint8_t(rng.next());
      v.insert(v.begin() + long(at), junk.begin(), junk.end());
      return "inserted " + std::to_string(count) + " at " + std::to_string(at);
    }
    case 3: {  // bytes deleted
      const size_t at = rng.below(v.size()), count = 1 + rng.below(std::min<size_t>(64, v.size() - at));
      v.erase(v.begin() + long(at), v.begin() + long(at + count));
      return "deleted " + std::to_string(count) + " at " + std::to_string(at);
    }
    case 4: {  // header fields (the first 40 bytes: sizes, depths, lengths) set to extreme values
      const size_t edits = 1 + rng.below(3);
      for (size_t i = 0; i < edits; ++i)
        v[rng.below(std::min<size_t>(40, v.size()))] = extremes[rng.below(6)];
      return "header edits";
    }
    case 5: {  // a run copied from elsewhere in the file (repeated markers and chunk headers)
      const size_t from = rng.below(v.size()), to = rng.below(v.size());
      const size_t count = std::min({size_t(1 + rng.below(32)), v.size() - from, v.size() - to});
      std::copy(v.begin() + long(from), v.begin() + long(from + count), v.begin() + long(to));
      return "copied run";
    }
    default: {  // a random byte value somewhere past the header
      v[rng.below(v.size())] = uint8_t(rng.next());
      return "byte set";
    }
  }
}

}  // namespace

TEST_CASE("image fuzz: mutated images of every format decode sanely or are refused with a reason", "[fuzz]") {
  const uint64_t cases = env_or("TINT_FUZZ_CASES", 3000), seed = env_or("TINT_FUZZ_SEED", 1);
  constexpr int64_t kMaxPixels = 1 << 20;  // mutated headers that claim more are refused, not decoded
  const std::vector<Seed> originals = seeds();
  TempDir dir("image_fuzz");
  Rng rng{seed};
  int failures = 0, accepted = 0;
  std::vector<int> by_reason(kBadImageReasons, 0);
  for (uint64_t c = 0; c < cases; ++c) {
    const Seed& s = originals[c % originals.size()];
    std::vector<uint8_t> bytes = s.bytes;
    std::string how = mutate(bytes, rng);
    if (rng.below(4) == 0 && !bytes.empty()) how += ", " + mutate(bytes, rng);  // sometimes two at once
    const std::string path = dir / s.name;
    std::string problem;
    try {
      // Every 16th case goes through a file, so the careful reader (prefix probe, size checks) is fuzzed too.
      Image img;
      if (c % 16 == 0) {
        test::write_bytes(path, bytes);
        img = load_image(path, kMaxPixels);
      } else {
        // JPEG's speed settings and its DCT-domain reduction take other paths through libjpeg: cycle
        // through them (from the case number, so the mutations stay those of the seed).
        const JpegOptions jpeg{c % 3 == 1, c % 5 != 2};
        img = decode_image(bytes, path, kMaxPixels, c % 7 == 3 ? 8 : 0, jpeg);
      }
      if (img.width <= 0 || img.height <= 0 || img.pixels() > kMaxPixels ||
          img.rgb.size() != size_t(img.pixels()) * 3)
        problem = "accepted an image of " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                  " with " + std::to_string(img.rgb.size()) + " bytes";
      ++accepted;
    } catch (const BadImage& e) {
      by_reason[int(e.reason)]++;
      if (e.detail.empty() || e.detail == "no detail given")
        problem = "refused without a reason: " + std::string(e.what());
      else if (std::string(e.what()).find(path) == std::string::npos)
        problem = "message does not name the file: " + std::string(e.what());
    } catch (const std::exception& e) {
      problem = std::string("threw something other than BadImage: ") + e.what();
    }
    if (!problem.empty() && ++failures <= 10)
      UNSCOPED_INFO("case " << c << " (" << s.format << ", " << how << "): " << problem);
  }
  std::string summary = fmt::format("{} cases, {} accepted", cases, accepted);
  for (int r = 0; r < kBadImageReasons; ++r)
    if (by_reason[size_t(r)])
      summary += fmt::format(", {} {}", by_reason[size_t(r)], reason_name(BadImageReason(r)));
  WARN(summary);
  CHECK(failures == 0);
  // The mutations must reach the decoders, not only the sniffing: many cases are corrupt, some still decode.
  CHECK(by_reason[int(BadImageReason::corrupt)] > int(cases / 10));
  CHECK(accepted > int(cases / 20));
}
