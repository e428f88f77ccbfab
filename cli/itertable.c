/* itertable — see itertable.h. The columns are named objects so each set lists them by
 * pointer: a set cannot name a column that does not exist. */
#include "cli/itertable.h"

#include <ctype.h>

static const itertable_col_t c_iter = {"iter", "iteration", 5, NULL};
static const itertable_col_t c_ver = {"ver", "policy_version", 4, NULL};
static const itertable_col_t c_loss = {"loss", "loss", 10, "%.3e"};
static const itertable_col_t c_kl = {"kl_ref", "kl_to_ref", 8, "%.4f"};
static const itertable_col_t c_exploit = {"exploit", "exploitability", 9, "%.5f"};
static const itertable_col_t c_expl_avg = {"expl_avg", "exploitability_avg", 9, "%.5f"};
static const itertable_col_t c_gap_tau = {"gap_tau", "exploitability_tau", 9, "%.2e"};
static const itertable_col_t c_style_ex = {"style_ex", "style_exploitability", 9, "%.4f"};
static const itertable_col_t c_acc = {"acc", "accuracy", 8, "%.3f"};
static const itertable_col_t c_acc_smp = {"acc_smp", "accuracy_sampled", 8, "%.3f"};
static const itertable_col_t c_win_v0 = {"win_v0", "win_rate_vs_init", 8, "%.4f"};
static const itertable_col_t c_judge_win = {"judge_win", "judge_win_rate", 9, "%.3f"};
static const itertable_col_t c_rule_win = {"rule_win", "rule_win_rate", 9, "%.3f"};
static const itertable_col_t c_pos_bias = {"pos_bias", "position_bias", 8, "%+.3f"};
static const itertable_col_t c_len = {"len", "length_mean", 6, "%.1f"};
static const itertable_col_t c_len_p90 = {"len_p90", "length_p90", 7, "%.0f"};
static const itertable_col_t c_trunc = {"trunc", "truncated", 6, "%.3f"};
static const itertable_col_t c_ties = {"ties", "judge_tie_rate", 6, "%.3f"};
static const itertable_col_t c_lost = {"lost", "lost", 5, NULL};
static const itertable_col_t c_stale = {"stale", "stale_dropped", 5, NULL};
static const itertable_col_t c_bad = {"bad", "bad_messages", 4, NULL};
static const itertable_col_t c_rate = {"samples/s", "samples_per_s", 10, "%.0f"};
static const itertable_col_t c_wall = {"wall_s", "wall_s", 7, "%.3f"};

/* Matrix games: the exact game metrics. */
const itertable_col_t *const itertable_run_game[ITERTABLE_RUN_COLUMNS] = {
    &c_iter, &c_ver, &c_loss, &c_kl, &c_win_v0, &c_exploit, &c_expl_avg, &c_lost, &c_stale, &c_bad, &c_rate, &c_wall};
/* Text tasks: accuracy, and the style cycle's exploitability for styles. */
const itertable_col_t *const itertable_run_text[ITERTABLE_RUN_COLUMNS] = {
    &c_iter, &c_ver, &c_loss, &c_kl, &c_acc, &c_acc_smp, &c_style_ex, &c_lost, &c_stale, &c_bad, &c_rate, &c_wall};
/* Text tasks with a learned judge: its win rate against the initial policy next to the rule's. */
const itertable_col_t *const itertable_run_judged[ITERTABLE_RUN_COLUMNS] = {
    &c_iter, &c_ver, &c_loss, &c_kl, &c_acc, &c_acc_smp, &c_judge_win, &c_rule_win, &c_lost, &c_bad, &c_rate, &c_wall};

/* Prompt files with a real judge: what over-optimisation shows in (win rate, length, truncation,
 * the judge's ties and position bias). */
const itertable_col_t *const itertable_run_chat[ITERTABLE_RUN_COLUMNS] = {
    &c_iter, &c_ver, &c_loss, &c_kl, &c_win_v0, &c_len, &c_len_p90, &c_trunc, &c_ties, &c_pos_bias, &c_rate, &c_wall};

const itertable_col_t *const itertable_lead[ITERTABLE_LEAD] = {&c_iter, &c_ver, &c_loss};
const itertable_col_t *const itertable_metrics[ITERTABLE_METRICS] = {
    &c_exploit, &c_expl_avg, &c_gap_tau, &c_style_ex, &c_acc, &c_acc_smp, &c_win_v0, &c_judge_win, &c_rule_win,
    &c_len, &c_len_p90, &c_trunc, &c_ties, &c_pos_bias};
const itertable_col_t *const itertable_trail[ITERTABLE_TRAIL] = {&c_lost, &c_rate, &c_wall};

const char *itertable_value(char *buf, size_t len, json_t *v, const char *fmt) {
    if (json_is_integer(v) && !fmt) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_number(v)) snprintf(buf, len, fmt ? fmt : "%.0f", json_number_value(v));
    else if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
        for (char *c = buf; *c; c++)
            if (iscntrl((unsigned char)*c)) *c = '?';
    } else snprintf(buf, len, "-");
    return buf;
}

int itertable_has(json_t *lines, const char *key) {
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) if (json_is_number(json_object_get(o, key))) return 1;
    return 0;
}

void itertable_header(FILE *out, const itertable_col_t *const *cols, int n) {
    for (int c = 0; c < n; c++) fprintf(out, "%s%*s", c ? " " : "", cols[c]->width, cols[c]->head);
    fputc('\n', out);
}

void itertable_row(FILE *out, const itertable_col_t *const *cols, int n, json_t *line) {
    for (int c = 0; c < n; c++) {
        char cell[64];
        itertable_value(cell, sizeof cell, json_object_get(line, cols[c]->key), cols[c]->fmt);
        fprintf(out, "%s%*s", c ? " " : "", cols[c]->width, cell);
    }
    fputc('\n', out);
}
