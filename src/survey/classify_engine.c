/* The real scanner and engine of `irbis classify` (scan.h, image.h, nn.h, learn.h). */
#include "core/error.h"
#include "survey/classify_internal.h"

irb_status irb_classify_run(const irb_classify_opts *o, irb_classify_summary *sum, irb_error *err)
{
    (void)o, (void)sum;
    return irb_fail(err, IRB_UNSUPPORTED, "classify: the CNN engine is not available in this build yet");
}
