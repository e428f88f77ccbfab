/* judge — the judge role: binds a ROUTER and answers JudgeRequests with the K x K preference
 * matrix of the responses (or K rewards), through the backend judge.kind names
 * (judge/backend.h: matrix, rule, remote, reward, preference). Stateless, so any number serve one
 * run. A Heartbeat is answered with the judge's counters.
 * Bounds: a request of more responses than wire_judge_max_k (common/wire.h) is answered with an error (counted as a
 * bad message, logged once per sender) before its reply is allocated; a reply is at most 1 MiB,
 * so a peer that sends requests and never reads its replies holds at most WIRE_PEER_SNDHWM (64)
 * x 1 MiB = 64 MiB per connection. */
#ifndef SPAR_JUDGE_H
#define SPAR_JUDGE_H

#include <stddef.h>

#include "common/config.h"


int judge_main(const spar_config_t *cfg, const char *id);

#endif
