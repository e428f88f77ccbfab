/* peers — see peers.h. */
#include "learner/peers.h"

#include <math.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define LEAVE_SILENT_MS 60000

static int64_t s_silent_ms(const learner_t *L) { return 5 * L->cfg->actor.heartbeat_ms; }

static const char *s_role(Spar__Role r) {
    switch (r) {
    case SPAR__ROLE__ROLE_ACTOR: return "actor";
    case SPAR__ROLE__ROLE_JUDGE: return "judge";
    case SPAR__ROLE__ROLE_LEARNER: return "learner";
    default: return "peer";
    }
}

peer_t *peers_find(learner_t *L, const char *id) {
    for (int i = 0; i < L->n_peers; i++)
        if (!strcmp(L->peers[i].id, id)) return &L->peers[i];
    return NULL;
}


peer_t *peers_seen(learner_t *L, const char *id) {
    peer_t *p = peers_find(L, id);
    if (!p) return NULL;
    int64_t now = util_now_ms();
    if (p->silent || p->left)
        log_info("peer %s (%s) back after %.1f s", id, s_role(p->role), (double)(now - p->last_seen_ms) / 1000);
    p->silent = p->left = 0;
    p->last_seen_ms = now;
    return p;
}

/* The slot to reuse in a full table: a departed peer, else the one quiet longest without a lease. */
static peer_t *s_victim(learner_t *L) {
    peer_t *best = NULL;
    for (int i = 0; i < L->n_peers; i++) {
        peer_t *p = &L->peers[i];
        if (leases_holds(&L->leases, p->id)) continue;
        if (!best || (p->left && !best->left) || (p->left == best->left && p->last_seen_ms < best->last_seen_ms))
            best = p;
    }
    if (best && !best->left) log_info("peer table full: %s (%s, quiet %.1f s) makes room", best->id, s_role(best->role),
                                      (double)(util_now_ms() - best->last_seen_ms) / 1000);
    return best;
}

int peers_suspect(const char *holder, void *ctx) {
    learner_t *L = ctx;
    const peer_t *p = peers_find(L, holder);
    return !p || p->silent || p->left || p->strikes > 0 || p->groups == 0;
}

peer_t *peers_touch(learner_t *L, const char *id, Spar__Role role) {
    int64_t now = util_now_ms();
    peer_t *p = peers_seen(L, id);
    if (p) return p;
    p = L->n_peers < MAX_PEERS ? &L->peers[L->n_peers++] : s_victim(L);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->role = role;
    p->joined_ms = p->last_seen_ms = p->rate_ms = now;
    log_info("peer %s joined (%s); %d actor(s) live", id, s_role(role), peers_live_actors(L));
    return p;
}

/* Has every live actor reported the current version? Logged once per version. */
static void s_check_delivery(learner_t *L, int64_t now) {
    if (L->delivered) return;
    int live = 0;
    for (int i = 0; i < L->n_peers; i++) {
        const peer_t *p = &L->peers[i];
        if (p->role != SPAR__ROLE__ROLE_ACTOR || p->silent || p->left) continue;
        if (p->version < L->core.version) return;
        live++;
    }
    if (live == 0) return;
    L->delivered = 1;
    L->delivery_ms = (double)(now - L->announced_ms);
    log_info("version %llu on all %d live actor(s) after %.0f ms", (unsigned long long)L->core.version, live, L->delivery_ms);
}

void peers_saw_version(learner_t *L, peer_t *p, uint64_t version) {
    if (!p) return;
    p->version = version <= L->core.version ? version : L->core.version; /* no report runs ahead of the learner */
    if (version >= L->core.version) s_check_delivery(L, util_now_ms());
}

void peers_leave(learner_t *L, peer_t *p, const char *why) {
    if (!p || p->left) return;
    p->left = 1;
    int requeued = leases_release(&L->leases, p->id);
    log_info("peer %s (%s) left (%s)%s; %d prompt(s) of its leases re-queued", p->id, s_role(p->role), why,
             p->told_shutdown ? ", told the run is over" : "", requeued);
}

void peers_new_version(learner_t *L) {
    L->announced_ms = util_now_ms();
    L->delivered = 0;
    L->delivery_ms = NAN;
}

void peers_strikes(learner_t *L) {
    for (int i = 0; i < L->leases.n_leases; i++) {
        lease_t *ls = &L->leases.leases[i];
        if (!ls->expired || ls->struck) continue;
        ls->struck = 1;
        peer_t *p = peers_find(L, ls->holder);
        if (p && p->strikes < 16) p->strikes++;
    }
}

void peers_tick(learner_t *L, int64_t now) {
    for (int i = 0; i < L->n_peers; i++) {
        peer_t *p = &L->peers[i];
        if (p->left) continue;
        int64_t quiet = now - p->last_seen_ms;
        if (!p->silent && quiet >= s_silent_ms(L)) {
            p->silent = 1;
            log_warn("peer %s (%s) silent for %.1f s%s", p->id, s_role(p->role), (double)quiet / 1000,
                     leases_holds(&L->leases, p->id) ? "; its lease is re-issued at its deadline" : "");
        }
        if (p->silent && quiet >= LEAVE_SILENT_MS) peers_leave(L, p, "silent for a minute");
        if (now - p->rate_ms >= 1000) { /* throughput over the last second or more */
            p->groups_per_s = (double)(p->groups - p->rate_groups) * 1000.0 / (double)(now - p->rate_ms);
            p->rate_groups = p->groups;
            p->rate_ms = now;
        }
    }
    s_check_delivery(L, now);
}

const char *peers_state(const learner_t *L, const peer_t *p) {
    if (p->left) return "left";
    if (p->silent) return "silent";
    if (p->role == SPAR__ROLE__ROLE_ACTOR) {
        if (leases_holds(&L->leases, p->id)) return "working";
        if (p->version < L->core.version && !L->finished) return "fetching";
    }
    return "idle";
}

int peers_live_actors(const learner_t *L) {
    int n = 0;
    for (int i = 0; i < L->n_peers; i++)
        n += L->peers[i].role == SPAR__ROLE__ROLE_ACTOR && !L->peers[i].silent && !L->peers[i].left;
    return n;
}

int peers_judges(const learner_t *L, char **out, int max) {
    int n = 0;
    for (int i = 0; i < L->n_peers && n < max; i++) {
        const peer_t *p = &L->peers[i];
        if (p->role == SPAR__ROLE__ROLE_JUDGE && p->hello && p->judge_ok && p->endpoint[0] && !p->silent && !p->left)
            out[n++] = (char *)p->endpoint;
    }
    return n;
}

uint64_t peers_bad_messages(const learner_t *L) {
    /* what peers report of themselves is bounded, so no report can wrap the total */
    const uint64_t cap = (uint64_t)1 << 40;
    uint64_t n = L->wire.bad_messages;
    for (int i = 0; i < L->n_peers; i++) n += L->peers[i].bad_messages < cap ? L->peers[i].bad_messages : cap;
    return n;
}
