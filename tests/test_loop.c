/* Loop: timers fire in deadline order on a fake clock (no sleeping), cancel and move work, a
 * periodic timer re-arms itself; a handler runs when a message arrives on a real inproc PAIR
 * socket; sources and timers added and removed during dispatch; loop_stop and the stop check
 * end loop_run. */
#include "tests/testutil.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/loop.h"
#include "common/util.h"

typedef struct {
    int64_t now;
    char order[32]; /* the names of the timers that fired, in order */
    int n;
} fake_t;

static int64_t s_fake_clock(void *arg) { return ((fake_t *)arg)->now; }

static loop_t *s_fake_loop(fake_t *f) {
    memset(f, 0, sizeof *f);
    f->now = 1000;
    loop_t *L = loop_new();
    loop_set_clock(L, s_fake_clock, f);
    return L;
}

/* Timers whose arg is a one-letter name record it and end. */
static fake_t *s_fake;
static int64_t s_record(loop_t *L, uint64_t id, int64_t now, void *arg) {
    (void)L, (void)id, (void)now;
    s_fake->order[s_fake->n++] = *(const char *)arg;
    return LOOP_TIMER_DONE;
}

static void test_loop_timers_fire_in_deadline_order(void **state) {
    (void)state;
    fake_t f;
    loop_t *L = s_fake_loop(&f);
    s_fake = &f;
    loop_add_timer(L, 1300, s_record, "c");
    loop_add_timer(L, 1100, s_record, "a");
    loop_add_timer(L, 1200, s_record, "b");
    loop_add_timer(L, 1200, s_record, "B"); /* same deadline: the older one first */
    assert_int_equal(loop_once(L, 0), 0);
    f.now = 1250;
    assert_int_equal(loop_once(L, 0), 3);
    assert_string_equal(f.order, "abB");
    f.now = 5000;
    assert_int_equal(loop_once(L, 0), 1);
    assert_int_equal(loop_once(L, 0), 0); /* one-shot: gone */
    assert_string_equal(f.order, "abBc");
    loop_destroy(&L);
    assert_null(L);
}

static void test_loop_cancel_and_move(void **state) {
    (void)state;
    fake_t f;
    loop_t *L = s_fake_loop(&f);
    s_fake = &f;
    uint64_t a = loop_add_timer(L, 1100, s_record, "a");
    uint64_t b = loop_add_timer(L, 1200, s_record, "b");
    uint64_t c = loop_add_timer(L, 1300, s_record, "c");
    assert_true(a && b && c && a != b && b != c);
    loop_cancel_timer(L, b);
    loop_set_timer(L, c, 1050); /* now before a */
    loop_set_timer(L, a, 9000);
    f.now = 1400;
    assert_int_equal(loop_once(L, 0), 1);
    assert_string_equal(f.order, "c");
    loop_cancel_timer(L, c); /* finished: nothing happens */
    loop_set_timer(L, c, 0);
    f.now = 9000;
    assert_int_equal(loop_once(L, 0), 1);
    assert_string_equal(f.order, "ca");
    loop_destroy(&L);
}

/* Re-arms every 100 ms, three times; a timer fires at most once per pass even when late. */
static int s_ticks;
static int64_t s_periodic(loop_t *L, uint64_t id, int64_t now, void *arg) {
    (void)L, (void)id, (void)arg;
    return ++s_ticks < 3 ? now + 100 : LOOP_TIMER_DONE;
}

static void test_loop_periodic_timer_rearms(void **state) {
    (void)state;
    fake_t f;
    loop_t *L = s_fake_loop(&f);
    s_ticks = 0;
    loop_add_timer(L, 1000, s_periodic, NULL);
    assert_int_equal(loop_once(L, 0), 1);
    assert_int_equal(loop_once(L, 0), 0); /* next at 1100 */
    f.now = 5000;
    assert_int_equal(loop_once(L, 0), 1); /* late: once, re-armed for 5100 */
    assert_int_equal(loop_once(L, 0), 0);
    f.now = 5100;
    assert_int_equal(loop_once(L, 0), 1);
    f.now = 99999;
    assert_int_equal(loop_once(L, 0), 0);
    assert_int_equal(s_ticks, 3);
    loop_destroy(&L);
}

/* A timer that adds another due at once, cancels a third and moves itself (its return wins). */
static uint64_t s_victim;
static int64_t s_meddle(loop_t *L, uint64_t id, int64_t now, void *arg) {
    (void)arg;
    s_fake->order[s_fake->n++] = 'm';
    loop_add_timer(L, now, s_record, "n"); /* waits for the next pass */
    loop_cancel_timer(L, s_victim);
    loop_set_timer(L, id, 0);
    return LOOP_TIMER_DONE;
}

static void test_loop_timers_changed_while_firing(void **state) {
    (void)state;
    fake_t f;
    loop_t *L = s_fake_loop(&f);
    s_fake = &f;
    loop_add_timer(L, 1000, s_meddle, NULL);
    s_victim = loop_add_timer(L, 1000, s_record, "v");
    for (int i = 0; i < 20; i++) loop_add_timer(L, 50000 + i, s_record, "z"); /* the array grows while firing */
    assert_int_equal(loop_once(L, 0), 1);
    assert_string_equal(f.order, "m");
    assert_int_equal(loop_once(L, 0), 1);
    assert_string_equal(f.order, "mn");
    assert_int_equal(loop_once(L, 0), 0);
    loop_destroy(&L);
}

typedef struct {
    void *a, *b; /* a PAIR: the loop reads b */
    char got[64];
    int calls;
    loop_t *L;
} pair_t;

static void s_pair(pair_t *p, void *ctx, const char *name) {
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://test-loop-%s-%p", name, (void *)p);
    p->a = zmq_socket(ctx, ZMQ_PAIR);
    p->b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(p->b, ep), 0);
    assert_int_equal(zmq_connect(p->a, ep), 0);
    p->got[0] = 0;
    p->calls = 0;
}

static void s_wait_readable(void *socket) {
    zmq_pollitem_t it = {socket, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 2000), 1);
}

static void s_pair_close(pair_t *p) {
    zmq_close(p->a);
    zmq_close(p->b);
}

static void s_on_readable(loop_t *L, void *socket, void *arg) {
    (void)L;
    pair_t *p = arg;
    assert_ptr_equal(socket, p->b);
    char buf[32];
    int n;
    while ((n = zmq_recv(socket, buf, sizeof buf - 1, ZMQ_DONTWAIT)) >= 0) {
        buf[n] = 0;
        strcat(p->got, buf);
    }
    p->calls++;
}

static void test_loop_socket_handler_runs_on_a_message(void **state) {
    (void)state;
    void *ctx = zmq_ctx_new();
    pair_t p;
    s_pair(&p, ctx, "msg");
    loop_t *L = loop_new();
    assert_int_equal(loop_add_socket(L, p.b, s_on_readable, &p), 0);
    assert_int_equal(loop_add_socket(L, p.b, s_on_readable, &p), -1);
    assert_int_equal(loop_once(L, 0), 0);
    assert_int_equal(zmq_send(p.a, "hi", 2, 0), 2);
    assert_int_equal(zmq_send(p.a, "!", 1, 0), 1);
    assert_int_equal(loop_once(L, 2000), 1); /* wakes as the message arrives */
    assert_string_equal(p.got, "hi!");
    loop_remove_socket(L, p.b);
    assert_int_equal(zmq_send(p.a, "x", 1, 0), 1);
    assert_int_equal(loop_once(L, 20), 0);
    assert_int_equal(p.calls, 1);
    loop_destroy(&L);
    s_pair_close(&p);
    zmq_ctx_term(ctx);
}

/* The first handler removes the second source (readable in the same pass) and adds a third. */
static pair_t s_p1, s_p2, s_p3;
static void s_on_first(loop_t *L, void *socket, void *arg) {
    s_on_readable(L, socket, arg);
    loop_remove_socket(L, s_p2.b);
    loop_add_socket(L, s_p3.b, s_on_readable, &s_p3);
}

static void test_loop_sources_changed_during_dispatch(void **state) {
    (void)state;
    void *ctx = zmq_ctx_new();
    s_pair(&s_p1, ctx, "one");
    s_pair(&s_p2, ctx, "two");
    s_pair(&s_p3, ctx, "three");
    loop_t *L = loop_new();
    loop_add_socket(L, s_p1.b, s_on_first, &s_p1);
    loop_add_socket(L, s_p2.b, s_on_readable, &s_p2);
    zmq_send(s_p1.a, "1", 1, 0);
    zmq_send(s_p2.a, "2", 1, 0);
    zmq_send(s_p3.a, "3", 1, 0);
    s_wait_readable(s_p1.b), s_wait_readable(s_p2.b);
    assert_int_equal(loop_once(L, 0), 1);
    assert_string_equal(s_p1.got, "1");
    assert_int_equal(s_p2.calls, 0); /* removed before its turn */
    assert_int_equal(s_p3.calls, 0); /* added: from the next pass on */
    assert_int_equal(loop_once(L, 2000), 1);
    assert_string_equal(s_p3.got, "3");
    assert_int_equal(s_p2.calls, 0);
    loop_destroy(&L);
    s_pair_close(&s_p1), s_pair_close(&s_p2), s_pair_close(&s_p3);
    zmq_ctx_term(ctx);
}

static void s_stop_on_message(loop_t *L, void *socket, void *arg) {
    s_on_readable(L, socket, arg);
    loop_stop(L);
}

static int s_hooks;
static void s_before_sleep(loop_t *L, void *arg) {
    (void)L;
    (void)arg;
    s_hooks++;
}

static void test_loop_stop_from_a_handler_ends_run(void **state) {
    (void)state;
    void *ctx = zmq_ctx_new();
    pair_t p;
    s_pair(&p, ctx, "stop");
    loop_t *L = loop_new();
    loop_add_socket(L, p.b, s_stop_on_message, &p);
    s_hooks = 0;
    loop_set_before_sleep(L, s_before_sleep, NULL);
    zmq_send(p.a, "bye", 3, 0);
    int64_t t0 = util_now_ms();
    assert_int_equal(loop_run(L), 0);
    assert_true(util_now_ms() - t0 < 1000);
    assert_string_equal(p.got, "bye");
    assert_true(s_hooks >= 1);
    loop_destroy(&L);
    s_pair_close(&p);
    zmq_ctx_term(ctx);
}

/* A stop flag, as a SIGINT handler sets it, is seen within LOOP_MAX_WAIT_MS. */
static int s_flag;
static int s_flag_set(void) { return s_flag; }
static int64_t s_raise_flag(loop_t *L, uint64_t id, int64_t now, void *arg) {
    (void)L, (void)id, (void)now, (void)arg;
    s_flag = 1;
    return LOOP_TIMER_DONE;
}

static void test_loop_stop_check_ends_run(void **state) {
    (void)state;
    loop_t *L = loop_new();
    s_flag = 0;
    loop_set_stop_check(L, s_flag_set);
    loop_add_timer(L, loop_now(L) + 30, s_raise_flag, NULL);
    int64_t t0 = util_now_ms();
    assert_int_equal(loop_run(L), 0);
    int64_t took = util_now_ms() - t0;
    assert_true(took >= 25 && took < 30 + 2 * LOOP_MAX_WAIT_MS);
    loop_destroy(&L);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_timers_fire_in_deadline_order),
        cmocka_unit_test(test_loop_cancel_and_move),
        cmocka_unit_test(test_loop_periodic_timer_rearms),
        cmocka_unit_test(test_loop_timers_changed_while_firing),
        cmocka_unit_test(test_loop_socket_handler_runs_on_a_message),
        cmocka_unit_test(test_loop_sources_changed_during_dispatch),
        cmocka_unit_test(test_loop_stop_from_a_handler_ends_run),
        cmocka_unit_test(test_loop_stop_check_ends_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
