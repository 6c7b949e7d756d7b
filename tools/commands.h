// The subcommands of `tint`, each in its own tools/cmd_*.cpp. argv[0] is the subcommand's name.
#pragma once

namespace tint::cli {
int run_bench(int argc, char** argv);
int run_colorize(int argc, char** argv);
int run_demo(int argc, char** argv);
int run_export(int argc, char** argv);
int run_devices(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_op(int argc, char** argv);
int run_train(int argc, char** argv);
}  // namespace tint::cli
