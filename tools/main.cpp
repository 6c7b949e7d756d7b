// tint: the command line. Each subcommand lives in tools/cmd_*.cpp; errors are caught here, once, and
// printed as one line naming the culprit.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>

#include "engine/error.h"
#include "tools/cmd_data.h"
#include "tools/commands.h"


namespace {
const char* kUsage = R"(usage: tint <command> [options]     (tint <command> --help for each)

commands:
  train     train the colorizer's U-Net on a folder of photos (default: the embedded sample)
  colorize  colorize photos (files, folders, list files) with a trained model, each at its own size
  export    rewrite a model file as float16 (half the size) or float32
  eval      score trained models on a folder of photos: metrics, baselines, report, JSON, plots
  bench     time the training step at batch 1 and 8 (phases, img/s, peak memory), against PyTorch
  demo      train a small U-Net on a synthetic task and print the loss falling (the engine end to end)
  data      fetch the photo sets (data fetch DIR), describe a data set (data stats DIR)
  devices   list the backends this build and machine can run
  op        run one kernel-contract op forward and backward: check it, time it, dump it (op --list)
)";
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const std::string command = argv[1];
  try {
    if (command == "train") return tint::cli::run_train(argc - 1, argv + 1);
    if (command == "colorize") return tint::cli::run_colorize(argc - 1, argv + 1);
    if (command == "export") return tint::cli::run_export(argc - 1, argv + 1);
    if (command == "eval") return tint::cli::run_eval(argc - 1, argv + 1);
    if (command == "bench") return tint::cli::run_bench(argc - 1, argv + 1);
    if (command == "demo") return tint::cli::run_demo(argc - 1, argv + 1);
    if (command == "devices") return tint::cli::run_devices(argc - 1, argv + 1);
    if (command == "op") return tint::cli::run_op(argc - 1, argv + 1);
    if (command == "data") return run_data_command(argc - 1, argv + 1);
    std::fprintf(stderr, "tint: error: unknown command '%s' (see 'tint --help')\n", command.c_str());
    return 1;
  } catch (const tint::Error& e) {
    std::fprintf(stderr, "tint %s: error: %s\n", command.c_str(), e.what());
    return 1;
  } catch (const std::system_error& e) {
    // Threads or files the system refused (thread limits, memory limits): an error, never an abort.
    std::fprintf(stderr, "tint %s: error: the system refused: %s\n", command.c_str(), e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "tint %s: error: out of host memory\n", command.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tint %s: internal error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
