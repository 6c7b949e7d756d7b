#include "data/rcc.h"

#include "data/image.h"
#include "engine/error.h"

namespace tint {
namespace {

struct Reader {
  const std::vector<uint8_t>& b;
  const std::string& name;
  uint32_t u32(uint64_t at) const {
    TINT_CHECK(at + 4 <= b.size(), "{}: Qt resource bundle truncated (read at {} of {})", name, at, b.size());
    return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
  }
  uint16_t u16(uint64_t at) const {
    TINT_CHECK(at + 2 <= b.size(), "{}: Qt resource bundle truncated (read at {} of {})", name, at, b.size());
    return uint16_t(b[at] << 8 | b[at + 1]);
  }
};

std::string utf16be_to_utf8(const std::vector<uint8_t>& b, uint64_t at, uint32_t chars, const std::string& name) {
  TINT_CHECK(at + 2ull * chars <= b.size(), "{}: resource name runs past the end", name);
  std::string out;
  for (uint32_t i = 0; i < chars; ++i) {
    uint32_t c = uint32_t(b[at + 2 * i]) << 8 | b[at + 2 * i + 1];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < chars) {  // surrogate pair
      const uint32_t lo = uint32_t(b[at + 2 * i + 2]) << 8 | b[at + 2 * i + 3];
      c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
      ++i;
    }
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xC0 | c >> 6);
      out += char(0x80 | (c & 63));
    } else if (c < 0x10000) {
      out += char(0xE0 | c >> 12);
      out += char(0x80 | (c >> 6 & 63));
      out += char(0x80 | (c & 63));
    } else {
      out += char(0xF0 | c >> 18);
      out += char(0x80 | (c >> 12 & 63));
      out += char(0x80 | (c >> 6 & 63));
      out += char(0x80 | (c & 63));
    }
  }
  return out;
}

}  // namespace

std::vector<uint8_t> RccBundle::contents(const RccEntry& e) const {
  TINT_CHECK(!e.compressed(), "{}: resource {} is compressed (flags {}); only stored entries are read", file, e.path, e.flags);
  return std::vector<uint8_t>(bytes.begin() + int64_t(e.offset), bytes.begin() + int64_t(e.offset + e.size));
}

RccBundle parse_rcc(std::vector<uint8_t> bytes, const std::string& name) {
  RccBundle bundle;
  bundle.file = name;
  bundle.bytes = std::move(bytes);
  const auto& b = bundle.bytes;
  TINT_CHECK(b.size() >= 20 && b[0] == 'q' && b[1] == 'r' && b[2] == 'e' && b[3] == 's',
             "{}: not a Qt resource bundle (no 'qres' magic)", name);
  const Reader r{b, name};
  const uint32_t version = r.u32(4), tree = r.u32(8), data = r.u32(12), names = r.u32(16);
  TINT_CHECK(version >= 1 && version <= 3, "{}: Qt resource format version {} is not supported", name, version);
  const uint64_t entry_size = version >= 2 ? 22 : 14;
  auto entry_name = [&](uint32_t offset) {
    const uint64_t at = uint64_t(names) + offset;
    return utf16be_to_utf8(b, at + 6, r.u16(at), name);
  };
  // Iterative walk with a visit budget: a malformed tree must not loop forever.
  struct Pending {
    uint32_t index;
    std::string prefix;
  };
  std::vector<Pending> stack = {{0, ""}};
  uint64_t visits = 0;
  const uint64_t max_visits = b.size() / entry_size + 1;
  while (!stack.empty()) {
    const Pending p = std::move(stack.back());
    stack.pop_back();
    TINT_CHECK(++visits <= max_visits, "{}: resource tree loops", name);
    const uint64_t e = uint64_t(tree) + p.index * entry_size;
    const uint32_t name_offset = r.u32(e);
    const uint16_t flags = r.u16(e + 4);
    const std::string here = p.index == 0 ? "" : p.prefix + "/" + entry_name(name_offset);
    if (flags & 2) {
      const uint32_t count = r.u32(e + 6), first = r.u32(e + 10);
      TINT_CHECK(count <= max_visits, "{}: directory {} claims {} children", name, here, count);
      for (uint32_t c = count; c-- > 0;) stack.push_back({first + c, here});
    } else {
      RccEntry entry;
      entry.path = here;
      entry.flags = flags;
      const uint64_t at = uint64_t(data) + r.u32(e + 10);
      entry.size = r.u32(at);
      entry.offset = at + 4;
      TINT_CHECK(entry.offset + entry.size <= b.size(), "{}: resource {} runs past the end of the bundle", name, here);
      bundle.entries.push_back(std::move(entry));
    }
  }
  return bundle;
}

RccBundle read_rcc(const std::string& path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(path);
  } catch (const BadImage& e) {
    throw Error(fmt::format("cannot read {}: {}", path, e.detail));
  }
  return parse_rcc(std::move(bytes), path);
}

}  // namespace tint
