// A small option parser shared by the subcommands: `--name value`, `--name=value` and `--flag`, with
// every unknown option, missing value and stray argument reported by name. Each subcommand prints its own
// --help.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/error.h"

namespace tint::cli {

// What a command accepts, declared before parsing: only then can `--bogus 3` be called an unknown option
// rather than an option that swallowed "3" as its value.
struct Options {
  std::vector<std::string> flags;   // take no value
  std::vector<std::string> values;  // take one value
  int max_positional = 0;           // arguments that are not options; more is an error
  std::string name;                 // as the user typed it ("data stats"); empty: argv[0]
};

class Args {
 public:
  // argv[0] is the subcommand's name. Every option, value and positional is checked here; a mistake throws
  // an Error naming the option or argument at fault. --help / -h are always accepted.
  Args(int argc, char** argv, const Options& options);
  // The older form: `flags` are options that take no value, every other option takes one, and unknown
  // options are found by check_known after parsing.
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
  std::string see_help() const;

  std::string command_;
  std::map<std::string, std::string> options_;
  std::vector<std::string> positional_;
};

}  // namespace tint::cli
