#include <getopt.h>
#include <string.h>

#include "cli.h"

const char irb_cmd_model_info_summary[] = "show an ONNX model's inputs, outputs, cut points and ops";

static void usage(FILE *f)
{
    fprintf(f, "usage: irbis model-info MODEL.onnx\n\n"
               "Prints the network input, the outputs, the cut points (irbis featurize --cut N selects\n"
               "the tensor listed for N), the preprocessing and the op counts.\n");
}

static void shape(const irb_tensor_info *t)
{
    for (int i = 0; i < t->rank; i++)
        printf("%s%lld", i ? "x" : "", (long long)t->dims[i]);
}

int irb_cmd_model_info(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        }
        usage(stderr);
        return CLI_USAGE;
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    irb_error err = {0};
    irb_model_t *m = NULL;
    if (irb_model_load(argv[optind], NULL, &m, &err) != IRB_OK)
        return cli_fail("model-info", &err);
    const irb_model_info *in = irb_model_info_get(m);
    const irb_preprocess *p = irb_model_preprocess(m);
    printf("model: %s\nsha256: %s\nopset: %d\nproducer: %s\n", argv[optind], in->sha256, in->opset, in->producer);
    for (int i = 0; i < in->n_inputs; i++) {
        printf("input: %s ", in->inputs[i].name);
        shape(&in->inputs[i]);
        printf("\n");
    }
    for (int i = 0; i < in->n_outputs; i++) {
        printf("output: %s ", in->outputs[i].name);
        shape(&in->outputs[i]);
        printf("%s\n", i == in->n_outputs - 1 ? " (default)" : "");
    }
    printf("preprocess: mean %g,%g,%g std %g,%g,%g size %d (%s)\n", p->mean[0], p->mean[1], p->mean[2], p->std[0],
           p->std[1], p->std[2], p->input_size, p->source);
    printf("cuts:\n");
    for (int i = 0; i < in->n_cuts; i++) {
        printf("  cut %d  %-12s %-24s ", in->cuts[i].cut, in->cuts[i].op, in->cuts[i].tensor.name);
        shape(&in->cuts[i].tensor);
        printf("\n");
    }
    printf("ops:\n");
    for (int i = 0; i < in->n_ops; i++)
        printf("  %-20s %d\n", in->ops[i].op, in->ops[i].count);
    irb_model_free(m);
    return CLI_OK;
}
