/* leases — see leases.h. */
#include "learner/leases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void leases_init(leases_t *l) { memset(l, 0, sizeof *l); }

static void s_clear_leases(leases_t *l) {
    for (int i = 0; i < l->n_leases; i++) free(l->leases[i].prompts), free(l->leases[i].earlier);
    l->n_leases = 0;
}

void leases_free(leases_t *l) {
    s_clear_leases(l);
    free(l->leases);
    free(l->state);
    free(l->queue);
    free(l->holders);
    free(l->backed_up);
    free(l->last_lease);
    memset(l, 0, sizeof *l);
}

static void s_push_back(leases_t *l, int prompt) {
    l->queue[(l->q_head + l->q_len) % l->n_prompts] = prompt;
    l->q_len++;
}

static void s_push_front(leases_t *l, int prompt) {
    l->q_head = (l->q_head - 1 + l->n_prompts) % l->n_prompts;
    l->queue[l->q_head] = prompt;
    l->q_len++;
}

void leases_begin(leases_t *l, uint64_t iteration, int n_prompts) {
    s_clear_leases(l);
    if (n_prompts != l->n_prompts) {
        free(l->state);
        free(l->queue);
        free(l->holders);
        free(l->backed_up);
        free(l->last_lease);
        l->last_lease = xmalloc(sizeof *l->last_lease * ((size_t)n_prompts + 1));
        l->state = xcalloc((size_t)n_prompts, 1);
        l->queue = xcalloc((size_t)n_prompts, sizeof(int));
        l->holders = xcalloc((size_t)n_prompts, sizeof *l->holders);
        l->backed_up = xcalloc((size_t)n_prompts, 1);
    }
    memset(l->holders, 0, sizeof *l->holders * (size_t)n_prompts);
    memset(l->backed_up, 0, (size_t)n_prompts);
    memset(l->state, LEASE_QUEUED, (size_t)n_prompts);
    for (int p = 0; p < n_prompts; p++) l->last_lease[p] = -1;
    l->iteration = iteration;
    l->n_prompts = n_prompts;
    l->q_head = l->q_len = 0;
    for (int p = 0; p < n_prompts; p++) s_push_back(l, p);
    l->done = 0;
    l->reissued = 0;
}

/* A new open lease of the n prompts in take, each counted as held once more. */
static lease_t *s_new_lease(leases_t *l, const int *take, int n, int64_t now_ms, int64_t timeout_ms,
                            const char *holder) {
    if (l->n_leases == l->cap_leases) {
        l->cap_leases = l->cap_leases ? 2 * l->cap_leases : 16;
        l->leases = xrealloc(l->leases, sizeof(lease_t) * (size_t)l->cap_leases);
    }
    lease_t *ls = &l->leases[l->n_leases++];
    memset(ls, 0, sizeof *ls);
    ls->id = ++l->next_id;
    ls->prompts = xmalloc(sizeof(int) * (size_t)n);
    memcpy(ls->prompts, take, sizeof(int) * (size_t)n);
    ls->n = n;
    ls->deadline_ms = now_ms + timeout_ms;
    snprintf(ls->holder, sizeof ls->holder, "%s", holder);
    ls->open = 1;
    ls->earlier = xmalloc(sizeof(int) * (size_t)n);
    for (int j = 0; j < n; j++) { /* each prompt's leases are a chain, newest first */
        l->holders[take[j]]++;
        ls->earlier[j] = l->last_lease[take[j]];
        l->last_lease[take[j]] = l->n_leases - 1;
    }
    return ls;
}

const lease_t *leases_grant(leases_t *l, int max, int64_t now_ms, int64_t timeout_ms, const char *holder) {
    int take[4096];
    int n = 0;
    if (max > 4096) max = 4096;
    while (l->q_len > 0 && n < max) {
        int p = l->queue[l->q_head];
        l->q_head = (l->q_head + 1) % l->n_prompts;
        l->q_len--;
        if (l->state[p] != LEASE_QUEUED) continue; /* answered late while queued */
        l->state[p] = LEASE_GRANTED;
        take[n++] = p;
    }
    if (n == 0) return NULL;
    return s_new_lease(l, take, n, now_ms, timeout_ms, holder);
}

const lease_t *leases_grant_backup(leases_t *l, int max, int64_t now_ms, int64_t timeout_ms, const char *holder,
                                   int (*suspect)(const char *holder, void *ctx), void *ctx) {
    int take[4096];
    int n = 0;
    if (max > 4096) max = 4096;
    if (l->q_len > 0) return NULL; /* queued prompts first: leases_grant */
    for (int i = 0; i < l->n_leases && n < max; i++) {
        const lease_t *ls = &l->leases[i];
        if (!ls->open || !strcmp(ls->holder, holder)) continue;
        int open = 0; /* prompts left to back up: only then ask about the holder (a table lookup) */
        for (int j = 0; j < ls->n && !open; j++)
            open = l->state[ls->prompts[j]] == LEASE_GRANTED && !l->backed_up[ls->prompts[j]];
        if (!open || !suspect(ls->holder, ctx)) continue;
        for (int j = 0; j < ls->n && n < max; j++) {
            int p = ls->prompts[j];
            if (l->state[p] != LEASE_GRANTED || l->backed_up[p]) continue;
            l->backed_up[p] = 1;
            take[n++] = p;
        }
    }
    if (n == 0) return NULL;
    return s_new_lease(l, take, n, now_ms, timeout_ms, holder);
}

int leases_granted_to(const leases_t *l, int prompt, const char *holder) {
    if (prompt < 0 || prompt >= l->n_prompts) return 0;
    for (int i = l->last_lease[prompt]; i >= 0;) { /* only the leases that granted this prompt */
        const lease_t *ls = &l->leases[i];
        if (!strcmp(ls->holder, holder)) return 1;
        int j = 0;
        while (ls->prompts[j] != prompt) j++;
        i = ls->earlier[j];
    }
    return 0;
}

const lease_t *leases_held(const leases_t *l, const char *holder, int64_t now_ms) {
    for (int i = l->n_leases - 1; i >= 0; i--) {
        const lease_t *ls = &l->leases[i];
        if (!ls->open || now_ms >= ls->deadline_ms || strcmp(ls->holder, holder) != 0) continue;
        for (int j = 0; j < ls->n; j++)
            if (l->state[ls->prompts[j]] == LEASE_GRANTED) return ls;
    }
    return NULL;
}

int leases_complete(leases_t *l, int prompt) {
    if (prompt < 0 || prompt >= l->n_prompts) return LEASE_UNKNOWN;
    if (l->state[prompt] == LEASE_DONE) return LEASE_DUPLICATE;
    l->state[prompt] = LEASE_DONE; /* if still queued, the grant loop skips it */
    l->done++;
    return LEASE_ACCEPTED;
}

/* Closes an open lease; its unanswered prompts go back to the front of the queue, in their
 * original order. Returns how many. */
static int s_reclaim(leases_t *l, lease_t *ls) {
    int requeued = 0;
    ls->open = 0;
    for (int j = ls->n - 1; j >= 0; j--) {
        int p = ls->prompts[j];
        l->holders[p]--;
        if (l->state[p] != LEASE_GRANTED || l->holders[p] > 0) continue; /* another open lease still holds it */
        l->state[p] = LEASE_QUEUED;
        s_push_front(l, p);
        requeued++;
    }
    l->reissued += requeued;
    return requeued;
}

/* Is any prompt of the lease still unanswered? Closes it when none is. */
static int s_pending(leases_t *l, lease_t *ls) {
    for (int j = 0; j < ls->n; j++)
        if (l->state[ls->prompts[j]] == LEASE_GRANTED) return 1;
    ls->open = 0;
    for (int j = 0; j < ls->n; j++) l->holders[ls->prompts[j]]--;
    return 0;
}

int leases_expire(leases_t *l, int64_t now_ms) {
    int requeued = 0;
    for (int i = 0; i < l->n_leases; i++) {
        lease_t *ls = &l->leases[i];
        if (ls->open && s_pending(l, ls) && now_ms >= ls->deadline_ms) {
            ls->expired = 1;
            requeued += s_reclaim(l, ls);
        }
    }
    return requeued;
}

int leases_release(leases_t *l, const char *holder) {
    int requeued = 0;
    for (int i = 0; i < l->n_leases; i++) {
        lease_t *ls = &l->leases[i];
        if (ls->open && !strcmp(ls->holder, holder) && s_pending(l, ls)) requeued += s_reclaim(l, ls);
    }
    return requeued;
}

int leases_holds(const leases_t *l, const char *holder) {
    for (int i = 0; i < l->n_leases; i++) {
        const lease_t *ls = &l->leases[i];
        if (!ls->open || strcmp(ls->holder, holder) != 0) continue;
        for (int j = 0; j < ls->n; j++)
            if (l->state[ls->prompts[j]] == LEASE_GRANTED) return 1;
    }
    return 0;
}

int64_t leases_next_deadline(const leases_t *l) {
    int64_t best = INT64_MAX;
    for (int i = 0; i < l->n_leases; i++)
        if (l->leases[i].open && l->leases[i].deadline_ms < best) best = l->leases[i].deadline_ms;
    return best;
}

int leases_all_done(const leases_t *l) { return l->done == l->n_prompts; }

int leases_is_done(const leases_t *l, int prompt) {
    return prompt >= 0 && prompt < l->n_prompts && l->state[prompt] == LEASE_DONE;
}

void leases_requeue(leases_t *l, int prompt) {
    if (prompt < 0 || prompt >= l->n_prompts || l->state[prompt] != LEASE_GRANTED) return;
    l->state[prompt] = LEASE_QUEUED;
    s_push_front(l, prompt);
}
