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
void prefix_pack_free(prefix_pack_t *p);

#endif
