/*
 * irbis: camera-trap images to labelled data by transfer learning.
 *
 * This is the one header users include. It pulls in the subsystem headers under irbis/:
 *
 *   irbis/core.h     status codes, error records, version
 *   irbis/image.h    decoding JPEG/PNG, EXIF metadata, resize/crop/flip, network input tensors
 *   irbis/nn.h       ONNX models: load, cut at a layer, compile, run in batches (featurize)
 *   irbis/learn.h    logistic regression (L-BFGS), standardisation, classifier files
 *   irbis/scan.h     walking a survey folder: one metadata row per file, streamed
 *   irbis/survey.h   burst sequences, ensembling, folds, the results store
 *   irbis/eval.h     accuracy, confusion matrix, ROC/AUC, reports
 *   irbis/experiment.h  batched feature extraction; the reference experiment
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
 *
 * A complete short example (featurize one image with the default model):
 *
 *   irb_error err = {0};
 *   irb_image img = {0};
 *   irb_decoder_t *dec = NULL;
 *   if (irb_decoder_new(&dec) == IRB_OK &&
 *       irb_decode_file(dec, "cam1/IMG_0001.JPG", &(irb_decode_opts){.target = 224}, &img) == IRB_OK) {
 *       ... use img.data (img.width x img.height x img.channels, uint8, RGB) ...
 *   } else {
 *       fprintf(stderr, "%s\n", irb_decoder_error(dec)->message);
 *   }
 *   irb_image_release(&img);
 *   irb_decoder_free(dec);
 */
#ifndef IRBIS_H
#define IRBIS_H

#include "irbis/core.h"
#if __has_include("irbis/image.h")
#include "irbis/image.h"
#endif
#if __has_include("irbis/nn.h")
#include "irbis/nn.h"
#endif
#if __has_include("irbis/learn.h")
#include "irbis/learn.h"
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
