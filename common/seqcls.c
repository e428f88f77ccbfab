/* seqcls — see seqcls.h. The trunk is a llama_t built tied (so it holds no lm_head, which a
 * sequence classifier does not have); score.weight lives beside it. */
#include "common/seqcls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/chat_text.h"
#include "common/folder_template.h"
#include "common/hf_tokenizer.h"
#include "common/prefix_pack.h"
#include "common/rng.h"
#include "common/util.h"

/* Rows of a packed batch hold about this many tokens, or one sequence when it is longer:
 * attention is quadratic in a row's length, and the shared prefix is repeated per row (as
 * common/gen_judge.c measured, rows of 384..512 are the fastest). */
#define SEQCLS_ROW_TARGET 512
/* One forward pass holds at most prefix_pack_pass_tokens positions and this much attention (its
 * scores are rows x heads x T x T floats). */
#define SEQCLS_PASS_ATT_BYTES ((size_t)512 << 20)

struct seqcls {
    hf_config_t cfg;
    llama_t *llama;
    float *score; /* (1, d_model) */
    hf_tokenizer_t *tok;
    hf_file_t *files; /* the tokenizer's files, written with the model */
    int n_files;
    chat_template_t *tmpl;
    char describe[200];
};

/* The trunk of c: its llama config with the head tied away. */
static llama_t *s_trunk(const hf_config_t *c, uint64_t seed, char *why, size_t wl) {
    llama_config_t l = c->llama;
    l.tied = 1;
    const char *bad = llama_config_check(&l);
    if (*bad) {
        snprintf(why, wl, "config.json: %s", bad);
        return NULL;
    }
    return llama_new(&l, seed);
}

/* The parts every constructor shares once the config is known: trunk, tokenizer, template. */
static seqcls_t *s_new(const hf_config_t *c, const char *tokdir, uint64_t seed, char *why, size_t wl) {
    if (!c->seqcls || c->arch == HF_GPT2) {
        snprintf(why, wl, "%s is not a sequence classifier of the Llama family", c->architecture);
        return NULL;
    }
    if (c->num_labels != 1) {
        snprintf(why, wl, "num_labels %d: a reward model has one label (num_labels 1)", c->num_labels);
        return NULL;
    }
    seqcls_t *m = xcalloc(1, sizeof *m);
    m->cfg = *c;
    int rc = (m->llama = s_trunk(c, seed, why, wl)) ? 0 : -1;
    if (rc == 0) {
        llama_set_inference_only(m->llama); /* a reward model only scores */
        m->score = xcalloc((size_t)c->llama.d_model, sizeof(float));
    }
    if (rc == 0 && !(m->tok = hf_tokenizer_load(tokdir, why, wl))) rc = -1;
    if (rc == 0 && hf_tokenizer_vocab_size(m->tok) > c->llama.vocab)
        rc = util_refuse(why, wl, "%s: the tokenizer has %d ids but the model's vocabulary only %d", tokdir,
                         hf_tokenizer_vocab_size(m->tok), c->llama.vocab);
    if (rc == 0 && (m->n_files = hf_tokenizer_files_read(tokdir, &m->files, why, wl)) < 0) m->n_files = 0, rc = -1;
    if (rc == 0 && folder_chat_template(tokdir, &m->tmpl, why, wl) < 0) rc = -1;
    if (rc != 0) {
        seqcls_free(&m);
        return NULL;
    }
    const llama_config_t *l = &c->llama;
    snprintf(m->describe, sizeof m->describe, "%s, %d layers, d %d, %d/%d heads, MLP %d, V %d, pad %d, %.2f M parameters",
             c->architecture, l->n_layer, l->d_model, l->n_head, l->n_kv_head, l->d_ff, l->vocab, c->pad_id,
             (llama_n_params(m->llama) + (size_t)l->d_model) / 1e6);
    return m;
}

/* Every tensor of m under its Hugging Face name: the trunk's, then score.weight. */
static hf_want_t *s_wants(seqcls_t *m, int64_t *score_shape, int *n) {
    int nt = llama_n_tensors(m->llama);
    hf_want_t *w = xcalloc((size_t)nt + 1, sizeof *w);
    float *base = llama_params(m->llama);
    for (int i = 0; i < nt; i++) {
        const llama_tensor_t *t = llama_tensor(m->llama, i);
        w[i] = (hf_want_t){t->name, t->ndim, t->shape, base + t->offset};
    }
    score_shape[0] = 1, score_shape[1] = m->cfg.llama.d_model;
    w[nt] = (hf_want_t){"score.weight", 2, score_shape, m->score};
    *n = nt + 1;
    return w;
}

seqcls_t *seqcls_load_dir(const char *dir, char *why, size_t wl) {
    hf_config_t c;
    if (hf_config_read_seqcls(dir, &c, why, wl) != 0) return NULL;
    if (c.num_labels != 1) {
        snprintf(why, wl, "%s/config.json: num_labels %d: a reward model has one label (num_labels 1)", dir, c.num_labels);
        return NULL;
    }
    seqcls_t *m = s_new(&c, dir, 0, why, wl);
    if (!m) return NULL;
    int64_t shape[2];
    int n;
    hf_want_t *w = s_wants(m, shape, &n);
    if (hf_read_weights(dir, c.arch, w, n, why, wl) != 0) seqcls_free(&m);
    free(w);
    return m;
}

seqcls_t *seqcls_new_random(const hf_config_t *c, const char *tokenizer_dir, uint64_t seed, char *why, size_t wl) {
    seqcls_t *m = s_new(c, tokenizer_dir, seed, why, wl);
    if (!m) return NULL;
    rng_t r;
    rng_seed(&r, seed ^ 0x5c0de5c0deULL);
    for (int i = 0; i < c->llama.d_model; i++) m->score[i] = (float)(0.02 * rng_normal(&r));
    return m;
}

int seqcls_save_dir(const seqcls_t *m, const char *dir, char *why, size_t wl) {
    int64_t shape[2];
    int n;
    hf_want_t *w = s_wants((seqcls_t *)m, shape, &n);
    int rc = hf_write_folder(dir, &m->cfg, w, n, 0, NULL, NULL, 0, m->files, m->n_files, why, wl);
    free(w);
    return rc;
}

void seqcls_free(seqcls_t **mp) {
    if (!mp || !*mp) return;
    seqcls_t *m = *mp;
    llama_destroy(&m->llama);
    free(m->score);
    hf_tokenizer_free(&m->tok);
    hf_files_free(m->files, m->n_files);
    chat_template_free(&m->tmpl);
    free(m);
    *mp = NULL;
}

const hf_config_t *seqcls_config(const seqcls_t *m) { return &m->cfg; }
const char *seqcls_describe(const seqcls_t *m) { return m->describe; }
llama_t *seqcls_llama(seqcls_t *m) { return m->llama; }
float *seqcls_score_weight(seqcls_t *m) { return m->score; }
const chat_template_t *seqcls_template(const seqcls_t *m) { return m->tmpl; }

int seqcls_encode(const seqcls_t *m, const char *text, int add_special, int32_t **ids, char *why, size_t wl) {
    return hf_tokenizer_encode(m->tok, text, strlen(text), add_special, ids, why, wl);
}

/* The index transformers reads the score at: the last token that is not the pad token (the
 * first, as its argmax over an all-pad row gives, when every token is pad). */
static int s_score_index(const int32_t *ids, int len, int pad) {
    if (pad < 0) return len - 1;
    for (int t = len - 1; t >= 0; t--)
        if (ids[t] != pad) return t;
    return 0;
}

int seqcls_score_ids(seqcls_t *m, const int32_t *const *ids, const int *len, const int *group, int n, double *out,
                     char *why, size_t wl) {
    const llama_config_t *l = &m->cfg.llama;
    for (int i = 0; i < n; i++) {
        if (len[i] < 1) return util_refuse(why, wl, "sequence %d is empty", i);
        if (len[i] > l->ctx)
            return util_refuse(why, wl, "sequence %d has %d tokens, more than the reward model's context %d", i, len[i], l->ctx);
    }
    if (n == 0) return 0;
    prefix_pack_t p;
    int pass = prefix_pack_pass_tokens(l->n_layer, l->d_model, l->d_ff);
    int row_max = SEQCLS_ROW_TARGET < pass ? SEQCLS_ROW_TARGET : pass;
    prefix_pack(ids, len, group, n, 1, row_max, m->cfg.pad_id >= 0 ? m->cfg.pad_id : 0, &p);
    /* a large batch is several passes of whole rows, each within the activation budget */
    int per = prefix_pack_rows_per_pass(&p, l->n_head, (size_t)pass, SEQCLS_PASS_ATT_BYTES), rc = 0, i = 0;
    for (int r0 = 0; r0 < p.B && rc == 0; r0 += per) {
        int B = p.B - r0 < per ? p.B - r0 : per;
        size_t off = (size_t)r0 * p.T;
        if (llama_forward(m->llama, p.tokens + off, p.pos + off, p.seg + off, B, p.T) != 0) {
            rc = util_refuse(why, wl, "a token is outside the reward model's vocabulary %d", l->vocab);
            break;
        }
        const float *h = llama_hidden(m->llama);
        for (; i < n && p.row[i] < r0 + B; i++) {
            size_t at = (size_t)prefix_pack_at(&p, i, s_score_index(ids[i], len[i], m->cfg.pad_id)) - off;
            const float *x = h + at * l->d_model;
            double s = 0;
            for (int d = 0; d < l->d_model; d++) s += (double)m->score[d] * x[d];
            out[i] = s;
        }
    }
    prefix_pack_free(&p);
    return rc;
}

/* seqcls_sequence_ids — see seqcls.h. */
int seqcls_sequence_ids(const seqcls_t *m, const chat_t *c, const char *y, int32_t **ids, char *why, size_t wl) {
    const chat_template_t *t = seqcls_template(m);
    *ids = NULL;
    if (!t) {
        char *conv = chat_readable_text(c), *text = xasprintf("%s%s", conv, y);
        int n = seqcls_encode(m, text, 1, ids, why, wl);
        free(conv), free(text);
        return n;
    }
    chat_t full = {xcalloc((size_t)c->n + 1, sizeof(chat_msg_t)), c->n + 1};
    memcpy(full.msgs, c->msgs, sizeof(chat_msg_t) * (size_t)c->n);
    full.msgs[c->n] = (chat_msg_t){"assistant", (char *)y};
    char *text = chat_template_render(t, &full, 0, why, wl);
    free(full.msgs); /* the messages are c's and y */
    int n = text ? seqcls_encode(m, text, 0, ids, why, wl) : -1;
    free(text);
    return n;
}
