/* keygen — see keygen.h. */
#include "cli/keygen.h"

#include <stdio.h>
#include <string.h>

#include "common/curve.h"
#include "common/util.h"

#define USAGE "usage: spar keygen [--out DIR] NAME...\n"

int keygen_main(int argc, char **argv) {
    const char *dir = ".";
    const char *names[256];
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf(USAGE "\nWrites a new CURVE key pair for each NAME: DIR/NAME.key, the secret key (mode 0600;\n"
                   "it stays on the machine of the process that uses it, named by security.key), and\n"
                   "DIR/NAME.pub, the public key (into the servers' security.allowed folder; the learner's\n"
                   "and the judges' also to the clients, as security.learner_public and judge_public).\n"
                   "An existing key is never overwritten. DIR (default: here) is made when missing.\n\n"
                   "options:\n  --out DIR   where the files go\n  --help      this text\n");
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            dir = argv[++i];
        } else if (argv[i][0] != '-' && n < 256) {
            names[n++] = argv[i];
        } else {
            fprintf(stderr, "spar keygen: unexpected argument '%s'\n" USAGE, argv[i]);
            return 2;
        }
    }
    if (n == 0) {
        fprintf(stderr, USAGE);
        return 2;
    }
    int rc = util_mkdirs(dir);
    if (rc != 0) {
        fprintf(stderr, "spar keygen: cannot make %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char err[1024];
        if (curve_keygen(dir, names[i], err, sizeof err) != 0) {
            fprintf(stderr, "spar keygen: %s\n", err);
            return 1;
        }
        printf("spar keygen: %s/%s.key (secret, mode 0600) and %s/%s.pub\n", dir, names[i], dir, names[i]);
    }
    return 0;
}
