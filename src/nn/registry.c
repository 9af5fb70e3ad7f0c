/* The engine registry (docs/nn.md). The oneDNN engine is referenced only when the build found
 * its sources (CMake defines IRBIS_HAVE_ONEDNN), so the library links either way. */
#include <string.h>

#include "nn/backend.h"

static const irb_backend *const engines[] = {
#ifdef IRBIS_HAVE_ONEDNN
    &irb_backend_onednn,
#endif
    &irb_backend_reference,
};

const irb_backend *irb_backend_find(const char *name)
{
    size_t n = sizeof engines / sizeof engines[0];
    if (!name || strcmp(name, "auto") == 0)
        return engines[0]; /* the first one is the fastest available */
    for (size_t i = 0; i < n; i++)
        if (strcmp(engines[i]->name, name) == 0)
            return engines[i];
    return NULL;
}
