/* tokenizer — see tokenizer.h. */
#include "common/tokenizer.h"

#include <string.h>

#include "common/gpt.h"
#include "common/util.h"

int tok_encode(const char *text, int *tokens, int cap) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n < cap; p++) tokens[n++] = *p;
    return n;
}

int tok_encode_pair(const char *prompt, const char *response, int *tokens, int ctx, int *prompt_len) {
    int pl = tok_encode(prompt, tokens, ctx), rl = tok_encode(response, tokens + pl, ctx - pl);
    if (pl < 1 || (size_t)pl < strlen(prompt) || (size_t)rl < strlen(response) || pl + rl + 1 > ctx) return -1;
    tokens[pl + rl] = GPT_EOT;
    *prompt_len = pl;
    return pl + rl + 1;
}

char *tok_decode(const int *tokens, int n) {
    char *s = xmalloc((size_t)n + 1);
    int k = 0;
    for (int i = 0; i < n && tokens[i] != GPT_EOT; i++)
        if (tokens[i] >= 0 && tokens[i] < 256) s[k++] = (char)tokens[i];
    s[k] = '\0';
    return s;
}
