#include "work.h"
int mpi_train(int argc, char **argv) { (void)argc, (void)argv; return CLI_USAGE; }
