// `tint data ...`: fetch the real photo sets, describe a data set. argv[0] is "data".
#pragma once

int run_data_command(int argc, char** argv);
