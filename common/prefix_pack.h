/* prefix_pack — token sequences laid out for one packed forward pass (llama_forward /
 * lm_forward with seg), each group of sequences sharing its longest common token prefix: a row
 * holds the group's prefix once (segment 0) and then sequences' suffixes (segments 1, 2, ...)
 * with positions continuing the prefix's, so a causal model computes the prefix once for all of
 * them and every position sees what it would see in the sequence alone. Rows are bounded in
 * length; a full row is followed by another that repeats the prefix. The prefix is kept one
 * token shorter than the group's shortest sequence, so each suffix holds at least its last
 * token. Padding (past a row's end) is segment -1 at position 0. */
#ifndef SPAR_PREFIX_PACK_H
#define SPAR_PREFIX_PACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int *tokens, *pos, *seg; /* B x T */
    int B, T;
    int *row, *start; /* per sequence: its row, and where its suffix starts in the row */
    int *plen;        /* per sequence: its group's shared prefix length */
    int n;
} prefix_pack_t;

/* Packs n sequences (ids[i] of len[i] >= 1 tokens); group[i] names sequence i's group (the
 * sequences of a group consecutive; NULL: one group). share 0: no prefix is shared (each
 * sequence whole in its own segment, for comparison). row_max bounds a row's tokens (a row
 * always takes at least one sequence). pad: the token of padding positions. */
void prefix_pack(const int32_t *const *ids, const int *len, const int *group, int n, int share, int row_max, int pad,
                 prefix_pack_t *out);
/* The flat position (row * T + t) of token t (< len[i]) of sequence i. */
int prefix_pack_at(const prefix_pack_t *p, int i, int t);
/* The positions one forward pass of a model of these sizes may hold: the models keep every
 * layer's activations (about 4 n_layer (8 d_model + 4 d_ff) bytes a position), bounded to about
 * 1 GB, and to 256..4096 positions. Also the bound of a row (a row holds one sequence at least). */
int prefix_pack_pass_tokens(int n_layer, int d_model, int d_ff);
/* Rows per forward pass, so that a pass holds at most max_tokens positions and its attention
 * scores (rows x n_head x T x T floats, which the models keep) at most max_att_bytes; at least 1.
 * The rows of a pass starting at row r0 are tokens + r0 * T (and pos, seg) with B rows. */
int prefix_pack_rows_per_pass(const prefix_pack_t *p, int n_head, size_t max_tokens, size_t max_att_bytes);
void prefix_pack_free(prefix_pack_t *p);

#endif
