/* lora — see lora.h. The buffer's layout (per layer, per adapted target, A then B), PEFT's
 * initialisation, and the three small GEMMs of an adapter's forward and backward pass. */
#include "common/lora.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/util.h"

#define NONE ((size_t)-1)

struct lora {
    llama_config_t cfg;
    lora_spec_t spec;
    float scale;
    int enabled;
    size_t n;
    float *params, *grads;
    size_t *off; /* (n_layer, LORA_N_TARGETS): A's offset, NONE when not adapted; B follows A */
    /* forward activations for N rows: u of each adapted linear, then a (N, r) scratch */
    int N;
    float *acts;
    size_t acts_cap;
};

static const char *const NAMES[LORA_N_TARGETS] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                  "gate_proj", "up_proj", "down_proj"};

const char *lora_target_name(int t) { return t >= 0 && t < LORA_N_TARGETS ? NAMES[t] : "?"; }
const char *lora_target_module(int t) { return t <= LORA_O ? "self_attn" : "mlp"; }

int lora_parse_targets(const char *csv, unsigned *targets, char *why, size_t wl) {
    *targets = 0;
    const char *p = csv;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        int t = 0;
        while (t < LORA_N_TARGETS && !(strlen(NAMES[t]) == n && !strncmp(NAMES[t], p, n))) t++;
        if (t == LORA_N_TARGETS) {
            snprintf(why, wl, "LoRA target \"%.*s\" is none of q_proj k_proj v_proj o_proj gate_proj up_proj down_proj",
                     (int)n, p);
            return -1;
        }
        *targets |= 1u << t;
        p += n;
    }
    if (!*targets) {
        snprintf(why, wl, "no LoRA target named");
        return -1;
    }
    return 0;
}

const char *lora_targets_csv(unsigned targets) {
    static _Thread_local char buf[128];
    buf[0] = '\0';
    for (int t = 0; t < LORA_N_TARGETS; t++)
        if (targets & (1u << t))
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? "," : "", NAMES[t]);
    return buf;
}

void lora_dims(const llama_config_t *c, int t, int *in, int *out) {
    int C = c->d_model, QD = c->n_head * c->head_dim, KD = c->n_kv_head * c->head_dim, F = c->d_ff;
    switch (t) {
    case LORA_Q: *in = C, *out = QD; break;
    case LORA_K:
    case LORA_V: *in = C, *out = KD; break;
    case LORA_O: *in = QD, *out = C; break;
    case LORA_GATE:
    case LORA_UP: *in = C, *out = F; break;
    default: *in = F, *out = C; break;
    }
}

lora_t *lora_new(const llama_config_t *c, const lora_spec_t *s, uint64_t seed) {
    if (s->rank < 1 || !(s->alpha > 0) || !(s->targets & ((1u << LORA_N_TARGETS) - 1))) return NULL;
    lora_t *l = xcalloc(1, sizeof *l);
    l->cfg = *c;
    l->spec = *s;
    l->scale = (float)(s->alpha / s->rank);
    l->enabled = 1;
    l->off = xmalloc(sizeof(size_t) * (size_t)c->n_layer * LORA_N_TARGETS);
    size_t at = 0, r = (size_t)s->rank;
    for (int layer = 0; layer < c->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            int in, out;
            lora_dims(c, t, &in, &out);
            l->off[layer * LORA_N_TARGETS + t] = (s->targets & (1u << t)) ? at : NONE;
            if (s->targets & (1u << t)) at += r * (size_t)in + (size_t)out * r;
        }
    l->n = at;
    l->params = xcalloc(at, sizeof(float)); /* B = 0 */
    l->grads = xcalloc(at, sizeof(float));
    rng_t g;
    rng_seed(&g, seed);
    for (int layer = 0; layer < c->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            float *A = lora_A(l, layer, t);
            if (!A) continue;
            int in, out;
            lora_dims(c, t, &in, &out);
            /* kaiming_uniform_(a = sqrt(5)): bound = sqrt(6 / ((1 + a^2) fan_in)) = 1 / sqrt(fan_in) */
            double bound = 1.0 / sqrt((double)in);
            for (size_t i = 0; i < r * (size_t)in; i++) A[i] = (float)(bound * (2.0 * rng_uniform(&g) - 1.0));
        }
    return l;
}

lora_t *lora_clone(const lora_t *src) {
    lora_t *l = xcalloc(1, sizeof *l);
    l->cfg = src->cfg;
    l->spec = src->spec;
    l->scale = src->scale;
    l->enabled = src->enabled;
    l->n = src->n;
    size_t no = (size_t)src->cfg.n_layer * LORA_N_TARGETS;
    l->off = xmalloc(sizeof(size_t) * no);
    memcpy(l->off, src->off, sizeof(size_t) * no);
    l->params = xmalloc(sizeof(float) * (src->n ? src->n : 1));
    memcpy(l->params, src->params, sizeof(float) * src->n);
    l->grads = xcalloc(src->n ? src->n : 1, sizeof(float));
    return l;
}

void lora_free(lora_t **lp) {
    if (!lp || !*lp) return;
    lora_t *l = *lp;
    free(l->off);
    free(l->params);
    free(l->grads);
    free(l->acts);
    free(l);
    *lp = NULL;
}

const lora_spec_t *lora_spec(const lora_t *l) { return &l->spec; }
float lora_scale(const lora_t *l) { return l->scale; }
size_t lora_n_params(const lora_t *l) { return l->n; }
float *lora_params(lora_t *l) { return l->params; }
float *lora_grads(lora_t *l) { return l->grads; }
void lora_zero_grad(lora_t *l) { memset(l->grads, 0, sizeof(float) * l->n); }
void lora_set_enabled(lora_t *l, int on) { l->enabled = on != 0; }
int lora_enabled(const lora_t *l) { return l->enabled; }

uint8_t *lora_decay_mask(const lora_t *l) {
    uint8_t *m = xmalloc(l->n ? l->n : 1);
    memset(m, 1, l->n);
    return m;
}

static size_t s_off(const lora_t *l, int layer, int t) {
    if (layer < 0 || layer >= l->cfg.n_layer || t < 0 || t >= LORA_N_TARGETS) return NONE;
    return l->off[layer * LORA_N_TARGETS + t];
}

static size_t s_b_off(const lora_t *l, int layer, int t) {
    int in, out;
    lora_dims(&l->cfg, t, &in, &out);
    return s_off(l, layer, t) + (size_t)l->spec.rank * in;
}

float *lora_A(lora_t *l, int layer, int t) {
    size_t o = s_off(l, layer, t);
    return o == NONE ? NULL : l->params + o;
}
float *lora_B(lora_t *l, int layer, int t) {
    return s_off(l, layer, t) == NONE ? NULL : l->params + s_b_off(l, layer, t);
}
const float *lora_A_const(const lora_t *l, int layer, int t) { return lora_A((lora_t *)l, layer, t); }
const float *lora_B_const(const lora_t *l, int layer, int t) { return lora_B((lora_t *)l, layer, t); }
float *lora_dA(lora_t *l, int layer, int t) {
    size_t o = s_off(l, layer, t);
    return o == NONE ? NULL : l->grads + o;
}
float *lora_dB(lora_t *l, int layer, int t) {
    return s_off(l, layer, t) == NONE ? NULL : l->grads + s_b_off(l, layer, t);
}

void lora_tensor_name(char *out, size_t len, int layer, int t, int which) {
    snprintf(out, len, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", layer, lora_target_module(t),
             lora_target_name(t), which ? 'B' : 'A');
}

/* ---- products ------------------------------------------------------------------------------ */

void lora_forward(float *y, int ldy, float *u, const float *x, int ldx, const float *A, const float *B, int N, int in,
                  int out, int r, float scale) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, r, in, 1.0f, x, ldx, A, in, 0.0f, u, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, r, scale, u, r, B, r, 1.0f, y, ldy);
}

void lora_backward_params(float *dA, float *dB, float *du, const float *dy, int ldy, const float *x, int ldx,
                          const float *u, const float *B, int N, int in, int out, int r, float scale) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r, out, scale, dy, ldy, B, r, 0.0f, du, r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, N, scale, dy, ldy, u, r, 1.0f, dB, r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, N, 1.0f, du, r, x, ldx, 1.0f, dA, in);
}

void lora_backward_input(float *dx, int ldx, const float *du, const float *A, int N, int in, int r) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, r, 1.0f, du, r, A, in, 1.0f, dx, ldx);
}

/* ---- activations --------------------------------------------------------------------------- */

static size_t s_n_adapted(const lora_t *l) {
    size_t k = 0;
    for (int t = 0; t < LORA_N_TARGETS; t++) k += (l->spec.targets >> t) & 1u;
    return k * (size_t)l->cfg.n_layer;
}

void lora_ensure_acts(lora_t *l, int N) {
    size_t need = (s_n_adapted(l) + 1) * (size_t)N * l->spec.rank;
    if (need > l->acts_cap) {
        free(l->acts);
        l->acts = xmalloc(sizeof(float) * need);
        l->acts_cap = need;
    }
    l->N = N;
}

float *lora_acts(lora_t *l, int layer, int t) {
    size_t k = 0; /* the index of (layer, t) among the adapted linears */
    for (int j = 0; j < layer * LORA_N_TARGETS + t; j++) k += l->off[j] != NONE;
    return l->acts + k * (size_t)l->N * l->spec.rank;
}

float *lora_scratch(lora_t *l) { return l->acts + s_n_adapted(l) * (size_t)l->N * l->spec.rank; }
