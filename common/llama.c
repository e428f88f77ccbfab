/* llama — see llama.h. This file: the configuration check, the tensor table (Hugging Face names
 * and shapes, in buffer order), building and freeing a model, and the accessors. The forward
 * pass and log-probs are in llama_forward.c, the backward pass in llama_backward.c. */
#include "common/llama.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/llama_model.h"
#include "common/llama_ops.h"
#include "common/rng.h"
#include "common/util.h"

const char *llama_config_check(const llama_config_t *c) {
    if (c->n_layer < 1) return "n_layer (num_hidden_layers) must be at least 1";
    if (c->d_model < 1) return "d_model (hidden_size) must be at least 1";
    if (c->n_head < 1 || c->n_kv_head < 1) return "n_head and n_kv_head must be at least 1";
    if (c->n_head % c->n_kv_head != 0) return "n_kv_head (num_key_value_heads) must divide n_head";
    if (c->head_dim < 2 || c->head_dim % 2 != 0) return "head_dim must be even (rotary embeddings pair its halves)";
    if (c->d_ff < 1) return "d_ff (intermediate_size) must be at least 1";
    if (c->vocab < 2) return "vocab (vocab_size) must be at least 2";
    if (c->ctx < 1) return "ctx (max_position_embeddings) must be at least 1";
    if (!(c->rms_eps > 0)) return "rms_eps (rms_norm_eps) must be positive";
    if (!(c->rope_theta > 0)) return "rope_theta must be positive";
    if (c->rope_llama3 && (!(c->rope_factor > 0) || !(c->rope_low_freq_factor > 0) ||
                           !(c->rope_high_freq_factor > c->rope_low_freq_factor) || c->rope_original_ctx < 1))
        return "llama3 rope_scaling needs factor > 0, high_freq_factor > low_freq_factor > 0 and "
               "original_max_position_embeddings >= 1";
    return "";
}

/* ---- tensor table ------------------------------------------------------------------------- */

typedef struct {
    llama_tensor_t *t;
    int n, cap;
    size_t offset;
} table_t;

static size_t s_add(table_t *tb, const char *name, int64_t rows, int64_t cols) {
    if (tb->n == tb->cap) {
        tb->cap = tb->cap ? 2 * tb->cap : 64;
        tb->t = xrealloc(tb->t, sizeof *tb->t * (size_t)tb->cap);
    }
    llama_tensor_t *t = &tb->t[tb->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->n = (size_t)rows * (size_t)(cols ? cols : 1);
    t->offset = tb->offset;
    t->decay = cols != 0;
    tb->offset += t->n;
    return t->offset;
}

static size_t s_add_layer(table_t *tb, int l, const char *what, int64_t rows, int64_t cols) {
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.%s", l, what);
    return s_add(tb, name, rows, cols);
}

static void s_build_table(llama_t *m) {
    const llama_config_t *c = &m->cfg;
    int64_t C = c->d_model, HD = c->head_dim, QD = (int64_t)c->n_head * HD, KD = (int64_t)c->n_kv_head * HD;
    int64_t F = c->d_ff;
    table_t tb = {0};
    m->off = xcalloc((size_t)c->n_layer, sizeof *m->off);
    m->embed = s_add(&tb, "model.embed_tokens.weight", c->vocab, C);
    for (int l = 0; l < c->n_layer; l++) {
        llama_layer_off_t *o = &m->off[l];
        o->ln1 = s_add_layer(&tb, l, "input_layernorm.weight", C, 0);
        o->wqkv = s_add_layer(&tb, l, "self_attn.q_proj.weight", QD, C);
        s_add_layer(&tb, l, "self_attn.k_proj.weight", KD, C);
        s_add_layer(&tb, l, "self_attn.v_proj.weight", KD, C);
        o->bqkv = o->qnorm = o->knorm = o->bo = o->bgu = o->bdown = LLAMA_NONE;
        if (c->qkv_bias) {
            o->bqkv = s_add_layer(&tb, l, "self_attn.q_proj.bias", QD, 0);
            s_add_layer(&tb, l, "self_attn.k_proj.bias", KD, 0);
            s_add_layer(&tb, l, "self_attn.v_proj.bias", KD, 0);
        }
        if (c->qk_norm) {
            o->qnorm = s_add_layer(&tb, l, "self_attn.q_norm.weight", HD, 0);
            o->knorm = s_add_layer(&tb, l, "self_attn.k_norm.weight", HD, 0);
        }
        o->wo = s_add_layer(&tb, l, "self_attn.o_proj.weight", C, QD);
        if (c->o_bias) o->bo = s_add_layer(&tb, l, "self_attn.o_proj.bias", C, 0);
        o->ln2 = s_add_layer(&tb, l, "post_attention_layernorm.weight", C, 0);
        o->wgu = s_add_layer(&tb, l, "mlp.gate_proj.weight", F, C);
        s_add_layer(&tb, l, "mlp.up_proj.weight", F, C);
        if (c->mlp_bias) {
            o->bgu = s_add_layer(&tb, l, "mlp.gate_proj.bias", F, 0);
            s_add_layer(&tb, l, "mlp.up_proj.bias", F, 0);
        }
        o->wdown = s_add_layer(&tb, l, "mlp.down_proj.weight", C, F);
        if (c->mlp_bias) o->bdown = s_add_layer(&tb, l, "mlp.down_proj.bias", C, 0);
    }
    m->norm = s_add(&tb, "model.norm.weight", C, 0);
    m->head = c->tied ? m->embed : s_add(&tb, "lm_head.weight", c->vocab, C);
    m->tensors = tb.t;
    m->n_tensors = tb.n;
    m->n_params = tb.offset;
}

/* ---- build -------------------------------------------------------------------------------- */

/* The default head chunk: about 16M logits (64 MB), between 16 and 256 rows. */
static int s_default_chunk(int V) {
    int rows = (int)((16u << 20) / (unsigned)V);
    return rows < 16 ? 16 : rows > 256 ? 256 : rows;
}

llama_t *llama_new(const llama_config_t *cfg, uint64_t seed) {
    if (llama_config_check(cfg)[0]) return NULL;
    llama_t *m = xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    s_build_table(m);
    m->params = xmalloc(sizeof(float) * m->n_params);
    m->grads = xcalloc(m->n_params, sizeof(float));
    m->inv_freq = xmalloc(sizeof(float) * (size_t)(cfg->head_dim / 2));
    llama_rope_inv_freq(m->inv_freq, cfg);
    m->head_chunk = s_default_chunk(cfg->vocab);
    rng_t r;
    rng_seed(&r, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const llama_tensor_t *t = &m->tensors[i];
        float *p = m->params + t->offset;
        /* 1-D tensors: a norm's weight is 1, a bias 0 */
        int is_norm = t->ndim == 1 && strstr(t->name, "norm") != NULL;
        for (size_t j = 0; j < t->n; j++) p[j] = t->ndim == 2 ? (float)(0.02 * rng_normal(&r)) : is_norm ? 1.0f : 0.0f;
    }
    return m;
}

llama_t *llama_share(const llama_t *src) {
    llama_t *m = xcalloc(1, sizeof *m);
    m->cfg = src->cfg;
    s_build_table(m);
    llama_t *s = (llama_t *)src; /* the count is the shared buffer's, not src's state */
    if (!s->params_refs) {
        s->params_refs = xmalloc(sizeof *s->params_refs);
        atomic_init(s->params_refs, 1);
    }
    atomic_fetch_add(s->params_refs, 1);
    m->params_refs = s->params_refs;
    m->params = s->params;
    m->inv_freq = xmalloc(sizeof(float) * (size_t)(m->cfg.head_dim / 2));
    memcpy(m->inv_freq, src->inv_freq, sizeof(float) * (size_t)(m->cfg.head_dim / 2));
    m->head_chunk = src->head_chunk;
    return m;
}

void llama_set_lora(llama_t *m, lora_t *lora) {
    lora_free(&m->lora);
    m->lora = lora;
    if (lora) {
        free(m->grads);
        m->grads = NULL;
    }
}

lora_t *llama_lora(const llama_t *m) { return m->lora; }

void llama_destroy(llama_t **mp) {
    if (!mp || !*mp) return;
    llama_t *m = *mp;
    free(m->tensors);
    free(m->off);
    if (!m->params_refs || atomic_fetch_sub(m->params_refs, 1) == 1) {
        free(m->params);
        free((void *)m->params_refs);
    }
    lora_free(&m->lora);
    free(m->grads);
    free(m->inv_freq);
    free(m->act_mem);
    free(m->acts);
    free(m->tokens);
    free(m->head_scratch);
    free(m);
    *mp = NULL;
}

const llama_config_t *llama_config(const llama_t *m) { return &m->cfg; }
size_t llama_n_params(const llama_t *m) { return m->n_params; }
float *llama_params(llama_t *m) { return m->params; }
float *llama_grads(llama_t *m) { return m->grads; }
void llama_zero_grad(llama_t *m) {
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
    if (m->lora) lora_zero_grad(m->lora);
}
int llama_n_tensors(const llama_t *m) { return m->n_tensors; }
const llama_tensor_t *llama_tensor(const llama_t *m, int i) {
    return i >= 0 && i < m->n_tensors ? &m->tensors[i] : NULL;
}

const llama_tensor_t *llama_tensor_by_name(const llama_t *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

uint8_t *llama_decay_mask(const llama_t *m) {
    uint8_t *mask = xmalloc(m->n_params);
    for (int i = 0; i < m->n_tensors; i++) memset(mask + m->tensors[i].offset, m->tensors[i].decay, m->tensors[i].n);
    return mask;
}

size_t llama_activation_bytes(const llama_t *m) {
    if (!m->have_forward) return 0;
    return sizeof(float) * (m->act_floats + llama_head_scratch_floats(m->head_chunk, m->cfg.d_model, m->cfg.vocab));
}

void llama_set_inference_only(llama_t *m) {
    m->inference_only = 1;
    free(m->grads);
    m->grads = NULL;
    llama_release_acts(m);
}

void llama_release_acts(llama_t *m) {
    free(m->act_mem);
    m->act_mem = NULL;
    m->act_cap = m->act_floats = 0;
    m->B = m->T = 0;
    m->have_forward = 0;
    free(m->head_scratch);
    m->head_scratch = NULL;
    m->head_scratch_cap = 0;
}

void llama_set_head_chunk(llama_t *m, int rows) { m->head_chunk = rows > 0 ? rows : s_default_chunk(m->cfg.vocab); }

float *llama_head_scratch(llama_t *m) {
    size_t need = llama_head_scratch_floats(m->head_chunk, m->cfg.d_model, m->cfg.vocab);
    if (need > m->head_scratch_cap) {
        free(m->head_scratch);
        m->head_scratch = xmalloc(sizeof(float) * need);
        m->head_scratch_cap = need;
    }
    return m->head_scratch;
}
