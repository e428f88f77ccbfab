/* gen_judge — see gen_judge.h. The model's own text path: a filled comparison becomes ids once
 * (chat template or raw text), and every comparison of a request goes through one
 * lm_forward; only the last position's logits of each are computed, a few positions at a
 * time (a large vocabulary makes each (V) row big). */
#include "common/gen_judge.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/chat_text.h"
#include "common/digest.h"
#include "common/folder_template.h"
#include "common/log.h"
#include "common/prefix_pack.h"
#include "common/util.h"

/* Rows of the packed batch hold about this many tokens, or one comparison when it is longer:
 * attention is quadratic in a row's length, and the shared prefix is repeated per row. In one
 * measurement (a 45 M-parameter Qwen2 judging K = 8 comparisons of 177 tokens, on a busy 2-core
 * machine) rows of 384..512 tokens were the fastest and rows of 2048 took twice as long. */
#define GEN_ROW_TARGET 512
/* One forward pass holds at most prefix_pack_pass_tokens positions and this much attention
 * (rows x heads x T x T floats, which the models keep). */
#define GEN_PASS_ATT_BYTES ((size_t)512 << 20)
/* Logit rows (of V floats) computed at once. */
#define GEN_LOGIT_CHUNK 16

const char gen_judge_builtin_template[] =
    "Which of the two responses below answers the user's message better?\n\n"
    "[The user's message]\n{prompt}\n\n"
    "[Response {label_a}]\n{a}\n\n"
    "[Response {label_b}]\n{b}\n\n"
    "Which response is better? Answer with its label only: {label_a} or {label_b}.";

struct gen_judge {
    lm_t *lm;
    chat_template_t *chat; /* NULL: the comparison is raw text */
    char *tmpl;            /* the comparison template */
    char *label[2];
    int label_id[2];
};

/* The two labels of "FIRST,SECOND" into g. */
static int s_labels(gen_judge_t *g, const char *labels, char *why, size_t wl) {
    const char *comma = labels ? strchr(labels, ',') : NULL;
    if (!comma || comma == labels || !comma[1] || strchr(comma + 1, ','))
        return util_refuse(why, wl, "judge.labels '%s' is not two labels FIRST,SECOND", labels ? labels : "");
    g->label[0] = xasprintf("%.*s", (int)(comma - labels), labels);
    g->label[1] = xstrdup(comma + 1);
    for (int i = 0; i < 2; i++) {
        int32_t *ids;
        char inner[256];
        int n = lm_encode_response(g->lm, g->label[i], &ids, inner, sizeof inner);
        if (n >= 0 && lm_first_eos(g->lm) >= 0) n--; /* lm_encode_response ends with EOS */
        if (n < 1) {
            if (n >= 0) free(ids);
            return util_refuse(why, wl, "judge.labels: label '%s' encodes to no token%s%s", g->label[i], n < 0 ? ": " : "",
                               n < 0 ? inner : "");
        }
        g->label_id[i] = ids[0];
        if (n > 1)
            log_info("judge: label '%s' encodes to %d tokens; the judge reads its first (id %d)", g->label[i], n, ids[0]);
        free(ids);
    }
    if (g->label_id[0] == g->label_id[1])
        return util_refuse(why, wl, "judge.labels '%s': both labels begin with token %d, so the judge cannot tell them apart",
                           labels, g->label_id[0]);
    return 0;
}

gen_judge_t *gen_judge_new(lm_t *m, chat_template_t *chat, const char *template_text, const char *origin,
                           const char *labels, char *why, size_t wl) {
    gen_judge_t *g = xcalloc(1, sizeof *g);
    g->lm = m;
    lm_set_inference_only(m); /* a judge only reads next-token probabilities */
    g->chat = chat;
    g->tmpl = xstrdup(template_text ? template_text : gen_judge_builtin_template);
    static const char *const need[] = {"{prompt}", "{a}", "{b}"};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (!strstr(g->tmpl, need[i]))
            rc = util_refuse(why, wl, "%s: the placeholder %s is missing (a comparison template holds {prompt}, {a} and {b})",
                             origin ? origin : "judge.template", need[i]);
    if (rc == 0) rc = s_labels(g, labels, why, wl);
    if (rc != 0) gen_judge_free(&g);
    return g;
}

gen_judge_t *gen_judge_load(const char *dir, const char *template_path, const char *labels, char *why, size_t wl) {
    char *text = NULL;
    if (template_path && *template_path && !(text = util_read_file(template_path, NULL))) {
        snprintf(why, wl, "judge.template %s: cannot read: %s", template_path, strerror(errno));
        return NULL;
    }
    lm_t *m = lm_load_dir(dir, NULL, why, wl);
    chat_template_t *chat = NULL;
    if (m && folder_chat_template(dir, &chat, why, wl) < 0) lm_free(&m);
    gen_judge_t *g = NULL;
    if (m) {
        char *origin = text ? xasprintf("judge.template %s", template_path) : NULL;
        g = gen_judge_new(m, chat, text, origin, labels, why, wl);
        free(origin);
    }
    free(text);
    return g;
}

void gen_judge_free(gen_judge_t **gp) {
    if (!gp || !*gp) return;
    gen_judge_t *g = *gp;
    lm_free(&g->lm);
    chat_template_free(&g->chat);
    free(g->tmpl), free(g->label[0]), free(g->label[1]);
    free(g);
    *gp = NULL;
}

lm_t *gen_judge_lm(gen_judge_t *g) { return g->lm; }

void gen_judge_label_ids(const gen_judge_t *g, int *first, int *second) {
    *first = g->label_id[0];
    *second = g->label_id[1];
}

void gen_judge_digest_hex(const gen_judge_t *g, char out[65]) {
    digest_state_t s;
    digest_begin(&s);
    digest_update(&s, lm_params(g->lm), lm_n_params(g->lm) * sizeof(float));
    digest_update(&s, g->tmpl, strlen(g->tmpl) + 1);
    for (int i = 0; i < 2; i++) digest_update(&s, g->label[i], strlen(g->label[i]) + 1);
    uint8_t chat = g->chat != NULL, d[DIGEST_BYTES];
    digest_update(&s, &chat, 1);
    digest_end(&s, d);
    digest_hex(d, out);
}

/* Appends n bytes of s to the growing buffer *buf (length *len, capacity *cap). */
static void s_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        *cap = 2 * (*len + n + 1);
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

char *gen_judge_fill(const gen_judge_t *g, const chat_t *c, const char *a, const char *b) {
    char *conv = chat_readable_text(c), *out = NULL;
    const char *names[] = {"{prompt}", "{a}", "{b}", "{label_a}", "{label_b}"};
    const char *values[] = {conv, a, b, g->label[0], g->label[1]};
    size_t len = 0, cap = 0;
    s_append(&out, &len, &cap, "", 0);
    for (const char *p = g->tmpl; *p;) { /* one pass: what is put in is never read as a placeholder */
        int hit = -1;
        for (int i = 0; i < 5 && hit < 0 && *p == '{'; i++)
            if (!strncmp(p, names[i], strlen(names[i]))) hit = i;
        if (hit >= 0) {
            s_append(&out, &len, &cap, values[hit], strlen(values[hit]));
            p += strlen(names[hit]);
        } else {
            s_append(&out, &len, &cap, p++, 1);
        }
    }
    free(conv);
    return out;
}

int gen_judge_comparison_ids(const gen_judge_t *g, const chat_t *c, const char *a, const char *b, int32_t **ids,
                             char *why, size_t wl) {
    char *text = gen_judge_fill(g, c, a, b);
    int n;
    *ids = NULL;
    if (!g->chat) {
        n = lm_encode_prompt(g->lm, text, ids, why, wl);
    } else {
        chat_t one;
        chat_single_user(&one, text);
        char *rendered = chat_template_render(g->chat, &one, 1, why, wl);
        chat_free(&one);
        n = rendered ? lm_encode_response(g->lm, rendered, ids, why, wl) : -1;
        if (n >= 0 && lm_first_eos(g->lm) >= 0) n--; /* no EOS after the template's own tokens */
        free(rendered);
    }
    free(text);
    if (n == 0) {
        free(*ids);
        return util_refuse(why, wl, "the comparison prompt encodes to no token");
    }
    return n;
}

int gen_judge_p_first(gen_judge_t *g, const int32_t *const *ids, const int *len, int n, double *p, char *why,
                      size_t wl) {
    int ctx = lm_ctx(g->lm), V = lm_vocab(g->lm);
    for (int i = 0; i < n; i++)
        if (len[i] < 1 || len[i] > ctx)
            return util_refuse(why, wl, "a comparison has %d tokens, the judge model's context is %d", len[i], ctx);
    if (n == 0) return 0;
    prefix_pack_t pk;
    const hf_config_t *c = lm_config(g->lm);
    int gpt = c->arch == HF_GPT2, heads = gpt ? c->gpt.n_head : c->llama.n_head, rc = 0, i = 0;
    int pass = gpt ? prefix_pack_pass_tokens(c->gpt.n_layer, c->gpt.d_model, 4 * c->gpt.d_model)
                   : prefix_pack_pass_tokens(c->llama.n_layer, c->llama.d_model, c->llama.d_ff);
    int row_max = GEN_ROW_TARGET < pass ? GEN_ROW_TARGET : pass;
    prefix_pack(ids, len, NULL, n, 1, row_max, lm_first_eos(g->lm) >= 0 ? lm_first_eos(g->lm) : 0, &pk);
    /* many comparisons are several passes of whole rows, each within the activation budget */
    int per = prefix_pack_rows_per_pass(&pk, heads, (size_t)pass, GEN_PASS_ATT_BYTES);
    float *z = xmalloc(sizeof(float) * GEN_LOGIT_CHUNK * (size_t)V);
    for (int r0 = 0; r0 < pk.B && rc == 0; r0 += per) {
        int B = pk.B - r0 < per ? pk.B - r0 : per;
        size_t off = (size_t)r0 * pk.T;
        if (lm_forward(g->lm, pk.tokens + off, pk.pos + off, pk.seg + off, B, pk.T) != 0) {
            rc = util_refuse(why, wl, "a token is outside the judge model's vocabulary %d", V);
            break;
        }
        while (i < n && pk.row[i] < r0 + B) { /* the last positions of this pass's comparisons */
            int m = 0, at[GEN_LOGIT_CHUNK];
            for (; m < GEN_LOGIT_CHUNK && i + m < n && pk.row[i + m] < r0 + B; m++)
                at[m] = prefix_pack_at(&pk, i + m, len[i + m] - 1) - (int)off;
            lm_logits_at(g->lm, at, m, z);
            for (int q = 0; q < m; q++) {
                const float *zq = z + (size_t)q * V;
                p[i + q] = 1.0 / (1.0 + exp((double)zq[g->label_id[1]] - (double)zq[g->label_id[0]]));
            }
            i += m;
        }
    }
    free(z);
    prefix_pack_free(&pk);
    return rc;
}

int gen_judge_matrix(gen_judge_t *g, const chat_t *c, const char *const *responses, int k, int both_orders, double *P,
                     double *bias_sum, uint64_t *bias_pairs, char *why, size_t wl) {
    int per = both_orders ? 2 : 1, n = per * k * (k - 1) / 2, q = 0, rc = 0;
    int32_t **ids = xcalloc(n ? (size_t)n : 1, sizeof *ids);
    int *len = xcalloc(n ? (size_t)n : 1, sizeof *len);
    for (int i = 0; i < k && rc == 0; i++)
        for (int j = i + 1; j < k && rc == 0; j++)
            for (int o = 0; o < per && rc == 0; o++, q++) { /* (i, j), then (j, i) */
                const char *a = responses[o ? j : i], *b = responses[o ? i : j];
                if ((len[q] = gen_judge_comparison_ids(g, c, a, b, &ids[q], why, wl)) < 0) rc = -1, len[q] = 0;
            }
    double *p = xmalloc(sizeof(double) * (n ? (size_t)n : 1));
    if (rc == 0) rc = gen_judge_p_first(g, (const int32_t *const *)ids, len, n, p, why, wl);
    q = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        P[i * k + i] = 0.5;
        for (int j = i + 1; j < k; j++, q += per) {
            double pij = both_orders ? (p[q] + 1.0 - p[q + 1]) / 2 : p[q];
            P[i * k + j] = pij;
            P[j * k + i] = 1.0 - pij;
            if (both_orders) *bias_sum += p[q] + p[q + 1] - 1.0, (*bias_pairs)++;
        }
    }
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids), free(len), free(p);
    return rc;
}
