/* itertable — the iteration table of spar run and spar monitor: every column (header,
 * iterations.jsonl key, width, number format) defined once, the column sets each command shows,
 * the printer of its header and of a row from an iterations.jsonl line, and whether any line
 * holds a number for a key (spar plot picks its curves so too). Which set fits a run (its task
 * and judge) is the caller's choice; reading the lines is too. */
#ifndef SPAR_CLI_ITERTABLE_H
#define SPAR_CLI_ITERTABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *head, *key;
    int width;
    const char *fmt; /* printf format of a number; NULL: an integer */
} itertable_col_t;

/* spar run: one fixed set per kind of run. */
#define ITERTABLE_RUN_COLUMNS 12
extern const itertable_col_t *const itertable_run_game[ITERTABLE_RUN_COLUMNS];   /* matrix games */
extern const itertable_col_t *const itertable_run_text[ITERTABLE_RUN_COLUMNS];   /* text tasks */
extern const itertable_col_t *const itertable_run_judged[ITERTABLE_RUN_COLUMNS]; /* with a learned judge */
extern const itertable_col_t *const itertable_run_chat[ITERTABLE_RUN_COLUMNS];   /* prompt files */

/* spar monitor: the lead, then each main metric some shown line has, then the trail. */
#define ITERTABLE_LEAD 3
#define ITERTABLE_METRICS 14
#define ITERTABLE_TRAIL 3
extern const itertable_col_t *const itertable_lead[ITERTABLE_LEAD];
extern const itertable_col_t *const itertable_metrics[ITERTABLE_METRICS];
extern const itertable_col_t *const itertable_trail[ITERTABLE_TRAIL];

/* The headers, right-aligned to the widths, one space apart, and a newline. */
void itertable_header(FILE *out, const itertable_col_t *const *cols, int n);
/* One line's cells under those headers; a key the line lacks shows as "-". */
void itertable_row(FILE *out, const itertable_col_t *const *cols, int n, json_t *line);

/* 1 when some line of the array holds a number for key: only such keys become columns (and
 * plot curves: gnuplot refuses a curve without one defined point). */
int itertable_has(json_t *lines, const char *key);

/* A JSON value as a cell in buf: a number in fmt (NULL: an integer), a string with its control
 * characters as '?', anything else "-". Returns buf. */
const char *itertable_value(char *buf, size_t len, json_t *v, const char *fmt);

#endif
