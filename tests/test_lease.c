/* test_lease — the actor's lease (actor/lease.h) without sockets: a grant's counts checked
 * against the run and what an actor holds, the grant kept, and a lease's prompts sampled into
 * rollouts with seeds that depend only on run seed, iteration, prompt and sample index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "actor/lease.h"

static Spar__WorkGrant s_grant(uint32_t *ids, size_t n, uint32_t k) {
    Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
    g.lease_id = 7;
    g.iteration = 3;
    g.policy_version = 2;
    g.prompt_ids = ids;
    g.n_prompt_ids = n;
    g.samples_per_prompt = k;
    g.temperature = 1.0;
    g.max_new = 1;
    return g;
}

static void test_lease_counts_bounded(void **state) {
    (void)state;
    uint32_t ids[2] = {0, 5};
    char why[256] = "";
    Spar__WorkGrant g = s_grant(ids, 2, 4);
    assert_int_equal(lease_out_of_range(&g, 6, why, sizeof why), 0);
    assert_int_equal(lease_out_of_range(&g, 0, why, sizeof why), 0); /* run size not known yet */
    assert_int_equal(lease_out_of_range(&g, 5, why, sizeof why), 1);  /* prompt 5 of a run of 5 */
    assert_non_null(strstr(why, "prompt 5 of a run of 5"));
    g.samples_per_prompt = WIRE_MAX_RESPONSES + 1;
    assert_int_equal(lease_out_of_range(&g, 6, why, sizeof why), 1);
    g.samples_per_prompt = WIRE_MAX_RESPONSES / 2 + 1;
    g.opponent_mix = 0.5; /* opponents double the responses a prompt asks for */
    assert_int_equal(lease_out_of_range(&g, 6, why, sizeof why), 1);
    g = s_grant(ids, 2, 4);
    g.max_new = 1u << 20;
    assert_int_equal(lease_out_of_range(&g, 6, why, sizeof why), 1);
    g = s_grant(ids, 2, 4);
    g.top_k = 1u << 21;
    assert_int_equal(lease_out_of_range(&g, 6, why, sizeof why), 1);
    assert_non_null(strstr(why, "exceeds what an actor holds"));
}

static void test_lease_take_keeps_the_grant(void **state) {
    (void)state;
    uint32_t ids[3] = {4, 1, 2};
    Spar__WorkGrant g = s_grant(ids, 3, 5);
    g.opponent_mix = 1.5; /* out of (0, 1]: no opponents */
    lease_t l = {0};
    lease_take(&l, &g);
    ids[0] = 99; /* the lease holds its own copy */
    assert_true(l.open);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.k, 5);
    assert_int_equal(l.prompts[0], 4);
    assert_string_equal(l.texts[0], "game-4"); /* matrix games carry no text */
    assert_true(l.mix == 0);
    assert_true(l.opts.top_p == 1.0);
    lease_free(&l);
    assert_false(l.open);
}

static void s_sample(const lease_t *l, policy_t *p, rollout_t **out) {
    assert_int_equal(lease_sample(l, p, p, 11, out), 0);
}

static void test_lease_sample_is_reproducible(void **state) {
    (void)state;
    policy_t *p = policy_tabular_new(6, 4);
    policy_init(p, INIT_RANDOM, 1.0, 5);
    uint32_t ids[2] = {1, 3};
    Spar__WorkGrant g = s_grant(ids, 2, 3);
    g.opponent_mix = 0.25;
    lease_t l = {0};
    lease_take(&l, &g);
    rollout_t *a[2], *b[2];
    s_sample(&l, p, a);
    /* the same lease in the other prompt order draws each prompt's responses unchanged */
    uint32_t swapped[2] = {3, 1};
    Spar__WorkGrant h = s_grant(swapped, 2, 3);
    h.opponent_mix = 0.25;
    lease_t m = {0};
    lease_take(&m, &h);
    s_sample(&m, p, b);
    for (int j = 0; j < 2; j++) {
        const rollout_t *x = a[j], *y = b[1 - j];
        assert_int_equal(x->prompt, y->prompt);
        assert_int_equal(x->k, 6); /* K samples and K opponents */
        assert_int_equal(x->n_opp, 3);
        assert_int_equal(x->lease_id, 7);
        for (int i = 0; i < x->k; i++) {
            assert_int_equal(x->samples[i].n_tokens, 1);
            assert_true(x->samples[i].tokens[0] < 4);
            assert_int_equal(x->samples[i].tokens[0], y->samples[i].tokens[0]);
        }
    }
    for (int j = 0; j < 2; j++) rollout_free(a[j]), rollout_free(b[j]);
    lease_free(&l);
    lease_free(&m);
    policy_destroy(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_counts_bounded),
        cmocka_unit_test(test_lease_take_keeps_the_grant),
        cmocka_unit_test(test_lease_sample_is_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
