/* judge — the judge role: binds a ROUTER and answers JudgeRequests with the K x K preference
 * matrix of the responses (or K rewards) from the backend judge.kind names (judge/backend.h),
 * and a Heartbeat with its counters. Stateless, so any number serve one run. Bounds: a request
 * of more responses than wire_judge_max_k (common/wire.h) is refused with an error (a bad
 * message, logged once per sender) before its reply is allocated; a reply is at most 1 MiB, so a
 * peer that never reads its replies holds at most WIRE_PEER_SNDHWM (64) x 1 MiB per connection. */
#ifndef SPAR_JUDGE_H
#define SPAR_JUDGE_H

#include <stddef.h>

#include "common/config.h"


int judge_main(const spar_config_t *cfg, const char *id);

#endif
