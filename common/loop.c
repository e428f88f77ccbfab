/* loop — see loop.h. Sources and timers live in arrays. Timers are kept in id order (ids only
 * grow and compaction keeps the order), so one is found by binary search, and a pass collects
 * its due timers in one scan and sorts them: an actor has a timer per rollout in flight, up to
 * thousands. Removing only marks an entry dead; dead entries are dropped between passes, so
 * indices stay valid while handlers run. */
#include "common/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <zmq.h>

#include "common/util.h"

/* A timer due in this pass: its deadline and id (the sort keys) and where it is in tim. */
struct due {
    int64_t at_ms;
    uint64_t id;
    int i;
};

typedef struct {
    void *socket; /* NULL: a plain fd */
    int fd;
    loop_io_fn fn;
    void *arg;
    int live;
} source_t;

typedef struct {
    uint64_t id;
    int64_t at_ms;
    loop_timer_fn fn;
    void *arg;
    int live;
} timer_entry_t;

struct loop {
    source_t *src;
    int n_src, cap_src;
    zmq_pollitem_t *items; /* items[i] polls src[i] */
    int cap_items;
    timer_entry_t *tim;
    int n_tim, cap_tim;
    struct due *due; /* this pass's due timers */
    int cap_due;
    uint64_t next_id;
    loop_clock_fn clock;
    void *clock_arg;
    loop_hook_fn before_sleep;
    void *before_sleep_arg;
    loop_check_fn stop_check;
    volatile sig_atomic_t stop;
};

static int64_t s_monotonic(void *arg) {
    (void)arg;
    return util_now_ms();
}

loop_t *loop_new(void) {
    loop_t *L = xcalloc(1, sizeof *L);
    L->next_id = 1;
    L->clock = s_monotonic;
    return L;
}

void loop_destroy(loop_t **loop) {
    if (!*loop) return;
    free((*loop)->src);
    free((*loop)->items);
    free((*loop)->tim);
    free((*loop)->due);
    free(*loop);
    *loop = NULL;
}

static int s_find_source(const loop_t *L, void *socket, int fd) {
    for (int i = 0; i < L->n_src; i++)
        if (L->src[i].live && L->src[i].socket == socket && (socket || L->src[i].fd == fd)) return i;
    return -1;
}

static int s_add_source(loop_t *L, void *socket, int fd, loop_io_fn fn, void *arg) {
    if (s_find_source(L, socket, fd) >= 0) return -1;
    if (L->n_src == L->cap_src) {
        L->cap_src = L->cap_src ? 2 * L->cap_src : 8;
        L->src = xrealloc(L->src, sizeof *L->src * (size_t)L->cap_src);
    }
    L->src[L->n_src++] = (source_t){socket, fd, fn, arg, 1};
    return 0;
}

int loop_add_socket(loop_t *loop, void *socket, loop_io_fn fn, void *arg) {
    return socket ? s_add_source(loop, socket, -1, fn, arg) : -1;
}

int loop_add_fd(loop_t *loop, int fd, loop_io_fn fn, void *arg) {
    return fd >= 0 ? s_add_source(loop, NULL, fd, fn, arg) : -1;
}

void loop_remove_socket(loop_t *loop, void *socket) {
    int i = socket ? s_find_source(loop, socket, -1) : -1;
    if (i >= 0) loop->src[i].live = 0;
}

void loop_remove_fd(loop_t *loop, int fd) {
    int i = s_find_source(loop, NULL, fd);
    if (i >= 0) loop->src[i].live = 0;
}

static timer_entry_t *s_find_timer(loop_t *L, uint64_t id) {
    int lo = 0, hi = L->n_tim - 1;
    while (lo <= hi) { /* tim is in id order */
        int mid = lo + (hi - lo) / 2;
        if (L->tim[mid].id == id) return L->tim[mid].live ? &L->tim[mid] : NULL;
        if (L->tim[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

uint64_t loop_add_timer(loop_t *loop, int64_t at_ms, loop_timer_fn fn, void *arg) {
    if (loop->n_tim == loop->cap_tim) {
        loop->cap_tim = loop->cap_tim ? 2 * loop->cap_tim : 8;
        loop->tim = xrealloc(loop->tim, sizeof *loop->tim * (size_t)loop->cap_tim);
    }
    uint64_t id = loop->next_id++;
    loop->tim[loop->n_tim++] = (timer_entry_t){id, at_ms, fn, arg, 1};
    return id;
}

void loop_cancel_timer(loop_t *loop, uint64_t id) {
    timer_entry_t *t = s_find_timer(loop, id);
    if (t) t->live = 0;
}

void loop_set_timer(loop_t *loop, uint64_t id, int64_t at_ms) {
    timer_entry_t *t = s_find_timer(loop, id);
    if (t) t->at_ms = at_ms;
}

void loop_set_clock(loop_t *loop, loop_clock_fn fn, void *arg) {
    loop->clock = fn ? fn : s_monotonic;
    loop->clock_arg = fn ? arg : NULL;
}

int64_t loop_now(const loop_t *loop) { return loop->clock(loop->clock_arg); }

void loop_set_before_sleep(loop_t *loop, loop_hook_fn fn, void *arg) {
    loop->before_sleep = fn;
    loop->before_sleep_arg = arg;
}

void loop_set_stop_check(loop_t *loop, loop_check_fn fn) { loop->stop_check = fn; }

void loop_stop(loop_t *loop) { loop->stop = 1; }

/* Drops dead entries; only between passes, never while a handler may hold an index. */
static void s_compact(loop_t *L) {
    int n = 0;
    for (int i = 0; i < L->n_src; i++)
        if (L->src[i].live) L->src[n++] = L->src[i];
    L->n_src = n;
    n = 0;
    for (int i = 0; i < L->n_tim; i++)
        if (L->tim[i].live) L->tim[n++] = L->tim[i];
    L->n_tim = n;
}

/* Deadline order; ties go to the older timer. */
static int s_by_deadline(const void *x, const void *y) {
    const struct due *a = x, *b = y;
    if (a->at_ms != b->at_ms) return a->at_ms < b->at_ms ? -1 : 1;
    return a->id < b->id ? -1 : 1;
}

/* Collects the live timers due at now, in deadline order. */
static int s_collect_due(loop_t *L, int64_t now) {
    if (L->cap_due < L->n_tim) {
        L->cap_due = L->n_tim;
        L->due = xrealloc(L->due, sizeof *L->due * (size_t)L->cap_due);
    }
    int n = 0;
    for (int i = 0; i < L->n_tim; i++)
        if (L->tim[i].live && L->tim[i].at_ms <= now) L->due[n++] = (struct due){L->tim[i].at_ms, L->tim[i].id, i};
    if (n > 1) qsort(L->due, (size_t)n, sizeof *L->due, s_by_deadline);
    return n;
}

/* Fires each due timer once. A callback may cancel or move another due timer (it is skipped
 * when no longer due) and may add timers, which wait for the next pass. */
static int s_fire_timers(loop_t *L) {
    int64_t now = loop_now(L);
    int fired = 0, n = s_collect_due(L, now);
    for (int k = 0; k < n; k++) {
        int i = L->due[k].i;
        if (!L->tim[i].live || L->tim[i].at_ms > now) continue;
        int64_t next = L->tim[i].fn(L, L->tim[i].id, now, L->tim[i].arg);
        fired++;
        timer_entry_t *t = &L->tim[i]; /* the callback may have grown (moved) the array */
        if (!t->live) continue;
        if (next < 0) t->live = 0;
        else t->at_ms = next;
    }
    return fired;
}

/* How long this pass may wait: max_wait_ms, cut to the nearest deadline. */
static int64_t s_wait_ms(const loop_t *L, int64_t max_wait_ms) {
    if (L->stop) return 0;
    int64_t wait = max_wait_ms, now = loop_now(L);
    for (int i = 0; i < L->n_tim; i++) {
        if (!L->tim[i].live) continue;
        int64_t until = L->tim[i].at_ms - now;
        if (wait < 0 || until < wait) wait = until < 0 ? 0 : until;
    }
    return wait;
}

int loop_once(loop_t *loop, int64_t max_wait_ms) {
    loop_t *L = loop;
    if (L->before_sleep) L->before_sleep(L, L->before_sleep_arg);
    s_compact(L);
    if (L->cap_items < L->n_src) {
        L->cap_items = L->cap_src;
        L->items = xrealloc(L->items, sizeof *L->items * (size_t)L->cap_items);
    }
    int n = L->n_src, ran = 0;
    for (int i = 0; i < n; i++) L->items[i] = (zmq_pollitem_t){L->src[i].socket, L->src[i].fd, ZMQ_POLLIN, 0};
    int64_t wait = s_wait_ms(L, max_wait_ms);
    if (wait < 0 && n == 0) return 0; /* nothing could ever end such a wait */
    int ready = zmq_poll(L->items, n, (long)wait);
    if (ready < 0 && zmq_errno() != EINTR) return -1;
    for (int i = 0; i < n && ready > 0; i++)
        if ((L->items[i].revents & ZMQ_POLLIN) && L->src[i].live) {
            L->src[i].fn(L, L->src[i].socket, L->src[i].arg);
            ran++;
        }
    ran += s_fire_timers(L);
    s_compact(L);
    return ran;
}

int loop_run(loop_t *loop) {
    int rc = 0;
    while (!loop->stop && !(loop->stop_check && loop->stop_check()))
        if (loop_once(loop, LOOP_MAX_WAIT_MS) < 0) {
            rc = -1;
            break;
        }
    loop->stop = 0;
    return rc;
}
