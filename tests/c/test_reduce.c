/* The exact reduction used for raw-pixel rows (src/experiment/reduce.c): logistic regression trained
 * on the reduced rows must give the same probabilities as the direct fit on standardised rows,
 * for the same C, when features outnumber rows. */
#include <math.h>

#include "check.h"
#include "experiment/reduce.h"
#include "irbis/learn.h"

static unsigned long long rng = 12345;
static double uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0;
}

int main(void)
{
    enum { N = 40, D = 300, T = 25, K = 3 };
    static float x[N * D], xt[T * D], xtcopy[T * D];
    float *xcopy = malloc(sizeof x); /* taken over by irb_reduce_fit */
    int y[N];
    const char *names[K] = {"a", "b", "c"};
    for (int i = 0; i < N + T; i++) {
        int label = i % K;
        float *row = i < N ? x + i * D : xt + (i - N) * D;
        for (int j = 0; j < D; j++)
            row[j] = (float)(uniform() * (1 + j % 7) + (j % K == label ? 0.8 : 0) + 3.0 * (j % 5));
        if (i < N)
            y[i] = label;
    }
    memcpy(xcopy, x, N * D * sizeof(float));
    memcpy(xtcopy, xt, sizeof xt);
    irb_error err = {0};
    irb_train_opts to = {0};
    to.C = 0.05;
    to.tol = 1e-10;
    irb_classifier_t *direct = NULL, *reduced = NULL;
    irb_train_report rep;
    CHECK(irb_logreg_train(x, N, D, y, K, names, &to, &direct, &rep, &err) == IRB_OK, "%s", err.message);

    irb_reduce red;
    float *z = NULL;
    CHECK(irb_reduce_fit(xcopy, N, D, &red, &z, &err) == IRB_OK, "%s", err.message);
    CHECK(red.r <= N && red.r >= N - 2, "rank %zu of %d rows (centering removes one)", red.r, N);
    to.no_standardize = 1;
    CHECK(irb_logreg_train(z, N, (int)red.r, y, K, names, &to, &reduced, &rep, &err) == IRB_OK, "%s", err.message);

    static float zt[T * N];
    CHECK(irb_reduce_apply(&red, xtcopy, T, zt, &err) == IRB_OK, "%s", err.message);
    double pd[T * K], pr[T * K], worst = 0;
    CHECK(irb_classifier_predict(direct, xt, T, D, pd, &err) == IRB_OK, "%s", err.message);
    CHECK(irb_classifier_predict(reduced, zt, T, (int)red.r, pr, &err) == IRB_OK, "%s", err.message);
    for (int i = 0; i < T * K; i++)
        worst = fmax(worst, fabs(pd[i] - pr[i]));
    CHECK(worst < 1e-4, "reduced vs direct probabilities differ by %g", worst);
    /* and the probabilities are not trivial (the data is learnable) */
    double spread = 0;
    for (int i = 0; i < T * K; i++)
        spread = fmax(spread, fabs(pd[i] - 1.0 / K));
    CHECK(spread > 0.2, "probabilities stay near uniform (%g): the test data is too weak", spread);
    irb_classifier_free(direct);
    irb_classifier_free(reduced);
    irb_reduce_release(&red);
    free(z);
    return CHECK_DONE();
}
