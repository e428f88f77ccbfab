/* policy — the operations of common/policy.h through the public API only, on a tiny tabular and
 * a tiny gpt policy alike: clone, copy, swap and axpby on the parameter view, the serialised
 * round trip, backward against finite differences of the log-probs, generation and mixtures.
 * Not here: the GPT maths itself (test_gpt, test_gpt_ops) or the losses (test_losses). */
#include "tests/testutil.h"

#include <math.h>
#include <string.h>

#include "common/policy.h"
#include "common/tokenizer.h"

#define N_SEQS 5

/* A backend under test: its policies (different parameters per seed) and a batch of pairs. */
typedef struct {
    policy_t *(*make)(unsigned seed);
    policy_seq_t seqs[N_SEQS];
    uint32_t toks[N_SEQS][8];
    double fd_step, fd_tol; /* finite-difference step and relative tolerance */
} backend_t;

static policy_t *s_tabular(unsigned seed) {
    policy_t *p = policy_tabular_new(2, 3);
    policy_init(p, INIT_RANDOM, 1.0, seed);
    return p;
}

static policy_t *s_gpt(unsigned seed) {
    gpt_config_t c = {1, 2, 8, 16, GPT_VOCAB};
    return policy_gpt_new(gpt_new(&c, seed));
}

static void s_tabular_backend(backend_t *b) {
    memset(b, 0, sizeof *b);
    b->make = s_tabular, b->fd_step = 1e-6, b->fd_tol = 1e-6;
    const int prompt[N_SEQS] = {0, 1, 0, 1, 0}, action[N_SEQS] = {1, 2, 0, 2, 7}; /* the last is invalid */
    for (int i = 0; i < N_SEQS; i++) {
        b->toks[i][0] = (uint32_t)action[i];
        b->seqs[i] = (policy_seq_t){prompt[i], NULL, b->toks[i], 1};
    }
}

static void s_gpt_backend(backend_t *b) {
    memset(b, 0, sizeof *b);
    b->make = s_gpt, b->fd_step = 1e-2, b->fd_tol = 2e-2;
    const char *prompts[N_SEQS] = {"1+1=", "1+1=", "3+4=", "2+2=", "2+2="};
    const char *responses[N_SEQS] = {"2", "11", "7", "4", "4"};
    for (int i = 0; i < N_SEQS; i++) {
        int t[8], k = tok_encode(responses[i], t, 7);
        t[k++] = GPT_EOT;
        for (int j = 0; j < k; j++) b->toks[i][j] = (uint32_t)t[j];
        b->seqs[i] = (policy_seq_t){0, prompts[i], b->toks[i], k};
    }
    b->toks[N_SEQS - 1][1] = b->toks[N_SEQS - 1][0]; /* the last is invalid: end-of-text first */
    b->toks[N_SEQS - 1][0] = GPT_EOT;
}

static void s_assert_same_logprobs(policy_t *a, policy_t *b, const backend_t *be) {
    double la[N_SEQS], lb[N_SEQS];
    policy_logprobs(a, be->seqs, N_SEQS, la);
    policy_logprobs(b, be->seqs, N_SEQS, lb);
    for (int i = 0; i < N_SEQS; i++) assert_true(la[i] == lb[i] || (isinf(la[i]) && isinf(lb[i])));
    assert_true(isinf(la[N_SEQS - 1]) && la[N_SEQS - 1] < 0); /* the invalid pair */
    for (int i = 0; i < N_SEQS - 1; i++) assert_true(isfinite(la[i]) && la[i] < 0);
}

/* Parameter i of the view as a double, whatever its precision. */
static double s_param(const policy_view_t *v, size_t i) { return v->f32 ? v->f32[i] : v->f64[i]; }

static void s_check_clone_copy(const backend_t *be) {
    policy_t *p = be->make(3), *c = policy_clone(p), *q = be->make(4);
    assert_string_equal(policy_kind(c), policy_kind(p));
    s_assert_same_logprobs(p, c, be);
    policy_view_t vp = policy_view(p), vq = policy_view(q);
    assert_true(vp.n == vq.n && s_param(&vp, 0) != s_param(&vq, 0));
    policy_copy(q, p);
    s_assert_same_logprobs(p, q, be);
    /* a copy owns its parameters: changing the source leaves it alone */
    double keep = s_param(&vq, 0);
    policy_axpby(p, 0.0, p, 2.0);
    assert_true(s_param(&vq, 0) == keep && s_param(&vp, 0) == 2 * keep);
    policy_destroy(&p), policy_destroy(&c), policy_destroy(&q);
}

static void s_check_axpby_swap(const backend_t *be) {
    policy_t *x = be->make(5), *y = be->make(6), *x0 = policy_clone(x), *y0 = policy_clone(y);
    double a = 1.7, b = -0.7;
    policy_axpby(y, a, x, b);
    policy_view_t vx = policy_view(x0), vy = policy_view(y0), v = policy_view(y);
    for (size_t i = 0; i < v.n; i++) {
        double want = a * s_param(&vx, i) + b * s_param(&vy, i);
        assert_true(s_param(&v, i) == (v.f32 ? (double)(float)want : want));
    }
    s_assert_same_logprobs(x, x0, be); /* x is only read */
    policy_swap(x, y);                 /* x now holds y's parameters and y x's */
    policy_view_t sx = policy_view(x), sy = policy_view(y);
    for (size_t i = 0; i < sx.n; i++)
        assert_true(s_param(&sx, i) == s_param(&v, i) && s_param(&sy, i) == s_param(&vx, i));
    policy_destroy(&x), policy_destroy(&y), policy_destroy(&x0), policy_destroy(&y0);
}

static void s_check_round_trip(const backend_t *be) {
    policy_t *p = be->make(7);
    size_t len;
    void *blob = policy_serialize(p, 42, &len);
    uint64_t version = 0;
    char why[256];
    policy_t *q = policy_load(blob, len, &version, why, sizeof why);
    assert_non_null(q);
    assert_true(version == 42);
    assert_string_equal(policy_kind(q), policy_kind(p));
    s_assert_same_logprobs(p, q, be);
    assert_null(policy_load(blob, len / 2, &version, why, sizeof why)); /* a cut blob is refused */
    free(blob);
    policy_destroy(&p), policy_destroy(&q);
}

/* L = sum_i dlp[i] * lp[i] over the batch. */
static double s_loss(policy_t *p, const backend_t *be, const double *dlp) {
    double lp[N_SEQS], L = 0;
    policy_logprobs(p, be->seqs, N_SEQS, lp);
    for (int i = 0; i < N_SEQS; i++)
        if (isfinite(lp[i])) L += dlp[i] * lp[i];
    return L;
}

static void s_set_param(policy_view_t *v, size_t i, double x) {
    if (v->f32) v->f32[i] = (float)x;
    else v->f64[i] = x;
}

/* Backward through the dispatch against central differences on the view, at the parameters
 * with the largest gradients (where float rounding matters least); the invalid pair's dlp
 * must not count. */
static void s_check_backward(const backend_t *be) {
    policy_t *p = be->make(8);
    const double dlp[N_SEQS] = {0.5, -1.3, 0.8, 1.1, 2.0};
    policy_zero_grad(p);
    double lp[N_SEQS];
    policy_logprobs(p, be->seqs, N_SEQS, lp);
    policy_backward_seqs(p, be->seqs, N_SEQS, dlp);
    policy_view_t v = policy_view(p);
    double bound = INFINITY;
    for (int pick = 0; pick < 3; pick++) { /* the three largest |gradient| */
        size_t k = 0;
        double gk = -1;
        for (size_t i = 0; i < v.n; i++) {
            double a = fabs(v.f32 ? v.grad_f32[i] : v.grad_f64[i]);
            if (a < bound && a > gk) gk = a, k = i;
        }
        bound = gk;
        double g = v.f32 ? v.grad_f32[k] : v.grad_f64[k], keep = s_param(&v, k), h = be->fd_step, L[2];
        for (int s = 0; s < 2; s++) {
            s_set_param(&v, k, keep + (s ? -h : h));
            L[s] = s_loss(p, be, dlp);
        }
        s_set_param(&v, k, keep);
        double fd = (L[0] - L[1]) / (2 * h);
        assert_true(g != 0.0);
        assert_true(fabs(fd - g) <= be->fd_tol * (fabs(g) + 1e-3));
    }
    policy_destroy(&p);
}

/* Each drawn response is valid and carries the log-prob policy_logprobs gives it; a mixture
 * with a policy of another backend is refused. */
static void s_check_generate(const backend_t *be, policy_t *other) {
    policy_t *p = be->make(9);
    enum { K = N_SEQS - 1 };
    rng_t rngs[K];
    for (int i = 0; i < K; i++) rng_stream(&rngs[i], 11, 1, (uint64_t)i, 0);
    policy_sample_t out[K];
    policy_sample_opts_t o = {.temperature = 1.0, .top_p = 1.0, .max_new = 6};
    assert_int_equal(policy_generate(p, be->seqs, K, rngs, &o, out), 0);
    for (int i = 0; i < K; i++) {
        policy_seq_t s = be->seqs[i];
        s.tokens = out[i].tokens, s.n_tokens = out[i].n_tokens;
        double lp;
        if (!policy_valid_seq(p, &s)) { /* a gpt response cut off at max_new without end-of-text */
            assert_true(out[i].n_tokens == o.max_new);
        } else {
            policy_logprobs(p, &s, 1, &lp);
            assert_true(fabs(lp - out[i].logprob) <= 1e-4 * (1 + fabs(lp)));
        }
        policy_sample_free(&out[i]);
    }
    assert_int_equal(policy_generate_mixture(p, other, 0.5, be->seqs, K, rngs, &o, out), -1);
    policy_destroy(&p);
}

static void test_policy_generate(void **state) {
    (void)state;
    backend_t be;
    policy_t *tab = s_tabular(1), *gpt = s_gpt(1);
    s_tabular_backend(&be), s_check_generate(&be, gpt);
    s_gpt_backend(&be), s_check_generate(&be, tab);
    policy_destroy(&tab), policy_destroy(&gpt);
}

static void test_policy_clone_copy(void **state) {
    (void)state;
    backend_t be;
    s_tabular_backend(&be), s_check_clone_copy(&be);
    s_gpt_backend(&be), s_check_clone_copy(&be);
}

static void test_policy_axpby_swap(void **state) {
    (void)state;
    backend_t be;
    s_tabular_backend(&be), s_check_axpby_swap(&be);
    s_gpt_backend(&be), s_check_axpby_swap(&be);
}

static void test_policy_round_trip(void **state) {
    (void)state;
    backend_t be;
    s_tabular_backend(&be), s_check_round_trip(&be);
    s_gpt_backend(&be), s_check_round_trip(&be);
}

static void test_policy_backward(void **state) {
    (void)state;
    backend_t be;
    s_tabular_backend(&be), s_check_backward(&be);
    s_gpt_backend(&be), s_check_backward(&be);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_clone_copy),
        cmocka_unit_test(test_policy_axpby_swap),
        cmocka_unit_test(test_policy_round_trip),
        cmocka_unit_test(test_policy_backward),
        cmocka_unit_test(test_policy_generate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
