#include "cli.h"

const char irb_cmd_version_summary[] = "print the version of irbis";

int irb_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("irbis %s\n", irb_version());
    return CLI_OK;
}
