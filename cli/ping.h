/* ping — `spar ping ENDPOINT [--timeout-ms N]`: sends a Heartbeat to a learner or judge and waits
 * for its Heartbeat; exit 0 with one line (role, version, counters) when it answers, 1 when it
 * does not in time. The health check of the docker-compose services. */
#ifndef SPAR_PING_H
#define SPAR_PING_H

int ping_main(int argc, char **argv);

#endif
