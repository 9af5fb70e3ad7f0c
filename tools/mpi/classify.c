#include "work.h"
int mpi_classify(int argc, char **argv) { (void)argc, (void)argv; return CLI_USAGE; }
