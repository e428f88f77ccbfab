/* loss — what every learner loss sees for one judged group: the K responses' sequence
 * log-probs under the trained policy (theta), the previous iterate pi_t and the reference
 * pi_ref, plus the judge's K x K preference matrix. A loss returns its value and writes
 * dL/d lp_theta(y_i) for each response: the policy turns that into parameter gradients. */
#ifndef SPAR_LOSS_H
#define SPAR_LOSS_H

typedef struct {
    int k;
    const double *lp_theta; /* K: log pi_theta(y_i) */
    const double *lp_prev;  /* K: log pi_t(y_i) */
    const double *lp_ref;   /* K: log pi_ref(y_i) */
    const double *P;        /* K*K: P[i][j] = P(y_i > y_j) */
    const double *opp;      /* K: win rate of y_i against the opponent policy (Nash-MD: the
                               mixture, from the actor's opponents; EGPO: pi_t or the half step,
                               from the group); or NULL */
} loss_group_t;

#endif
