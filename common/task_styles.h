/* task_styles — the `styles` task: arith problems whose answer is the number followed by a style
 * mark, none ("82", plain), "." (period) or "!" (bang). Correctness comes first (the arith rule);
 * between answers the rule scores equal, style decides, and the styles beat each other in a
 * cycle with unequal margins:
 *   P(plain > period) = 1/2 + 0.45,  P(period > bang) = 1/2 + 0.15,  P(bang > plain) = 1/2 + 0.30.
 * No style is best; the game's unique Nash equilibrium mixes them in proportion to the margin of
 * the opposite edge, (0.15, 0.30, 0.45) / 0.9 = (1/6, 1/3, 1/2) for (plain, period, bang). */
#ifndef SPAR_TASK_STYLES_H
#define SPAR_TASK_STYLES_H

#include <stddef.h>
#include <stdint.h>

#define STYLES 3

extern const char *const styles_name[STYLES];

/* P(style a beats style b): 1/2 on the diagonal, P(a > b) + P(b > a) = 1. */
double styles_pref(int a, int b);
/* The Nash mixture (1/6, 1/3, 1/2). */
void styles_nash(double x[STYLES]);
/* The exploitability of a style distribution x: max over styles s of P(s > x) - 1/2; 0 exactly at
 * the Nash mixture. */
double styles_exploitability(const double x[STYLES]);
/* Splits a response into its number (copied to digits) and style; returns the style, or -1 for
 * junk (no digits, or anything after the mark). */
int styles_split(const char *response, char *digits, size_t cap);
/* The mark of style s ("", "." or "!"). */
const char *styles_mark(int s);
/* The SFT response for problem i: arith's (with its share of wrong answers), in a style drawn
 * uniformly. */
void styles_sft_response(uint64_t seed, uint64_t i, int digits, double wrong_share, char *response, size_t cap);

#endif
