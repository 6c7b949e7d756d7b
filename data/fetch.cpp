#include "data/fetch.h"

#include <fnmatch.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "data/rcc.h"
#include "data/sha256.h"
#include "engine/error.h"
#include <fmt/ranges.h>

namespace tint {

namespace fs = std::filesystem;

namespace {

// What to take from each package, as DATA.md lists it. Photos only: drawings, logos and renders are left out
// by name where they share a folder with photos.
struct Rule {
  const char* package;
  const char* split;     // "train" or "val"
  const char* folder;    // inside the package
  const char* dest;      // under DIR/<split>/
  std::vector<const char*> patterns;
  std::vector<const char*> excluded;
};

const std::map<std::string, std::string>& licences() {
  static const std::map<std::string, std::string> m = {
      {"gcompris-qt-data", "per file: CC-BY-SA, CC-BY, CC0 or public domain (see the activity's resource README)"},
      {"krank", "public domain"},
      {"tuxpaint-data", "GPL-2+"},
      {"gnome-control-center-data", "GPL-2+"},
      {"mate-backgrounds", "GPL-2+"},
      {"lomiri-wallpapers-16.04", "CC-BY / CC-BY-SA 4.0"},
      {"lxqt-themes", "CC-BY-SA-3.0 / LGPL"},
      {"palapeli-data", "GPL-2+"},
      {"libdlib19.1", "Boost / CC0"},
      {"scratch", "CC-BY-SA-3.0"},
  };
  return m;
}

const std::vector<Rule>& rules() {
  static const std::vector<const char*> scratch_drawings = {"chalkboard.jpg", "party-room.jpg", "room1.jpg", "room2.jpg",
                                                             "room3.jpg", "spotlight-stage.jpg", "woods-and-bench.jpg",
                                                             "school2.jpg"};
  static const std::vector<Rule> r = {
      {"krank", "train", "usr/share/games/krank/levels/unera-backgrounds", "krank", {"*.jpg"}, {}},
      {"tuxpaint-data", "train", "usr/share/tuxpaint/templates", "tuxpaint-data", {"*.jpg"}, {}},
      {"tuxpaint-data", "train", "usr/share/tuxpaint/starters", "tuxpaint-data", {"reef-back.png", "skyline-sf-dusk-back.jpeg"}, {}},
      {"gnome-control-center-data", "train", "usr/share/pixmaps/faces", "gnome-control-center-data", {"*.jpg"}, {}},
      {"mate-backgrounds", "train", "usr/share/backgrounds/mate/nature", "mate-backgrounds", {"*.jpg"}, {}},
      {"lomiri-wallpapers-16.04", "train", "usr/share/backgrounds", "lomiri-wallpapers-16.04", {"*.jpg"},
       {"analogpattern_by_Peter_Nerlich.jpg", "umang_by_Abhishek_Mudgal.jpg", "greentock_by_Peter_Nerlich.jpg"}},
      {"lxqt-themes", "train", "usr/share/lxqt/wallpapers", "lxqt-themes",
       {"Butterfly-Kenneth-Wimer.jpg", "after-the-rain.jpg", "fog.jpg", "this-is-not-windows.jpg", "Valendas.png",
        "appleflower.png", "beam.png", "butterfly.png", "cloud.png", "drop.png", "flowers.png"},
       {}},
      {"palapeli-data", "train", "usr/share/palapeli/collection", "palapeli-data", {"*.jpg"}, {}},
      {"libdlib19.1", "train", "usr/share/doc/libdlib19.1/examples/faces", "libdlib19.1", {"*.jpg"}, {}},
      {"libdlib19.1", "train", "usr/share/doc/libdlib19.1/examples", "libdlib19.1", {"mmod_cars_test_image*.jpg"}, {}},
      {"scratch", "val", "usr/share/scratch/Media/Backgrounds/Indoors", "scratch/Indoors", {"*.jpg"}, scratch_drawings},
      {"scratch", "val", "usr/share/scratch/Media/Backgrounds/Nature", "scratch/Nature", {"*.jpg"}, scratch_drawings},
      {"scratch", "val", "usr/share/scratch/Media/Backgrounds/Outdoors", "scratch/Outdoors", {"*.jpg"}, scratch_drawings},
      {"scratch", "val", "usr/share/scratch/Media/Backgrounds/Sports", "scratch/Sports", {"*.jpg"}, scratch_drawings},
  };
  return r;
}

const char* const kGcomprisActivities[] = {"erase", "explore_farm_animals", "explore_monuments", "explore_world_animals",
                                           "explore_world_music", "categorization", "clickgame", "details"};

bool wanted_gcompris(const std::string& activity, const std::string& path) {
  if (path.size() < 5 || path.compare(path.size() - 5, 5, ".webp") != 0) return false;
  if (path.find("/activities/" + activity + "/") == std::string::npos) return false;
  const std::string file = path.substr(path.rfind('/') + 1);
  if (activity == "clickgame") return file.rfind("sea", 0) == 0;
  if (activity == "details") {
    // The backgrounds; the Van Gogh paintings among them are not photos.
    return file.find("_background.webp") != std::string::npos && file.find("Gogh") == std::string::npos &&
           file.find("PereTanguy") == std::string::npos && file.find("Eglise_dAuvers") == std::string::npos;
  }
  if (activity == "categorization")
    return path.find("/images/alphabets/") == std::string::npos && path.find("/images/numbers/") == std::string::npos;
  return true;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command, returning its exit status and combined output.
int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, got);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have_command(const char* name) {
  std::string out;
  return run_command(std::string("command -v ") + name, out) == 0;
}

std::string tail_lines(const std::string& s, int lines) {
  size_t pos = s.size();
  for (int i = 0; i <= lines && pos > 0; ++i) {
    pos = s.rfind('\n', pos - 1);
    if (pos == std::string::npos) return s;
  }
  return s.substr(pos + 1);
}

// "krank_0.7+dfsg2-4_all.deb" in the cache, or empty.
std::string cached_deb(const fs::path& cache, const std::string& package) {
  std::error_code ec;
  std::string best;
  for (const auto& e : fs::directory_iterator(cache, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(package + "_", 0) == 0 && name.size() > 4 && name.compare(name.size() - 4, 4, ".deb") == 0)
      best = std::max(best, name);
  }
  return best;
}

std::string deb_version(const std::string& deb_name) {
  const size_t a = deb_name.find('_'), b = deb_name.rfind('_');
  if (a == std::string::npos || b <= a) return "?";
  std::string v;  // the epoch's ':' is stored as %3a in file names
  for (size_t i = a + 1; i < b; ++i) {
    if (deb_name.compare(i, 3, "%3a") == 0) {
      v += ':';
      i += 2;
    } else {
      v += deb_name[i];
    }
  }
  return v;
}

struct Written {
  std::string rel;  // relative to DIR
  std::string hash;
  std::string package, version, source, licence;
};

}  // namespace

std::string default_fetch_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "tint" / "debs").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "tint" / "debs").string();
  return (fs::temp_directory_path() / "tint-debs").string();
}

FetchReport fetch_photo_sets(const FetchOptions& o) {
  auto log = [&](const std::string& line) {
    if (o.log)
      o.log(line);
    else
      std::fprintf(stderr, "%s\n", line.c_str());
  };
  TINT_CHECK(!o.dir.empty(), "tint data fetch: no target folder given");
  const fs::path dir(o.dir);
  const fs::path cache(o.cache_dir.empty() ? default_fetch_cache_dir() : o.cache_dir);
  FetchReport report;
  report.cache_dir = cache.string();

  // Quick path: a complete earlier fetch.
  const fs::path manifest = dir / "MANIFEST.sha256";
  if (!o.force && fs::exists(manifest)) {
    std::ifstream in(manifest);
    std::string line;
    bool complete = true;
    int files = 0;
    while (std::getline(in, line)) {
      if (line.size() < 67) continue;
      const std::string rel = line.substr(66);
      if (!fs::exists(dir / rel)) {
        complete = false;
        break;
      }
      ++files;
      (rel.rfind("val/", 0) == 0 ? report.val : report.train)++;
    }
    if (complete && files > 0) {
      report.already_present = true;
      return report;
    }
  }

  for (const char* tool : {"apt-get", "dpkg-deb"})
    TINT_CHECK(have_command(tool),
               "tint data fetch needs `{}` (Debian or Ubuntu) and it is not on PATH. On another system, copy a fetched "
               "folder from a Debian machine, or point tint at your own photos (any folder of JPEG/PNG/WebP files).",
               tool);
  std::error_code ec;
  fs::create_directories(cache, ec);
  TINT_CHECK(!ec, "tint data fetch: cannot create the cache folder {}: {}", cache.string(), ec.message());
  fs::create_directories(dir, ec);
  TINT_CHECK(!ec, "tint data fetch: cannot create {}: {}", dir.string(), ec.message());

  // 1. Download what the cache lacks.
  std::vector<std::string> packages;
  for (const auto& [pkg, licence] : licences()) packages.push_back(pkg);
  std::vector<std::string> missing;
  for (const auto& p : packages)
    if (cached_deb(cache, p).empty()) missing.push_back(p);
  if (!missing.empty()) {
    std::string command = "cd " + quote(cache.string()) + " && apt-get download";
    for (const auto& p : missing) command += " " + p;
    log(fmt::format("downloading {} package{} into {}", missing.size(), missing.size() == 1 ? "" : "s", cache.string()));
    std::string out;
    int status = run_command(command, out);
    if (status != 0 && ::geteuid() == 0) {
      log("apt-get download failed; running apt-get update once and retrying");
      std::string update_out;
      run_command("apt-get update -qq", update_out);
      status = run_command(command, out);
    }
    TINT_CHECK(status == 0,
               "tint data fetch: `apt-get download {}` failed (exit {}):\n{}\nIf the packages are unknown, run `apt-get "
               "update` (as root) first; the machine also needs to reach a Debian mirror.",
               fmt::join(missing, " "), status, tail_lines(out, 6));
  }

  // 2. Extract each package once (dpkg-deb -x, nothing installed), in parallel.
  std::map<std::string, std::string> debs;
  for (const auto& p : packages) {
    debs[p] = cached_deb(cache, p);
    TINT_CHECK(!debs[p].empty(), "tint data fetch: {} is missing from {} after the download", p, cache.string());
  }
  std::vector<std::thread> extractors;
  std::map<std::string, std::string> errors;
  std::mutex errors_m;
  for (const auto& p : packages) {
    const fs::path root = cache / "extracted" / p;
    const fs::path marker = root / ".extracted-from";
    std::string seen;
    if (std::ifstream m(marker); m) std::getline(m, seen);
    if (seen == debs[p]) continue;
    extractors.emplace_back([&, p, root, marker] {
      std::error_code e;
      fs::remove_all(root, e);
      fs::create_directories(root, e);
      std::string out;
      const int status = run_command("dpkg-deb -x " + quote((cache / debs[p]).string()) + " " + quote(root.string()), out);
      if (status != 0) {
        std::lock_guard lock(errors_m);
        errors[p] = fmt::format("dpkg-deb -x {} failed (exit {}): {}", debs[p], status, tail_lines(out, 4));
        return;
      }
      std::ofstream(marker) << debs[p] << "\n";
    });
  }
  if (!extractors.empty()) log(fmt::format("extracting {} package{}", extractors.size(), extractors.size() == 1 ? "" : "s"));
  for (auto& t : extractors) t.join();
  TINT_CHECK(errors.empty(), "tint data fetch: {}", errors.begin()->second);

  // 3. Copy the photos, each distinct file once.
  std::vector<Written> written;
  std::set<std::string> hashes;
  auto take = [&](const std::string& split, const std::string& rel_dest, const std::vector<uint8_t>& bytes,
                  const std::string& package, const std::string& source) {
    const std::string hash = Sha256::hex(bytes.data(), bytes.size());
    if (!hashes.insert(hash).second) {
      report.duplicates++;
      return;
    }
    const fs::path out = dir / split / rel_dest;
    fs::create_directories(out.parent_path());
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    TINT_CHECK(f.good(), "tint data fetch: cannot write {}", out.string());
    written.push_back({split + "/" + rel_dest, hash, package, deb_version(debs[package]), source, licences().at(package)});
    (split == "val" ? report.val : report.train)++;
    report.bytes += int64_t(bytes.size());
  };
  for (const char* split : {"train", "val"}) fs::remove_all(dir / split, ec);
  for (const Rule& rule : rules()) {
    const fs::path folder = cache / "extracted" / rule.package / rule.folder;
    TINT_CHECK(fs::is_directory(folder), "tint data fetch: {} has no folder {} (a different package version?)", rule.package, rule.folder);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(folder)) {
      if (e.is_symlink() || !e.is_regular_file()) continue;  // gnome's 96 px faces are links into legacy/
      const std::string name = e.path().filename().string();
      const bool match = std::any_of(rule.patterns.begin(), rule.patterns.end(),
                                     [&](const char* p) { return ::fnmatch(p, name.c_str(), 0) == 0; });
      const bool excluded = std::any_of(rule.excluded.begin(), rule.excluded.end(), [&](const char* x) { return name == x; });
      if (match && !excluded) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      take(rule.split, fmt::format("{}/{}", rule.dest, f.filename().string()), bytes, rule.package,
           fmt::format("/{}/{}", rule.folder, f.filename().string()));
    }
  }
  const fs::path rcc_folder = cache / "extracted" / "gcompris-qt-data" / "usr/share/gcompris-qt/rcc";
  for (const char* activity : kGcomprisActivities) {
    const fs::path file = rcc_folder / (std::string(activity) + ".rcc");
    const RccBundle bundle = read_rcc(file.string());
    std::vector<const RccEntry*> picked;
    for (const auto& e : bundle.entries)
      if (wanted_gcompris(activity, e.path)) picked.push_back(&e);
    std::sort(picked.begin(), picked.end(), [](const RccEntry* a, const RccEntry* b) { return a->path < b->path; });
    for (const RccEntry* e : picked) {
      if (e->compressed()) {
        log(fmt::format("skipping {} in {}: compressed entry", e->path, file.filename().string()));
        continue;
      }
      // ".../activities/<activity>/resource/a/b.webp" -> "<activity>/a_b.webp"
      std::string rest = e->path.substr(e->path.find("/activities/") + 12);
      rest = rest.substr(rest.find('/') + 1);
      if (rest.rfind("resource/", 0) == 0) rest = rest.substr(9);
      std::replace(rest.begin(), rest.end(), '/', '_');
      take("train", fmt::format("gcompris-qt-data/{}/{}", activity, rest), bundle.contents(*e), "gcompris-qt-data",
           fmt::format("/usr/share/gcompris-qt/rcc/{}.rcc:{}", activity, e->path));
    }
  }

  // 4. Manifest and sources, written last: an interrupted fetch leaves no manifest and runs again.
  std::sort(written.begin(), written.end(), [](const Written& a, const Written& b) { return a.rel < b.rel; });
  {
    std::ofstream sources(dir / "SOURCES.tsv", std::ios::trunc);
    sources << "file\tpackage\tversion\tpath in package\tlicence\n";
    for (const auto& w : written)
      sources << w.rel << "\t" << w.package << "\t" << w.version << "\t" << w.source << "\t" << w.licence << "\n";
    std::ofstream m(manifest.string() + ".tmp", std::ios::trunc);
    for (const auto& w : written) m << w.hash << "  " << w.rel << "\n";
    m.close();
    TINT_CHECK(m.good() && sources.good(), "tint data fetch: cannot write the manifest in {}", dir.string());
  }
  fs::rename(manifest.string() + ".tmp", manifest);
  return report;
}

}  // namespace tint
