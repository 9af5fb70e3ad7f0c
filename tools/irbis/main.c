/* irbis: the command-line tool. A thin layer over <irbis.h>: one cmd_<name>.c per subcommand,
 * dispatched from the table the build generates (gen/cmd_table.inc). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define IRB_CMD(n)                                                                                                     \
    int irb_cmd_##n(int argc, char **argv);                                                                            \
    extern const char irb_cmd_##n##_summary[];
#include "cmd_table.inc"
#undef IRB_CMD

typedef struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
#define IRB_CMD(n) {#n, irb_cmd_##n, irb_cmd_##n##_summary},
#include "cmd_table.inc"
#undef IRB_CMD
};

/* Command names are file names (cmd_model_info.c) shown with hyphens (model-info). */
static int name_is(const char *table_name, const char *arg)
{
    for (; *table_name && *arg; table_name++, arg++)
        if (*arg != (*table_name == '_' ? '-' : *table_name))
            return 0;
    return *table_name == *arg;
}

static void print_name(FILE *out, const char *name)
{
    int n = 0;
    for (; *name; name++, n++)
        fputc(*name == '_' ? '-' : *name, out);
    fprintf(out, "%*s", 13 - n, "");
}

static void usage(FILE *out)
{
    fprintf(out,
            "irbis %s: camera-trap images to labelled data by transfer learning\n\n"
            "usage: irbis <command> [options]   (irbis <command> --help for details)\n\ncommands:\n",
            irb_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fputs("  ", out);
        print_name(out, commands[i].name);
        fprintf(out, "%s\n", commands[i].summary);
    }
}

int main(int argc, char **argv)
{
    cli_process_setup();
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("irbis %s\n", irb_version());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (name_is(commands[i].name, argv[1]))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "irbis: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
