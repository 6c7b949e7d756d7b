// A small option parser shared by the subcommands: `--name value`, `--name=value` and `--flag`, with
// every unknown option or missing value reported by name. Each subcommand prints its own --help.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/error.h"

namespace tint::cli {

class Args {
 public:
  // argv[0] is the subcommand's name. `flags` are options that take no value.
  Args(int argc, char** argv, std::vector<std::string> flags = {});
  bool help() const { return has("help") || has("h"); }
  bool has(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback) const;
  int get_int(const std::string& name, int fallback) const;
  double get_double(const std::string& name, double fallback) const;
  // The same, and an error naming the flag unless lo <= value <= hi.
  int get_int(const std::string& name, int fallback, int lo, int hi) const;
  double get_double(const std::string& name, double fallback, double lo, double hi) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Throws naming every option the command did not consume (typos, options of another command).
  void check_known(const std::vector<std::string>& known) const;

 private:
  std::string command_;
  std::map<std::string, std::string> options_;
  std::vector<std::string> positional_;
};

}  // namespace tint::cli
