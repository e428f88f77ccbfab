/* Leases: every prompt ends done exactly once, expired leases are re-issued, late answers
 * still count, second answers are duplicates, backup leases cover holders that sit on theirs. */
#include <string.h>

#include "tests/testutil.h"

#include "learner/leases.h"

static void test_leases_grant_complete_duplicate(void **state) {
    (void)state;
    leases_t l;
    leases_init(&l);
    leases_begin(&l, 1, 10);
    const lease_t *a = leases_grant(&l, 4, 0, 100, "a");
    assert_non_null(a);
    assert_int_equal(a->n, 4);
    assert_int_equal(a->prompts[0], 0);
    const lease_t *b = leases_grant(&l, 4, 0, 100, "b");
    const lease_t *c = leases_grant(&l, 4, 0, 100, "c");
    assert_int_equal(b->prompts[0], 4);
    assert_int_equal(c->n, 2);
    assert_null(leases_grant(&l, 4, 0, 100, "d"));
    for (int p = 0; p < 10; p++) assert_int_equal(leases_complete(&l, p), LEASE_ACCEPTED);
    assert_int_equal(leases_complete(&l, 3), LEASE_DUPLICATE);
    assert_int_equal(leases_complete(&l, 10), LEASE_UNKNOWN);
    assert_int_equal(leases_complete(&l, -1), LEASE_UNKNOWN);
    assert_true(leases_all_done(&l));
    leases_free(&l);
}

static void test_leases_expired_are_reissued(void **state) {
    (void)state;
    leases_t l;
    leases_init(&l);
    leases_begin(&l, 1, 6);
    const lease_t *a = leases_grant(&l, 3, 0, 100, "dead");
    uint64_t a_id = a->id;
    leases_grant(&l, 3, 0, 100, "alive");
    assert_int_equal(leases_complete(&l, 1), LEASE_ACCEPTED); /* dead answered one before dying */
    for (int p = 3; p < 6; p++) leases_complete(&l, p);
    assert_int_equal(leases_next_deadline(&l), 100);
    assert_int_equal(leases_expire(&l, 99), 0);
    assert_int_equal(leases_expire(&l, 100), 2); /* prompts 0 and 2 */
    assert_int_equal(l.reissued, 2);
    const lease_t *r = leases_grant(&l, 3, 100, 100, "alive");
    assert_non_null(r);
    assert_true(r->id != a_id);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->prompts[0], 0);
    assert_int_equal(r->prompts[1], 2);
    /* the dead actor's late answer for 0 arrives first: it counts; the re-issued one is a duplicate */
    assert_int_equal(leases_complete(&l, 0), LEASE_ACCEPTED);
    assert_int_equal(leases_complete(&l, 0), LEASE_DUPLICATE);
    assert_int_equal(leases_complete(&l, 2), LEASE_ACCEPTED);
    assert_true(leases_all_done(&l));
    assert_int_equal(leases_expire(&l, 1000), 0);
    leases_free(&l);
}

static void test_leases_late_answer_while_queued(void **state) {
    (void)state;
    leases_t l;
    leases_init(&l);
    leases_begin(&l, 1, 2);
    leases_grant(&l, 2, 0, 10, "slow");
    assert_int_equal(leases_expire(&l, 10), 2);
    assert_int_equal(leases_complete(&l, 0), LEASE_ACCEPTED); /* answered while re-queued */
    const lease_t *r = leases_grant(&l, 2, 10, 10, "other");
    assert_int_equal(r->n, 1); /* only prompt 1 is handed out again */
    assert_int_equal(r->prompts[0], 1);
    /* a new iteration starts clean */
    leases_begin(&l, 2, 3);
    assert_false(leases_all_done(&l));
    assert_int_equal(leases_grant(&l, 8, 0, 10, "x")->n, 3);
    leases_free(&l);
}

/* A holder that left: its unanswered prompts are re-queued at once (before its deadline), in
 * order, and a lease whose prompts are all answered is no longer held. */
static void test_leases_released_when_holder_leaves(void **state) {
    (void)state;
    leases_t l;
    leases_init(&l);
    leases_begin(&l, 1, 6);
    leases_grant(&l, 3, 0, 1000, "gone");
    leases_grant(&l, 3, 0, 1000, "here");
    assert_true(leases_holds(&l, "gone"));
    assert_int_equal(leases_complete(&l, 0), LEASE_ACCEPTED);
    assert_int_equal(leases_release(&l, "gone"), 2);
    assert_false(leases_holds(&l, "gone"));
    assert_int_equal(leases_release(&l, "gone"), 0);
    const lease_t *again = leases_grant(&l, 3, 10, 1000, "new");
    assert_non_null(again);
    assert_int_equal(again->n, 2);
    assert_int_equal(again->prompts[0], 1);
    assert_int_equal(again->prompts[1], 2);
    for (int p = 3; p < 6; p++) leases_complete(&l, p);
    assert_false(leases_holds(&l, "here")); /* all answered */
    assert_int_equal(l.reissued, 2);
    leases_free(&l);
}

static int s_suspect_phantom(const char *holder, void *ctx) {
    (void)ctx;
    return !strcmp(holder, "phantom");
}

/* A holder that sits on its lease: once the queue is empty its open prompts are backed up to an
 * idle holder, each once; only holders a prompt was leased to may answer it; a prompt goes back
 * to the queue only when the last lease holding it expires. */
static void test_leases_backup_of_suspect_holders(void **state) {
    (void)state;
    leases_t l;
    leases_init(&l);
    leases_begin(&l, 1, 4);
    const lease_t *ph = leases_grant(&l, 2, 0, 100, "phantom"); /* prompts 0, 1 */
    assert_non_null(ph);
    assert_null(leases_grant_backup(&l, 4, 0, 100, "actor", s_suspect_phantom, NULL)); /* queue not empty yet */
    const lease_t *a = leases_grant(&l, 2, 0, 100, "actor"); /* prompts 2, 3 */
    assert_int_equal(a->n, 2);
    leases_complete(&l, 2), leases_complete(&l, 3);
    assert_null(leases_grant_backup(&l, 4, 0, 100, "phantom", s_suspect_phantom, NULL)); /* not its own */
    const lease_t *b = leases_grant_backup(&l, 4, 10, 100, "actor", s_suspect_phantom, NULL);
    assert_non_null(b);
    assert_int_equal(b->n, 2);
    assert_int_equal(b->prompts[0], 0);
    assert_null(leases_grant_backup(&l, 4, 10, 100, "other", s_suspect_phantom, NULL)); /* each backed up once */
    assert_true(leases_granted_to(&l, 0, "phantom"));
    assert_true(leases_granted_to(&l, 0, "actor"));
    assert_false(leases_granted_to(&l, 0, "other"));
    assert_false(leases_granted_to(&l, 3, "phantom"));
    assert_int_equal(leases_expire(&l, 100), 0); /* the phantom's lease ends, the backup still holds both */
    assert_int_equal(leases_complete(&l, 0), LEASE_ACCEPTED);
    assert_int_equal(leases_expire(&l, 110), 1); /* the backup ends too: prompt 1 is queued again */
    const lease_t *again = leases_grant(&l, 4, 120, 100, "other");
    assert_non_null(again);
    assert_int_equal(again->n, 1);
    assert_int_equal(again->prompts[0], 1);
    leases_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leases_grant_complete_duplicate),
        cmocka_unit_test(test_leases_expired_are_reissued),
        cmocka_unit_test(test_leases_released_when_holder_leaves),
        cmocka_unit_test(test_leases_late_answer_while_queued),
        cmocka_unit_test(test_leases_backup_of_suspect_holders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
