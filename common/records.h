/* records — the run's append-only log of accepted groups (records/groups.pb): each record is a
 * varint length followed by a packed RolloutGroup, so the whole run can be re-read in order. */
#ifndef SPAR_RECORDS_H
#define SPAR_RECORDS_H

#include <stdio.h>

#include "spar.pb-c.h"

int records_append(FILE *f, const Spar__RolloutGroup *g);
/* Reads the next record: the group (free with spar__rollout_group__free_unpacked), or NULL at
 * the end; *bad is set to 1 when the file is truncated or corrupt (a record that does not parse,
 * or holds a group wire_check_rollout_group refuses). */
Spar__RolloutGroup *records_next(FILE *f, int *bad);

#endif
