/* keepalive — see keepalive.h. One thread per role, asleep on a condition variable while the
 * socket is the role's; while lent, it wakes every period and sends under the mutex that
 * keepalive_end takes, so the socket never has two users at once. */
#include "common/keepalive.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "common/util.h"

struct keepalive {
    wire_t *wire;
    void *socket;
    long period_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on begin, end and free */
    int lent, quit;
    unsigned long generation; /* bumped by each begin: a wait never outlives its lending */
    msg_heartbeat_t hb;
    unsigned long sent;
};

static struct timespec s_after_ms(long ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
    return t;
}

static void *s_run(void *arg) {
    keepalive_t *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->quit) {
        if (!k->lent) {
            pthread_cond_wait(&k->cv, &k->mu);
            continue;
        }
        unsigned long gen = k->generation;
        struct timespec due = s_after_ms(k->period_ms);
        int rc = 0;
        while (k->lent && !k->quit && k->generation == gen && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&k->cv, &k->mu, &due);
        /* still lent, by the same begin, and a whole period passed: one heartbeat (a full send
         * queue drops it, as the loop's own timer would) */
        if (rc == ETIMEDOUT && k->lent && !k->quit && k->generation == gen) {
            (void)msg_send_heartbeat(k->wire, k->socket, NULL, &k->hb);
            k->sent++;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

keepalive_t *keepalive_new(wire_t *wire, void *socket, long period_ms) {
    keepalive_t *k = xcalloc(1, sizeof *k);
    k->wire = wire;
    k->socket = socket;
    k->period_ms = period_ms > 0 ? period_ms : 1000;
    pthread_mutex_init(&k->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay with the role's thread */
    int rc = pthread_create(&k->thread, NULL, s_run, k);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        free(k);
        return NULL;
    }
    return k;
}

void keepalive_begin(keepalive_t *k, const msg_heartbeat_t *hb) {
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    k->hb = *hb;
    k->lent = 1;
    k->generation++;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

void keepalive_end(keepalive_t *k) {
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    k->lent = 0;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

unsigned long keepalive_sent(keepalive_t *k) {
    if (!k) return 0;
    pthread_mutex_lock(&k->mu);
    unsigned long n = k->sent;
    pthread_mutex_unlock(&k->mu);
    return n;
}

void keepalive_free(keepalive_t **kp) {
    keepalive_t *k = *kp;
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    k->quit = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
    *kp = NULL;
}
