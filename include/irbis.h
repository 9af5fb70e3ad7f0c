/*
 * irbis: camera-trap images to labelled data by transfer learning.
 *
 * This is the one header users include. It pulls in the subsystem headers under irbis/:
 *
 *   irbis/core.h     status codes, error records, version
 *   irbis/files.h    SHA-256 and CRC-32 checksums, CSV tables
 *   irbis/image.h    decoding JPEG/PNG, EXIF metadata, resize/crop/flip, network input tensors
 *   irbis/nn.h       ONNX models: load, cut at a layer, compile, run in batches (featurize)
 *   irbis/learn.h    logistic regression (L-BFGS), standardisation, classifier files
 *   irbis/scan.h     walking a survey folder: one metadata row per file, streamed
 *   irbis/survey.h   burst sequences, ensembling, folds, the results store
 *   irbis/eval.h     accuracy, confusion matrix, ROC/AUC, reports
 *   irbis/features.h batched feature extraction over image files, int8 calibration
 *   irbis/experiment.h  the reference experiment
 *   irbis/classify.h the production run: results store, resumable classify, outputs
 *   irbis/pipeline.h a trained recipe (classifiers, preprocessing, backbone) saved and deployed
 *   irbis/review.h   human labels over a classify run (irbis review): queues, corrections, outputs
 *
 * Conventions (all of them hold for every function in every irbis header):
 *  - Every export is prefixed irb_, macros and enum values IRB_, opaque types irb_*_t.
 *  - Fallible calls return irb_status; IRB_OK (0) is success. The detailed message (file,
 *    offset, cause) is read from the handle the call was made on (irb_X_error(handle)), or from
 *    the irb_error the caller passed in for calls that have no handle. Passing err = NULL is
 *    allowed: the status is still returned.
 *  - Objects are created through a trailing out-parameter and released with the matching
 *    irb_X_free(), which accepts NULL.
 *  - The library never exits, aborts on bad input, or prints. Warnings (e.g. a truncated JPEG
 *    that still decoded) are reported through irb_error.warning with status IRB_OK.
 *  - Pointer parameters are borrowed for the duration of the call unless the function says
 *    otherwise. Returned pointers are owned by the object they came from unless stated.
 *  - Bad arguments are refused, never guessed at: a NULL the function does not call optional, a
 *    negative count or size, an enum value the header does not list, NaN where a number is wanted,
 *    or rows whose byte count no buffer can hold (n * width overflowing) are IRB_INVALID_ARG with
 *    a message; getters and void calls given NULL return their neutral value or do nothing; a
 *    failed create leaves *out NULL. tests/c/test_api_hostile.c holds every public call to it.
 *  - Files are opened without waiting: a FIFO is read as it is (one no program writes to reads
 *    as empty, at once); a folder where a file is wanted is IRB_IO.
 *  - Every "Example" block in these headers is the body of a main() that
 *    tests/py/test_header_examples.py compiles against the library (with <stdio.h>, <stdlib.h>,
 *    <string.h> and <irbis.h> included) and runs in a folder holding the files it names.
 *
 * Example (featurize one image: the 1280 MobileNetV2 features `irbis featurize --cut 2` gives it):
 *
 *   irb_error err = {0};
 *   irb_model_t *model = NULL;
 *   irb_net_t *net = NULL;
 *   if (irb_model_load("mobilenet_v2.onnx", NULL, &model, &err) != IRB_OK ||
 *       irb_net_new(model, &(irb_net_opts){.cut = 2, .pool = IRB_POOL_AVG}, &net, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       irb_model_free(model);
 *       return 1;
 *   }
 *   int c, h, w;
 *   irb_net_input_shape(net, &c, &h, &w);              // 3 x 224 x 224
 *   irb_preproc pp = irb_preproc_default(h);           // centre crop 87.5 %, bilinear
 *   const irb_preprocess *norm = irb_model_preprocess(model);
 *   for (int k = 0; k < 3; k++)                        // the model's own normalisation
 *       pp.mean[k] = norm->mean[k], pp.scale[k] = norm->std[k];
 *   size_t dim = irb_net_output_size(net);
 *   float *x = malloc(sizeof(float) * c * h * w), *f = malloc(sizeof(float) * dim);
 *   irb_decoder_t *dec = NULL;
 *   int rc = 1;
 *   if (!x || !f || irb_decoder_new(&dec) != IRB_OK)
 *       fprintf(stderr, "out of memory\n");
 *   else if (irb_preprocess_file(dec, "cam1/IMG_0001.JPG", &pp, x, NULL) != IRB_OK)
 *       fprintf(stderr, "%s\n", irb_decoder_error(dec)->message);
 *   else if (irb_net_run(net, x, 1, f) != IRB_OK)
 *       fprintf(stderr, "%s\n", irb_net_error(net)->message);
 *   else {
 *       printf("%zu features:", dim);
 *       for (size_t i = 0; i < dim; i++)
 *           printf(" %.6g", f[i]);
 *       printf("\n");
 *       rc = 0;
 *   }
 *   free(x), free(f);
 *   irb_decoder_free(dec);
 *   irb_net_free(net);
 *   irb_model_free(model);
 *   return rc;
 */
#ifndef IRBIS_H
#define IRBIS_H

#include "irbis/core.h"
#include "irbis/files.h"
#if __has_include("irbis/image.h")
#include "irbis/image.h"
#endif
#if __has_include("irbis/nn.h")
#include "irbis/nn.h"
#endif
#if __has_include("irbis/learn.h")
#include "irbis/learn.h"
#endif
#if __has_include("irbis/features.h")
#include "irbis/features.h"
#endif
#if __has_include("irbis/scan.h")
#include "irbis/scan.h"
#endif
#if __has_include("irbis/survey.h")
#include "irbis/survey.h"
#endif
#if __has_include("irbis/eval.h")
#include "irbis/eval.h"
#endif
#if __has_include("irbis/classify.h")
#include "irbis/classify.h"
#endif
#if __has_include("irbis/pipeline.h")
#include "irbis/pipeline.h"
#endif
#if __has_include("irbis/review.h")
#include "irbis/review.h"
#endif
#if __has_include("irbis/experiment.h")
#include "irbis/experiment.h"
#endif

#endif
