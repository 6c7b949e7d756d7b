// Scanning hostile folder trees: symbolic-link loops, links to folders and files, dangling links, FIFOs and
// sockets named like images. Every tree is generated here; the expected lists are written out by hand.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "data/dataset.h"
#include "data/image.h"
#include "data/loader.h"
#include "test_data_fixtures.h"

using namespace tint;
using tint::test::TempDir;
namespace fs = std::filesystem;

namespace {

void small_png(const std::string& path) {
  test::write_png(path, test::pattern_image(6, 5, 3));
}

BadImage refusal(const std::string& path) {
  try {
    load_image(path);
  } catch (const BadImage& e) {
    return e;
  }
  FAIL("expected " << path << " to be refused");
  return BadImage(BadImageReason::corrupt, path, "");
}

}  // namespace

TEST_CASE("scan: a link back to its own folder is entered once, two loops do not hang") {
  TempDir dir("scan_loop");
  small_png(dir / "set/a.png");
  small_png(dir / "set/sub/b.png");
  fs::create_directory_symlink(".", dir / "set/x");        // x -> the folder itself
  fs::create_directory_symlink("..", dir / "set/sub/up");  // up -> the parent: a second, nested loop
  ScanReport report;
  const auto paths = scan_images(dir / "set", &report);
  REQUIRE(paths.size() == 2);
  CHECK(paths[0] == dir / "set/a.png");
  CHECK(paths[1] == dir / "set/sub/b.png");
  REQUIRE(report.not_followed.size() == 2);
  CHECK(report.not_followed[0].reason == "links to a folder already scanned");
  // Without a report the result is the same.
  CHECK(scan_images(dir / "set") == paths);
}

TEST_CASE("scan: a link to another folder is followed once, a link to a file is listed") {
  TempDir dir("scan_links");
  small_png(dir / "elsewhere/c.png");
  small_png(dir / "set/a.png");
  fs::create_directory_symlink(dir / "elsewhere", dir / "set/more");
  fs::create_directory_symlink(dir / "elsewhere", dir / "set/again");  // the same real folder: not twice
  fs::create_symlink(dir / "set/a.png", dir / "set/alias.png");
  ScanReport report;
  const auto paths = scan_images(dir / "set", &report);
  REQUIRE(paths.size() == 3);
  CHECK(paths[0] == dir / "set/a.png");
  CHECK(paths[1] == dir / "set/again/c.png");  // sorted traversal: "again" comes before "more"
  CHECK(paths[2] == dir / "set/alias.png");
  REQUIRE(report.not_followed.size() == 1);
  CHECK(report.not_followed[0].path == dir / "set/more");
}

TEST_CASE("scan: FIFOs, sockets and dangling links named like images are refused at once with the reason") {
  TempDir dir("scan_special");
  small_png(dir / "set/good.png");
  REQUIRE(::mkfifo((dir / "set/pipe.jpg").c_str(), 0600) == 0);
  fs::create_symlink(dir / "set/gone.png", dir / "set/dangling.png");
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = dir / "set/sock.png";
  const bool have_socket =
      sock_path.size() < sizeof addr.sun_path &&
      (std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path.c_str()), true) &&
      ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  const auto paths = scan_images(dir / "set");
  CHECK(paths.size() == (have_socket ? 4u : 3u));

  // Opening a FIFO for reading would block until a writer comes; it must be refused straight away.
  const auto t0 = std::chrono::steady_clock::now();
  const BadImage fifo = refusal(dir / "set/pipe.jpg");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK(fifo.reason == BadImageReason::unreadable);
  CHECK(fifo.detail == "a FIFO, not a regular file");
  const BadImage dangling = refusal(dir / "set/dangling.png");
  CHECK(dangling.reason == BadImageReason::unreadable);
  CHECK(dangling.detail == "No such file or directory");
  if (have_socket) {
    const BadImage s = refusal(sock_path);
    CHECK(s.detail.find("socket") != std::string::npos);
  }
  ::close(sock);

  // The loader counts them through the same path as any bad file.
  LoaderOptions opt;
  opt.image_size = 8;
  opt.batch_size = 2;
  opt.workers = 2;
  opt.epochs = 1;
  std::vector<std::string> warnings;
  opt.warn = [&](const std::string& w) { warnings.push_back(w); };
  Loader loader(paths, opt);
  int samples = 0;
  while (auto b = loader.next()) samples += b->size;
  CHECK(samples == 1);
  CHECK(loader.stats().bad_by_reason[int(BadImageReason::unreadable)] == int64_t(paths.size()) - 1);
  CHECK(warnings.size() == paths.size() - 1);
}

TEST_CASE("scan: a list file naming a FIFO does not block, a FIFO as the data set is an error") {
  TempDir dir("scan_list_fifo");
  small_png(dir / "a.png");
  REQUIRE(::mkfifo((dir / "pipe.png").c_str(), 0600) == 0);
  const std::string list = "a.png\npipe.png\n";
  test::write_bytes(dir / "list.txt", std::vector<uint8_t>(list.begin(), list.end()));
  const auto paths = scan_images(dir / "list.txt");
  REQUIRE(paths.size() == 2);
  CHECK(refusal(paths[1]).reason == BadImageReason::unreadable);
  REQUIRE(::mkfifo((dir / "list_pipe").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(scan_images(dir / "list_pipe"), Catch::Contains("neither a folder nor a list file"));
}
