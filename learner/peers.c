/* peers — see peers.h. */
#include "learner/peers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

static const char *s_role(Spar__Role r) {
    switch (r) {
    case SPAR__ROLE__ROLE_ACTOR: return "actor";
    case SPAR__ROLE__ROLE_JUDGE: return "judge";
    case SPAR__ROLE__ROLE_LEARNER: return "learner";
    default: return "peer";
    }
}

void peers_init(peers_t *P, int64_t heartbeat_ms) {
    memset(P, 0, sizeof *P);
    P->silent_ms = 5 * heartbeat_ms;
    P->delivery_ms = NAN;
}

peer_t *peers_find(peers_t *P, const char *id) {
    for (int i = 0; i < P->n_peers; i++)
        if (!strcmp(P->peers[i].id, id)) return &P->peers[i];
    return NULL;
}

peer_t *peers_seen(peers_t *P, const char *id, int64_t now) {
    peer_t *p = peers_find(P, id);
    if (!p) return NULL;
    if (p->silent || p->left)
        log_info("peer %s (%s) back after %.1f s", id, s_role(p->role), (double)(now - p->last_seen_ms) / 1000);
    p->silent = p->left = 0;
    p->last_seen_ms = now;
    return p;
}

/* The slot to reuse in a full table: a departed peer, else the one quiet longest without a lease. */
static peer_t *s_victim(peers_t *P, const leases_t *leases, int64_t now) {
    peer_t *best = NULL;
    for (int i = 0; i < P->n_peers; i++) {
        peer_t *p = &P->peers[i];
        if (leases_holds(leases, p->id)) continue;
        if (!best || (p->left && !best->left) || (p->left == best->left && p->last_seen_ms < best->last_seen_ms))
            best = p;
    }
    if (best && !best->left) log_info("peer table full: %s (%s, quiet %.1f s) makes room", best->id, s_role(best->role),
                                      (double)(now - best->last_seen_ms) / 1000);
    return best;
}

int peers_suspect(const char *holder, void *ctx) {
    const peer_t *p = peers_find(ctx, holder);
    return !p || p->silent || p->left || p->strikes > 0 || p->groups == 0;
}

peer_t *peers_touch(peers_t *P, const leases_t *leases, const char *id, Spar__Role role, int64_t now) {
    peer_t *p = peers_seen(P, id, now);
    if (p) return p;
    p = P->n_peers < MAX_PEERS ? &P->peers[P->n_peers++] : s_victim(P, leases, now);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->role = role;
    p->joined_ms = p->last_seen_ms = p->rate_ms = now;
    log_info("peer %s joined (%s); %d actor(s) live", id, s_role(role), peers_live_actors(P));
    return p;
}

/* Has every live actor reported the current version? Logged once per version. */
static void s_check_delivery(peers_t *P, int64_t now) {
    if (P->delivered) return;
    int live = 0;
    for (int i = 0; i < P->n_peers; i++) {
        const peer_t *p = &P->peers[i];
        if (p->role != SPAR__ROLE__ROLE_ACTOR || p->silent || p->left) continue;
        if (p->version < P->version) return;
        live++;
    }
    if (live == 0) return;
    P->delivered = 1;
    P->delivery_ms = (double)(now - P->announced_ms);
    log_info("version %llu on all %d live actor(s) after %.0f ms", (unsigned long long)P->version, live, P->delivery_ms);
}

void peers_saw_version(peers_t *P, peer_t *p, uint64_t version, int64_t now) {
    if (!p) return;
    p->version = version <= P->version ? version : P->version; /* no report runs ahead of the learner */
    if (version >= P->version) s_check_delivery(P, now);
}

int peers_leave(peer_t *p) {
    if (!p || p->left) return 0;
    p->left = 1;
    return 1;
}

void peers_log_left(const peer_t *p, const char *why, int requeued) {
    log_info("peer %s (%s) left (%s)%s; %d prompt(s) of its leases re-queued", p->id, s_role(p->role), why,
             p->told_shutdown ? ", told the run is over" : "", requeued);
}

void peers_new_version(peers_t *P, uint64_t version, int64_t now) {
    P->version = version;
    P->announced_ms = now;
    P->delivered = 0;
    P->delivery_ms = NAN;
}

void peers_strikes(peers_t *P, leases_t *leases) {
    for (int i = 0; i < leases->n_leases; i++) {
        lease_t *ls = &leases->leases[i];
        if (!ls->expired || ls->struck) continue;
        ls->struck = 1;
        peer_t *p = peers_find(P, ls->holder);
        if (p && p->strikes < 16) p->strikes++;
    }
}

int peers_tick(peers_t *P, const leases_t *leases, int64_t now, peer_left_t *left) {
    int n_left = 0;
    /* A gap between ticks longer than a silence is the learner's own (training, a checkpoint):
     * what peers sent meanwhile waits unread in its socket, so that time counts for nobody. */
    int64_t away = P->ticked_ms ? now - P->ticked_ms : 0;
    P->ticked_ms = now;
    if (away > P->silent_ms)
        for (int i = 0; i < P->n_peers; i++) {
            peer_t *p = &P->peers[i];
            p->last_seen_ms = p->last_seen_ms + away < now ? p->last_seen_ms + away : now;
        }
    for (int i = 0; i < P->n_peers; i++) {
        peer_t *p = &P->peers[i];
        if (p->left) continue;
        int64_t quiet = now - p->last_seen_ms;
        if (!p->silent && quiet >= P->silent_ms) {
            p->silent = 1;
            log_warn("peer %s (%s) silent for %.1f s%s", p->id, s_role(p->role), (double)quiet / 1000,
                     leases_holds(leases, p->id) ? "; its lease is re-issued at its deadline" : "");
        }
        if (p->silent && quiet >= PEERS_LEAVE_SILENT_MS && peers_leave(p))
            left[n_left++] = (peer_left_t){p, "silent for a minute"};
        if (now - p->rate_ms >= 1000) { /* throughput over the last second or more */
            p->groups_per_s = (double)(p->groups - p->rate_groups) * 1000.0 / (double)(now - p->rate_ms);
            p->rate_groups = p->groups;
            p->rate_ms = now;
        }
    }
    s_check_delivery(P, now);
    return n_left;
}

const char *peers_state(const peers_t *P, const leases_t *leases, const peer_t *p, int finished) {
    if (p->left) return "left";
    if (p->silent) return "silent";
    if (p->role == SPAR__ROLE__ROLE_ACTOR) {
        if (leases_holds(leases, p->id)) return "working";
        if (p->version < P->version && !finished) return "fetching";
    }
    return "idle";
}

int peers_live_actors(const peers_t *P) {
    int n = 0;
    for (int i = 0; i < P->n_peers; i++)
        n += P->peers[i].role == SPAR__ROLE__ROLE_ACTOR && !P->peers[i].silent && !P->peers[i].left;
    return n;
}

int peers_actors_since(const peers_t *P, int64_t since) {
    int n = 0;
    for (int i = 0; i < P->n_peers; i++)
        n += P->peers[i].role == SPAR__ROLE__ROLE_ACTOR && P->peers[i].last_seen_ms > since;
    return n;
}

int peers_judges(const peers_t *P, char **out, int max) {
    int n = 0;
    for (int i = 0; i < P->n_peers && n < max; i++) {
        const peer_t *p = &P->peers[i];
        if (p->role == SPAR__ROLE__ROLE_JUDGE && p->hello && p->judge_ok && p->endpoint[0] && !p->silent && !p->left)
            out[n++] = (char *)p->endpoint;
    }
    return n;
}

int peers_pool(peers_t *P, char **out, int max) {
    int n = peers_judges(P, out, max);
    if (n == 0 && !P->had_judges) return -1; /* judges from configs only */
    P->had_judges = 1;
    return n;
}

uint64_t peers_bad_messages(const peers_t *P, uint64_t own) {
    /* what peers report of themselves is bounded, so no report can wrap the total */
    const uint64_t cap = (uint64_t)1 << 40;
    uint64_t n = own;
    for (int i = 0; i < P->n_peers; i++) n += P->peers[i].bad_messages < cap ? P->peers[i].bad_messages : cap;
    return n;
}
