/* judge — the judge role: binds a ROUTER and answers JudgeRequests with the K x K preference
 * matrix of the responses. Stateless, so any number serve one run. Backend `matrix`: each
 * prompt id is its own matrix game (common/game.h); backend `rule`: the arith task's rule judge
 * (judge/rule_arith.h) on the prompt text and the responses' bytes. A Heartbeat is answered with
 * the judge's counters. */
#ifndef SPAR_JUDGE_H
#define SPAR_JUDGE_H

#include "common/config.h"

int judge_main(const spar_config_t *cfg, const char *id);

#endif
