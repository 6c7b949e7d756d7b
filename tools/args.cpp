#include "tools/args.h"

#include <algorithm>
#include <cmath>

namespace tint::cli {

namespace {
bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
bool looks_like_option(const std::string& a) {
  return a.rfind("--", 0) == 0 || (a.size() == 2 && a[0] == '-' && a[1] != '-');
}
}  // namespace

std::string Args::see_help() const {
  return fmt::format("see 'tint {} --help'", command_);
}

Args::Args(int argc, char** argv, const Options& o)
    : command_(!o.name.empty() ? o.name
               : argc > 0      ? argv[0]
                               : "tint") {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {  // everything after is positional, even "-x"
      for (++i; i < argc; ++i) positional_.push_back(argv[i]);
      break;
    }
    if (!looks_like_option(a)) {
      TINT_CHECK(int(positional_.size()) < o.max_positional, "{}: unexpected argument '{}' ({})", command_, a,
                 o.max_positional == 0 ? "this command takes none" : see_help());
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const bool is_flag = contains(o.flags, name) || name == "help" || name == "h";
    TINT_CHECK(is_flag || contains(o.values, name), "{}: unknown option --{} ({})", command_, name,
               see_help());
    if (is_flag) {
      TINT_CHECK(!inline_value, "{}: option --{} takes no value", command_, name);
      value = "1";
    } else if (!inline_value) {
      TINT_CHECK(i + 1 < argc, "{}: option --{} needs a value", command_, name);
      value = argv[++i];
    }
    TINT_CHECK(!options_.count(name), "{}: option --{} given twice", command_, name);
    options_[name] = value;
  }
}

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

bool Args::has(const std::string& name) const {
  return options_.count(name) > 0;
}

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
    if (used == it->second.size() && std::isfinite(v)) return v;
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
      throw Error(fmt::format("{}: unknown option --{} ({})", command_, name, see_help()));
  }
}

}  // namespace tint::cli
