#include "tools/args.h"

#include <algorithm>

namespace tint::cli {

Args::Args(int argc, char** argv, std::vector<std::string> flags) : command_(argc > 0 ? argv[0] : "tint") {
  flags.push_back("help");
  flags.push_back("h");
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0 || (a.size() == 2 && a[0] == '-' && a[1] != '-')) {
      std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (std::find(flags.begin(), flags.end(), name) == flags.end()) {
        TINT_CHECK(i + 1 < argc, "{}: option --{} needs a value", command_, name);
        value = argv[++i];
      } else {
        value = "1";
      }
      options_[name] = value;
    } else {
      positional_.push_back(a);
    }
  }
}

bool Args::has(const std::string& name) const { return options_.count(name) > 0; }

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = options_.find(name);
  return it == options_.end() ? fallback : it->second;
}

int Args::get_int(const std::string& name, int fallback) const {
  auto it = options_.find(name);
  if (it == options_.end()) return fallback;
  try {
    size_t used;
    int v = std::stoi(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  throw Error(fmt::format("{}: --{} expects an integer, got '{}'", command_, name, it->second));
}

double Args::get_double(const std::string& name, double fallback) const {
  auto it = options_.find(name);
  if (it == options_.end()) return fallback;
  try {
    size_t used;
    double v = std::stod(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  throw Error(fmt::format("{}: --{} expects a number, got '{}'", command_, name, it->second));
}

int Args::get_int(const std::string& name, int fallback, int lo, int hi) const {
  const int v = get_int(name, fallback);
  TINT_CHECK(v >= lo && v <= hi, "{}: --{} must be between {} and {}, got {}", command_, name, lo, hi, v);
  return v;
}

double Args::get_double(const std::string& name, double fallback, double lo, double hi) const {
  const double v = get_double(name, fallback);
  TINT_CHECK(v >= lo && v <= hi, "{}: --{} must be between {} and {}, got {}", command_, name, lo, hi, v);
  return v;
}

void Args::check_known(const std::vector<std::string>& known) const {
  for (auto& [name, value] : options_) {
    if (name == "help" || name == "h") continue;
    if (std::find(known.begin(), known.end(), name) == known.end())
      throw Error(fmt::format("{}: unknown option --{} (see '{} --help')", command_, name,
                              command_ == "tint" ? std::string("tint") : fmt::format("tint {}", command_)));
  }
}

}  // namespace tint::cli
