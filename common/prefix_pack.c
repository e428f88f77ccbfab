/* prefix_pack — see prefix_pack.h. Two passes: the rows' lengths first (so the batch is
 * allocated once, at its widest row), then the tokens. */
#include "common/prefix_pack.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* The longest common prefix of sequences a..b-1, short of the shortest one's last token. */
static int s_common_prefix(const int32_t *const *ids, const int *len, int a, int b) {
    int p = len[a] - 1;
    for (int i = a + 1; i < b; i++) {
        int q = 0, lim = len[i] - 1 < p ? len[i] - 1 : p;
        while (q < lim && ids[i][q] == ids[a][q]) q++;
        p = q;
    }
    return p > 0 ? p : 0;
}

/* Lays out the rows: for each sequence its row and suffix start; returns the row count and
 * each row's length in *row_len (malloc'd). */
static int s_layout(const int *len, const int *group, int n, const int *plen, int row_max, prefix_pack_t *out,
                    int **row_len) {
    int B = 0, cap = 0, cur = 0;
    *row_len = NULL;
    for (int i = 0; i < n; i++) {
        int suffix = len[i] - plen[i];
        int same = i > 0 && (!group || group[i] == group[i - 1]);
        if (!same || cur + suffix > row_max) {
            if (B == cap) *row_len = xrealloc(*row_len, sizeof(int) * (size_t)(cap = cap ? 2 * cap : 16));
            (*row_len)[B++] = cur = plen[i];
        }
        out->row[i] = B - 1;
        out->start[i] = cur;
        cur += suffix;
        (*row_len)[B - 1] = cur;
    }
    return B;
}

void prefix_pack(const int32_t *const *ids, const int *len, const int *group, int n, int share, int row_max, int pad,
                 prefix_pack_t *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    size_t nn = n > 0 ? (size_t)n : 1;
    out->row = xcalloc(nn, sizeof(int));
    out->start = xcalloc(nn, sizeof(int));
    out->plen = xcalloc(nn, sizeof(int));
    for (int a = 0; a < n;) {
        int b = a + 1;
        while (b < n && (!group || group[b] == group[a])) b++;
        int p = share ? s_common_prefix(ids, len, a, b) : 0;
        for (int i = a; i < b; i++) out->plen[i] = p;
        a = b;
    }
    int *row_len, B = s_layout(len, group, n, out->plen, row_max, out, &row_len), T = 1;
    for (int r = 0; r < B; r++) T = row_len[r] > T ? row_len[r] : T;
    out->B = B, out->T = T;
    size_t cells = (size_t)(B ? B : 1) * (size_t)T;
    out->tokens = xmalloc(sizeof(int) * cells);
    out->pos = xmalloc(sizeof(int) * cells);
    out->seg = xmalloc(sizeof(int) * cells);
    for (size_t c = 0; c < cells; c++) out->tokens[c] = pad, out->pos[c] = 0, out->seg[c] = -1;
    int last_row = -1, branch = 0;
    for (int i = 0; i < n; i++) {
        int r = out->row[i], *tok = out->tokens + (size_t)r * T, *pos = out->pos + (size_t)r * T,
            *seg = out->seg + (size_t)r * T;
        if (r != last_row) { /* a new row opens with the prefix */
            for (int t = 0; t < out->plen[i]; t++) tok[t] = ids[i][t], pos[t] = t, seg[t] = 0;
            last_row = r;
            branch = 0;
        }
        branch++;
        for (int t = out->plen[i]; t < len[i]; t++) {
            int at = out->start[i] + t - out->plen[i];
            tok[at] = ids[i][t], pos[at] = t, seg[at] = branch;
        }
    }
    free(row_len);
}

int prefix_pack_at(const prefix_pack_t *p, int i, int t) {
    int in_row = t < p->plen[i] ? t : p->start[i] + t - p->plen[i];
    return p->row[i] * p->T + in_row;
}

int prefix_pack_pass_tokens(int n_layer, int d_model, int d_ff) {
    double per = 4.0 * n_layer * (8.0 * d_model + 4.0 * d_ff), n = (double)(1u << 30) / (per > 1 ? per : 1);
    return n < 256 ? 256 : n > 4096 ? 4096 : (int)n;
}

int prefix_pack_rows_per_pass(const prefix_pack_t *p, int n_head, size_t max_tokens, size_t max_att_bytes) {
    size_t T = (size_t)p->T, by_tokens = max_tokens / T, by_att = max_att_bytes / (sizeof(float) * (size_t)n_head * T * T);
    size_t rows = by_tokens < by_att ? by_tokens : by_att;
    if (rows > (size_t)p->B) rows = (size_t)p->B;
    return rows > 0 ? (int)rows : 1;
}

void prefix_pack_free(prefix_pack_t *p) {
    free(p->tokens), free(p->pos), free(p->seg);
    free(p->row), free(p->start), free(p->plen);
    memset(p, 0, sizeof *p);
}
