/* ping — `spar ping ENDPOINT [--timeout-ms N] [--config F] [--set k=v]... [--judge]`: sends a
 * Heartbeat to a learner or judge and waits for its Heartbeat; exit 0 with one line (role,
 * version, counters) when it answers, 1 when it does not in time. The health check of the
 * docker-compose services. With security.curve on it is a CURVE client with security.key that
 * trusts the learner's key (--judge: the judges'). */
#ifndef SPAR_PING_H
#define SPAR_PING_H

int ping_main(int argc, char **argv);

#endif
