// tint: the command line. Subcommands are dispatched here; each lives in its own tools/cmd_*.cpp.
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/error.h"

int main(int argc, char** argv) {
  std::fprintf(stderr, "tint: under construction\n");
  return argc > 1 ? 2 : 0;
}
