/* judge_pool — see judge_pool.h. Entries live in one array (evicting moves the last one into the
 * freed place); ids stay stable. The backoff of failed published endpoints is a strmap from
 * endpoint to its next try and number of failures; when that table fills it starts over, which
 * only means some dead endpoints are probed again sooner. */
#include "actor/judge_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"

#define JP_DEAD_BASE_MS 30000
#define JP_DEAD_MAX_MS 600000
#define JP_CONFIG_PROBE_MAX_MS 2000

typedef struct {
    int fails;
    int64_t until_ms;
} dead_t;

void jp_init(judge_pool_t *p, const jp_io_t *io, long timeout_ms) {
    memset(p, 0, sizeof *p);
    p->io = *io;
    p->timeout_ms = timeout_ms;
    p->dead = strmap_new(1024);
}

static void s_clear_published(judge_pool_t *p) {
    for (size_t i = 0; i < p->n_published; i++) free(p->published[i]);
    free(p->published);
    p->published = NULL;
    p->n_published = 0;
}

void jp_free(judge_pool_t *p) {
    for (int i = 0; i < p->n; i++)
        if (p->e[i].sock) p->io.close(p->io.ctx, p->e[i].sock);
    free(p->e);
    s_clear_published(p);
    strmap_free(&p->dead);
    memset(p, 0, sizeof *p);
}

int jp_find(const judge_pool_t *p, uint64_t id) {
    for (int i = 0; i < p->n; i++)
        if (p->e[i].id == id) return i;
    return -1;
}

static int s_find_ep(const judge_pool_t *p, const char *ep) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->e[i].endpoint, ep)) return i;
    return -1;
}

static int s_count(const judge_pool_t *p, jp_state_t st, int from_config) {
    int n = 0;
    for (int i = 0; i < p->n; i++) n += p->e[i].state == st && p->e[i].from_config == from_config;
    return n;
}

/* A new entry with its socket; -1 when the table is full or the socket cannot be opened. */
static int s_add(judge_pool_t *p, const char *ep, int from_config, int retry, int64_t now) {
    if (p->n >= JP_MAX_ENTRIES || strlen(ep) > JP_EP_MAX) return -1;
    void *sock = p->io.open(p->io.ctx, ep);
    if (!sock) return -1;
    if (p->n == p->cap) p->e = xrealloc(p->e, sizeof *p->e * (size_t)(p->cap = p->cap ? 2 * p->cap : 16));
    jp_entry_t *e = &p->e[p->n];
    memset(e, 0, sizeof *e);
    e->id = ++p->next_id;
    snprintf(e->endpoint, sizeof e->endpoint, "%s", ep);
    e->state = JP_WAITING;
    e->from_config = from_config;
    e->retry = retry;
    e->probe_at_ms = now;
    e->since_ms = now;
    e->sock = sock;
    return p->n++;
}

/* Removes entry i (and the aliases of it that came from the learner's list; a config alias gets
 * a socket again and waits to be verified anew). */
static void s_evict(judge_pool_t *p, int i, int64_t now) {
    uint64_t id = p->e[i].id;
    if (p->e[i].sock) p->io.close(p->io.ctx, p->e[i].sock);
    p->e[i] = p->e[--p->n];
    for (int k = p->n - 1; k >= 0; k--) {
        jp_entry_t *a = &p->e[k];
        if (a->state != JP_ALIAS || a->alias_of != id) continue;
        if (!a->from_config) {
            p->e[k] = p->e[--p->n];
            continue;
        }
        if ((a->sock = p->io.open(p->io.ctx, a->endpoint))) {
            a->state = JP_WAITING, a->identity[0] = '\0', a->probes = 0, a->probe_at_ms = now, a->alias_of = 0;
        }
    }
}

/* A published endpoint that failed verification: out for a backoff. Returns its failures. */
static int s_bury(judge_pool_t *p, const char *ep, int64_t now) {
    dead_t *d = strmap_get(p->dead, ep);
    int fails = d ? d->fails + 1 : 1;
    int64_t wait = (int64_t)JP_DEAD_BASE_MS << (fails - 1 < 5 ? fails - 1 : 5);
    dead_t *n = xmalloc(sizeof *n);
    n->fails = fails;
    n->until_ms = now + (wait < JP_DEAD_MAX_MS ? wait : JP_DEAD_MAX_MS);
    strmap_put(p->dead, ep, n);
    return fails;
}

/* Logged the first time only: a dead endpoint is retried every backoff. */
static void s_not_used(judge_pool_t *p, int i, int64_t now) {
    if (s_bury(p, p->e[i].endpoint, now) == 1)
        log_info("judge pool: %s did not answer as a judge; not used (tried again after a backoff)", p->e[i].endpoint);
    s_evict(p, i, now);
}

/* Adds published endpoints not in the table while there is room: never-seen ones first, then
 * failed ones whose backoff is over. A never-seen one may take the place of a waiting entry that
 * had its chance (a retry, or one that left two probes unanswered: a judge answers in
 * milliseconds), which is then out for its backoff. */
static void s_refill(judge_pool_t *p, int64_t now) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < p->n_published; j++) {
            const char *ep = p->published[j];
            if (s_find_ep(p, ep) >= 0) continue;
            const dead_t *d = strmap_get(p->dead, ep);
            if (pass == 0 && d) continue;
            if (pass == 1 && (!d || d->until_ms > now)) continue;
            if (s_count(p, JP_WAITING, 0) >= JP_MAX_WAITING) {
                if (pass == 1) return;
                int victim = -1;
                for (int i = 0; i < p->n; i++) {
                    const jp_entry_t *e = &p->e[i];
                    if (e->state != JP_WAITING || e->from_config || !(e->retry || e->probes >= 2)) continue;
                    if (victim < 0 || e->probes > p->e[victim].probes) victim = i;
                }
                if (victim < 0) return;
                s_not_used(p, victim, now);
            }
            if (s_add(p, ep, 0, d != NULL, now) >= 0 && !d) log_info("judge pool: %s joined; verifying it", ep);
        }
}

int jp_add_config(judge_pool_t *p, const char *endpoint, int64_t now_ms) {
    int i = s_find_ep(p, endpoint);
    if (i >= 0) return i;
    return s_add(p, endpoint, 1, 0, now_ms);
}

static int s_is_published(const judge_pool_t *p, const char *ep) {
    for (size_t j = 0; j < p->n_published; j++)
        if (!strcmp(p->published[j], ep)) return 1;
    return 0;
}

void jp_published(judge_pool_t *p, char *const *endpoints, size_t n, int64_t now_ms) {
    /* the endpoints new in this list first: a judge that just joined is tried before the rest */
    size_t keep = n < JP_MAX_PUBLISHED ? n : JP_MAX_PUBLISHED, m = 0;
    char **list = xcalloc(keep ? keep : 1, sizeof *list);
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < keep; j++) {
            if (strlen(endpoints[j]) > JP_EP_MAX || s_is_published(p, endpoints[j]) != pass) continue;
            list[m++] = xstrdup(endpoints[j]);
        }
    s_clear_published(p);
    p->published = list;
    p->n_published = m;
    for (int i = p->n - 1; i >= 0; i--) {
        jp_entry_t *e = &p->e[i];
        if (e->from_config) continue;
        int named = s_is_published(p, e->endpoint);
        if (e->state == JP_RETIRED && named) {
            e->state = JP_JUDGE;
            log_info("judge pool: %s is back", e->endpoint);
        } else if (e->state == JP_JUDGE && !named) {
            e->state = JP_RETIRED;
            e->since_ms = now_ms;
            log_info("judge pool: %s left; no new requests go there", e->endpoint);
        } else if (e->state != JP_JUDGE && e->state != JP_RETIRED && !named) {
            s_evict(p, i, now_ms);
        }
    }
    s_refill(p, now_ms);
}

void jp_tick(judge_pool_t *p, int64_t now) {
    int freed = 0;
    for (int i = p->n - 1; i >= 0; i--) {
        jp_entry_t *e = &p->e[i];
        if (e->state == JP_WAITING && !e->from_config && e->probes >= JP_PROBES && now >= e->probe_at_ms) {
            s_not_used(p, i, now), freed = 1;
        } else if (e->state == JP_RETIRED && now >= e->since_ms + 2 * p->timeout_ms) {
            s_evict(p, i, now), freed = 1;
        }
    }
    if (freed || (now >= p->rescan_at_ms && s_count(p, JP_WAITING, 0) < JP_MAX_WAITING)) {
        s_refill(p, now);
        p->rescan_at_ms = now + 1000;
    }
}

int64_t jp_next_ms(const judge_pool_t *p, int64_t now) {
    int64_t next = now + 1000;
    for (int i = 0; i < p->n; i++) {
        const jp_entry_t *e = &p->e[i];
        if (e->state == JP_WAITING && e->probe_at_ms < next) next = e->probe_at_ms;
        if (e->state == JP_RETIRED && e->since_ms + 2 * p->timeout_ms < next) next = e->since_ms + 2 * p->timeout_ms;
    }
    return next;
}

int jp_probe_due(const judge_pool_t *p, int i, int64_t now) {
    const jp_entry_t *e = &p->e[i];
    return e->state == JP_WAITING && e->sock && now >= e->probe_at_ms &&
           (e->from_config || e->probes < JP_PROBES);
}

void jp_probe_sent(judge_pool_t *p, int i, int64_t now) {
    jp_entry_t *e = &p->e[i];
    e->probes++;
    int64_t wait = JP_PROBE_MS;
    if (e->from_config && e->probes > JP_PROBES) wait = JP_CONFIG_PROBE_MAX_MS; /* a judge not started yet */
    e->probe_at_ms = now + wait;
}

jp_hb_t jp_on_heartbeat(judge_pool_t *p, int i, int role_is_judge, const char *sender, int64_t now) {
    jp_entry_t *e = &p->e[i];
    if (e->state != JP_WAITING) {
        if (role_is_judge) jp_alive(p, i);
        return JP_HB_IGNORED;
    }
    if (!role_is_judge) {
        if (e->from_config) { /* the operator named it: trusted as before, but say so */
            log_warn("judge pool: %s (judge.endpoints) answered a heartbeat, but not as a judge", e->endpoint);
            e->state = JP_JUDGE;
            snprintf(e->identity, sizeof e->identity, "%s", sender);
            return JP_HB_NOT_JUDGE;
        }
        if (s_bury(p, e->endpoint, now) == 1)
            log_warn("judge pool: %s answered as something other than a judge; not used", e->endpoint);
        s_evict(p, i, now);
        s_refill(p, now);
        return JP_HB_NOT_JUDGE;
    }
    snprintf(e->identity, sizeof e->identity, "%s", sender);
    int k = 0;
    /* two endpoints the config names are both kept: the operator named them (judges outside
     * spar, e.g. examples/python_judge, may share one id) */
    while (k < p->n && (k == i || !(p->e[k].state == JP_JUDGE || p->e[k].state == JP_RETIRED) ||
                        (e->from_config && p->e[k].from_config) || strcmp(p->e[k].identity, sender) != 0))
        k++;
    if (k == p->n) {
        e->state = JP_JUDGE;
        jp_alive(p, i);
        log_info("judge pool: %s is judge %s", e->endpoint, sender);
        return JP_HB_VERIFIED;
    }
    int keep = k, alias = i; /* the one already known stays, unless the new one is the config's */
    if (e->from_config && !p->e[k].from_config) keep = i, alias = k;
    jp_entry_t *a = &p->e[alias];
    log_info("judge pool: %s is judge %s, already reached at %s: counted once", a->endpoint, sender,
             p->e[keep].endpoint);
    if (keep == i) e->state = JP_JUDGE, jp_alive(p, i);
    if (a->sock) p->io.close(p->io.ctx, a->sock);
    a->sock = NULL;
    a->state = JP_ALIAS;
    a->alias_of = p->e[keep].id;
    return JP_HB_ALIAS;
}

int jp_usable(const judge_pool_t *p, int i) {
    const jp_entry_t *e = &p->e[i];
    return e->sock && (e->state == JP_JUDGE || (e->state == JP_WAITING && e->from_config));
}

int jp_n_usable(const judge_pool_t *p) {
    int n = 0;
    for (int i = 0; i < p->n; i++) n += jp_usable(p, i);
    return n;
}

int jp_pick(judge_pool_t *p, int after, int64_t now) {
    if (p->n == 0) return -1;
    int from = after < 0 ? p->next : after + 1, fallback = -1, full = 0;
    for (int s = 0; s < p->n; s++) {
        int j = (from + s) % p->n;
        if (!jp_usable(p, j)) continue;
        if (p->e[j].in_flight >= JP_WINDOW) {
            full = 1;
            continue;
        }
        if (p->e[j].benched_until_ms <= now) {
            if (after < 0) p->next = (j + 1) % p->n;
            return j;
        }
        if (fallback < 0) fallback = j;
    }
    return fallback >= 0 ? fallback : full ? -2 : -1;
}

void jp_strike(judge_pool_t *p, int i, int64_t now) {
    jp_entry_t *e = &p->e[i];
    int s = ++e->strikes < 12 ? e->strikes : 12;
    int64_t bench = (int64_t)p->timeout_ms << (s - 1);
    e->benched_until_ms = now + (bench < 60000 ? bench : 60000);
}

void jp_alive(judge_pool_t *p, int i) {
    p->e[i].strikes = 0;
    p->e[i].benched_until_ms = 0;
}
