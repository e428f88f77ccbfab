/* Peers: joins, hellos, silence and return, departures as "holder left" events (said so or
 * silent a minute), eviction from a full table (a departed peer first, else the quietest, never
 * a lease holder), weight delivery once every live actor reports the version, the judge pool's
 * publication. No sockets; the clock is passed in. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/testutil.h"

#include "learner/peers.h"

#define HB 100 /* heartbeat period: silent after 500 ms */

static peers_t P; /* large: one table for the whole test */

static void s_setup(leases_t *l) {
    peers_init(&P, HB);
    leases_init(l);
    leases_begin(l, 1, 8);
}

static void test_peers_touch_hello_seen(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    peer_t *a = peers_touch(&P, &l, "actor-a", SPAR__ROLE__ROLE_ACTOR, 10);
    assert_non_null(a);
    assert_int_equal(a->joined_ms, 10);
    assert_false(a->hello);
    assert_ptr_equal(peers_touch(&P, &l, "actor-a", SPAR__ROLE__ROLE_ACTOR, 20), a); /* no second entry */
    assert_int_equal(P.n_peers, 1);
    assert_int_equal(a->last_seen_ms, 20);
    assert_null(peers_seen(&P, "nobody", 30)); /* seen adds nothing */
    assert_int_equal(P.n_peers, 1);
    assert_ptr_equal(peers_seen(&P, "actor-a", 40), a);
    assert_int_equal(a->last_seen_ms, 40);
    assert_int_equal(peers_live_actors(&P), 1);
    assert_true(peers_suspect("actor-a", &P)); /* no group delivered yet */
    a->groups = 1;
    assert_false(peers_suspect("actor-a", &P));
    assert_true(peers_suspect("unknown", &P));
    leases_free(&l);
}

static void test_peers_silent_back_and_left(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    peer_left_t left[MAX_PEERS];
    peer_t *a = peers_touch(&P, &l, "a", SPAR__ROLE__ROLE_ACTOR, 0);
    peers_touch(&P, &l, "b", SPAR__ROLE__ROLE_ACTOR, 0);
    assert_int_equal(peers_tick(&P, &l, 499, left), 0);
    assert_false(a->silent);
    peers_seen(&P, "b", 400);
    assert_int_equal(peers_tick(&P, &l, 500, left), 0);
    assert_true(a->silent);
    assert_int_equal(peers_live_actors(&P), 1);
    assert_string_equal(peers_state(&P, &l, a, 0), "silent");
    assert_true(peers_suspect("a", &P));
    peers_seen(&P, "a", 600); /* back */
    assert_false(a->silent);
    assert_int_equal(peers_live_actors(&P), 2);
    /* the learner ticks every 100 ms here: a minute of silence is a departure event, once */
    for (int64_t t = 600; t <= 300 + PEERS_LEAVE_SILENT_MS; t += 100) assert_int_equal(peers_tick(&P, &l, t, left), 0);
    int n = peers_tick(&P, &l, 600 + PEERS_LEAVE_SILENT_MS, left);
    assert_int_equal(n, 2);
    assert_ptr_equal(left[0].peer, a);
    assert_string_equal(left[0].why, "silent for a minute");
    assert_true(a->left);
    assert_string_equal(peers_state(&P, &l, a, 0), "left");
    assert_int_equal(peers_tick(&P, &l, 700 + PEERS_LEAVE_SILENT_MS, left), 0);
    assert_int_equal(peers_live_actors(&P), 0);
    leases_free(&l);
}

/* Two minutes between ticks are the learner's own (it trained): nobody is silent for them,
 * and silence counts again from there. */
static void test_peers_learner_away_is_nobody_silence(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    peer_left_t left[MAX_PEERS];
    peer_t *a = peers_touch(&P, &l, "a", SPAR__ROLE__ROLE_ACTOR, 0);
    assert_int_equal(peers_tick(&P, &l, 100, left), 0);
    assert_int_equal(peers_tick(&P, &l, 120100, left), 0);
    assert_false(a->silent);
    assert_false(a->left);
    assert_int_equal(peers_tick(&P, &l, 120200, left), 0);
    assert_false(a->silent); /* quiet 100 ms of the learner's listening */
    assert_int_equal(peers_tick(&P, &l, 120100 + 5 * HB, left), 0);
    assert_true(a->silent);
    leases_free(&l);
}

static void test_peers_leave_is_a_holder_event(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    peer_t *a = peers_touch(&P, &l, "a", SPAR__ROLE__ROLE_ACTOR, 0);
    assert_non_null(leases_grant(&l, 3, 0, 1000, "a"));
    assert_string_equal(peers_state(&P, &l, a, 0), "working");
    assert_int_equal(peers_leave(a), 1); /* news: the caller releases its leases */
    assert_int_equal(leases_release(&l, a->id), 3);
    assert_int_equal(peers_leave(a), 0); /* gone already: no second release */
    assert_int_equal(peers_leave(NULL), 0);
    assert_false(leases_holds(&l, "a"));
    leases_free(&l);
}

static void test_peers_eviction_when_full(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    char id[32];
    for (int i = 0; i < MAX_PEERS; i++) {
        snprintf(id, sizeof id, "p%d", i);
        assert_non_null(peers_touch(&P, &l, id, SPAR__ROLE__ROLE_ACTOR, 100 + i));
    }
    /* p0 is the quietest, but holds a lease: p1 makes room */
    assert_non_null(leases_grant(&l, 1, 0, 100000, "p0"));
    peer_t *n1 = peers_touch(&P, &l, "new1", SPAR__ROLE__ROLE_ACTOR, 5000);
    assert_non_null(n1);
    assert_int_equal(P.n_peers, MAX_PEERS);
    assert_non_null(peers_find(&P, "p0"));
    assert_null(peers_find(&P, "p1"));
    /* a departed peer goes before any quiet one */
    peer_t *p500 = peers_find(&P, "p500");
    peers_leave(p500);
    assert_non_null(peers_touch(&P, &l, "new2", SPAR__ROLE__ROLE_ACTOR, 5001));
    assert_null(peers_find(&P, "p500"));
    assert_non_null(peers_find(&P, "p2"));
    /* every peer holding a lease: nobody makes room */
    leases_t all;
    leases_init(&all);
    leases_begin(&all, 1, MAX_PEERS);
    for (int i = 0; i < P.n_peers; i++) assert_non_null(leases_grant(&all, 1, 0, 100000, P.peers[i].id));
    assert_null(peers_touch(&P, &all, "new3", SPAR__ROLE__ROLE_ACTOR, 6000));
    leases_free(&all);
    leases_free(&l);
}

static void test_peers_delivery(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    peer_left_t left[MAX_PEERS];
    peer_t *a = peers_touch(&P, &l, "a", SPAR__ROLE__ROLE_ACTOR, 0);
    peer_t *b = peers_touch(&P, &l, "b", SPAR__ROLE__ROLE_ACTOR, 0);
    peers_touch(&P, &l, "j", SPAR__ROLE__ROLE_JUDGE, 0); /* judges do not run versions */
    peers_new_version(&P, 3, 100);
    assert_false(P.delivered);
    assert_true(isnan(P.delivery_ms));
    assert_string_equal(peers_state(&P, &l, a, 0), "fetching");
    assert_string_equal(peers_state(&P, &l, a, 1), "idle"); /* finished: nobody fetches */
    peers_saw_version(&P, a, 3, 150);
    assert_false(P.delivered);
    peers_saw_version(&P, b, 9, 180); /* no report runs ahead of the learner */
    assert_int_equal(b->version, 3);
    assert_true(P.delivered);
    assert_true(fabs(P.delivery_ms - 80) < 1e-9);
    /* a new version: delivery starts over; a silent actor does not hold it up */
    peers_new_version(&P, 4, 200);
    assert_false(P.delivered);
    peers_saw_version(&P, a, 4, 300);
    assert_false(P.delivered);
    peers_seen(&P, "a", 700);
    peers_tick(&P, &l, 750, left); /* b quiet since 0: silent */
    assert_true(b->silent);
    assert_true(P.delivered);
    assert_true(fabs(P.delivery_ms - 550) < 1e-9);
    leases_free(&l);
}

static void test_peers_judge_pool(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    char *out[MAX_POOL];
    assert_int_equal(peers_pool(&P, out, MAX_POOL), -1); /* no judge yet: nothing to publish */
    peer_t *j = peers_touch(&P, &l, "j", SPAR__ROLE__ROLE_JUDGE, 0);
    j->hello = 1;
    snprintf(j->endpoint, sizeof j->endpoint, "tcp://judge:5557");
    assert_int_equal(peers_judges(&P, out, MAX_POOL), 0); /* not reached there yet */
    j->judge_ok = 1;
    assert_int_equal(peers_pool(&P, out, MAX_POOL), 1);
    assert_string_equal(out[0], "tcp://judge:5557");
    peers_leave(j);
    assert_int_equal(peers_pool(&P, out, MAX_POOL), 0); /* published empty from now on */
    leases_free(&l);
}

static void test_peers_strikes_and_bad_messages(void **state) {
    (void)state;
    leases_t l;
    s_setup(&l);
    peer_t *a = peers_touch(&P, &l, "a", SPAR__ROLE__ROLE_ACTOR, 0);
    leases_grant(&l, 2, 0, 100, "a");
    assert_int_equal(leases_expire(&l, 200), 2);
    peers_strikes(&P, &l);
    peers_strikes(&P, &l); /* each expired lease strikes once */
    assert_int_equal(a->strikes, 1);
    a->bad_messages = 5;
    peer_t *b = peers_touch(&P, &l, "b", SPAR__ROLE__ROLE_ACTOR, 0);
    b->bad_messages = UINT64_MAX; /* a report is capped: no wrap */
    assert_true(peers_bad_messages(&P, 2) == 2 + 5 + ((uint64_t)1 << 40));
    leases_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peers_touch_hello_seen),
        cmocka_unit_test(test_peers_silent_back_and_left),
        cmocka_unit_test(test_peers_learner_away_is_nobody_silence),
        cmocka_unit_test(test_peers_leave_is_a_holder_event),
        cmocka_unit_test(test_peers_eviction_when_full),
        cmocka_unit_test(test_peers_delivery),
        cmocka_unit_test(test_peers_judge_pool),
        cmocka_unit_test(test_peers_strikes_and_bad_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
