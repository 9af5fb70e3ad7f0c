/* irbis-mpi: the distributed driver. Started by mpirun/srun; every rank runs the same
 * subcommand. The only program of irbis linked with MPI (through comm.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "work.h"

static const char USAGE[] =
    "usage: mpirun -np N irbis-mpi <command> [options]   (options as `irbis <command>`)\n"
    "  featurize   CNN features of images, sharded by camera; merged output equals `irbis featurize`\n"
    "  classify    a survey, sharded by camera; outputs equal `irbis classify`\n"
    "  train       data-parallel logistic regression (loss and gradient summed with MPI_Allreduce)\n"
    "See docs/scaling.md.\n";

int main(int argc, char **argv)
{
    cli_process_setup();
    /* keep Open MPI's plugins loaded to the end, so sanitizer reports can name them */
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
    if (comm_init(&argc, &argv) != 0) {
        fprintf(stderr, "irbis-mpi: MPI_Init failed\n");
        return CLI_FATAL;
    }
    int rc;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (comm_rank() == 0)
            fputs(USAGE, argc < 2 ? stderr : stdout);
        rc = argc < 2 ? CLI_USAGE : CLI_OK;
    } else if (!strcmp(argv[1], "featurize")) {
        rc = mpi_featurize(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "classify")) {
        rc = mpi_classify(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "train")) {
        rc = mpi_train(argc - 1, argv + 1);
    } else {
        if (comm_rank() == 0)
            fprintf(stderr, "irbis-mpi: unknown command '%s'\n%s", argv[1], USAGE);
        rc = CLI_USAGE;
    }
    comm_finalize();
    return rc;
}

/* Sanitizer builds: Open MPI keeps allocations to the end of the process (its own and those of
 * MCA plugins unloaded at MPI_Finalize); LeakSanitizer must not blame irbis for them. Unused in
 * normal builds. */
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);
/* full stacks at malloc, so the suppressions below see the MPI frames under plugin code */
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
const char *__lsan_default_suppressions(void)
{
    return "leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libhwloc.so\nleak:libpmix.so\n"
           "leak:libevent\nleak:mca_\nleak:ompi_\nleak:opal_\nleak:orte_\n";
}
