/* token_choice — see token_choice.h. */
#include "common/token_choice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Probabilities are bucketed by binary exponent (p in [2^-e, 2^-e+1) goes to bucket e), so one
 * pass finds a threshold above which the kept tokens must lie; only those are sorted. */
enum { N_BUCKET = 1076, ZERO_BUCKET = 1076 };

typedef struct {
    double p;
    int id;
} cand_t;

struct token_choice_scratch {
    int V;
    double *p;     /* (V) the sampling distribution */
    cand_t *cand;  /* (V) the ranked candidates */
    int count[N_BUCKET + 1];
    double mass[N_BUCKET + 1];
};

token_choice_scratch_t *token_choice_scratch_new(int V) {
    token_choice_scratch_t *s = xcalloc(1, sizeof *s);
    s->V = V;
    s->p = xmalloc(sizeof(double) * (size_t)V);
    s->cand = xmalloc(sizeof(cand_t) * (size_t)V);
    return s;
}

void token_choice_scratch_free(token_choice_scratch_t **s) {
    if (!*s) return;
    free((*s)->p), free((*s)->cand), free(*s);
    *s = NULL;
}

float token_choice_logprob(const float *z, int V, int t) {
    float m = -INFINITY;
    for (int v = 0; v < V; v++) m = fmaxf(m, z[v]);
    double s = 0;
    for (int v = 0; v < V; v++) s += exp((double)(z[v] - m));
    float lse = m + (float)log(s);
    return z[t] - lse;
}

static int s_bucket(double p) {
    if (!(p > 0)) return ZERO_BUCKET;
    int e = -ilogb(p);
    return e < 0 ? 0 : e >= N_BUCKET ? N_BUCKET - 1 : e;
}

/* By probability descending, then by id: the order of a stable sort by descending probability. */
static int s_rank(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Reorders a[0..n) so that its first k are the k first in rank (in any order): Hoare's selection. */
static void s_select(cand_t *a, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi && k > lo && k <= hi) {
        cand_t pivot = a[lo + (hi - lo) / 2], tmp;
        int i = lo, j = hi;
        while (i <= j) {
            while (s_rank(&a[i], &pivot) < 0) i++;
            while (s_rank(&a[j], &pivot) > 0) j--;
            if (i <= j) tmp = a[i], a[i++] = a[j], a[j--] = tmp;
        }
        if (k <= j) hi = j;
        else if (k > i) lo = i;
        else break;
    }
}

/* Collects the tokens in buckets 0..last and ranks the first keep of them (all when there are
 * fewer); returns how many were collected. */
static int s_rank_upto(token_choice_scratch_t *s, int V, int last, int keep) {
    int n = 0;
    for (int v = 0; v < V; v++)
        if (s_bucket(s->p[v]) <= last) s->cand[n++] = (cand_t){s->p[v], v};
    if (keep < n) s_select(s->cand, n, keep);
    qsort(s->cand, (size_t)(keep < n ? keep : n), sizeof(cand_t), s_rank);
    return n;
}

/* How many of the n ranked candidates are kept: the first keep0, cut where the running mass
 * reaches top_p; -1 when the candidates end before either limit decides. */
static int s_keep(const cand_t *c, int n, int keep0, double top_p) {
    double cum = 0;
    int lim = n < keep0 ? n : keep0;
    for (int i = 0; i < lim; i++) {
        cum += c[i].p;
        if (cum >= top_p) return i + 1;
    }
    return n >= keep0 ? keep0 : -1;
}

/* Zeroes all but the top-k / nucleus tokens of s->p and renormalises the kept mass. */
static void s_filter(token_choice_scratch_t *s, int V, int top_k, double top_p) {
    int keep0 = top_k > 0 && top_k < V ? top_k : V;
    memset(s->count, 0, sizeof s->count);
    memset(s->mass, 0, sizeof s->mass);
    for (int v = 0; v < V; v++) {
        int e = s_bucket(s->p[v]);
        s->count[e]++;
        s->mass[e] += s->p[v];
    }
    /* the first bucket by which either limit is surely met, and one more for the rounding of
     * the mass summed in another order */
    int last = ZERO_BUCKET, n = 0;
    double mass = 0;
    for (int e = 0; e <= ZERO_BUCKET; e++) {
        n += s->count[e];
        mass += s->mass[e];
        if (n >= keep0 || mass >= top_p) {
            last = e + 1 < ZERO_BUCKET ? e + 1 : ZERO_BUCKET;
            break;
        }
    }
    int nc = s_rank_upto(s, V, last, keep0);
    int keep = s_keep(s->cand, nc, keep0, top_p);
    if (keep < 0) { /* the candidates were too few after all: rank everything */
        nc = s_rank_upto(s, V, ZERO_BUCKET, keep0);
        keep = s_keep(s->cand, nc, keep0, top_p);
    }
    double kept = 0;
    for (int i = 0; i < keep; i++) kept += s->cand[i].p;
    memset(s->p, 0, sizeof(double) * (size_t)V);
    for (int i = 0; i < keep; i++) s->p[s->cand[i].id] = s->cand[i].p / kept;
}

int token_choice(const float *z, int V, double temperature, int top_k, double top_p, rng_t *r,
                 token_choice_scratch_t *s, float *logprob) {
    int t = 0;
    if (temperature <= 0) {
        for (int v = 1; v < V; v++)
            if (z[v] > z[t]) t = v;
    } else {
        double *p = s->p, maxv = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++) maxv = fmax(maxv, z[v] / temperature);
        for (int v = 0; v < V; v++) sum += (p[v] = exp(z[v] / temperature - maxv));
        for (int v = 0; v < V; v++) p[v] /= sum;
        if ((top_k > 0 && top_k < V) || top_p < 1.0) s_filter(s, V, top_k, top_p);
        t = rng_categorical(r, p, V);
    }
    if (logprob) *logprob = token_choice_logprob(z, V, t);
    return t;
}
