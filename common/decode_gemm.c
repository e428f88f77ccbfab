/* decode_gemm — see decode_gemm.h. Plain C that gcc vectorises (-O3 -ffast-math on this file):
 * the tile sizes follow the vector registers the target has (32 with AVX-512, 16 otherwise), so
 * the accumulators stay in registers on any x86-64, and the row/column tails are the same tile
 * code with smaller constant sizes. */
#include "common/decode_gemm.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* MB rows of x against RB rows of w (NT) or CB columns of w (NN; NMB rows of x). VL: floats per
 * vector register. With 32 registers a 4 x 4 tile of accumulators leaves room for the operands
 * (4 x 5, 5 x 4 measured no faster, 4 x 6, 6 x 4, 8 x 3 slower), with 16 a 3 x 4 one does. */
#if defined(__AVX512F__)
#define VL 16
#define MB 4
#elif defined(__AVX__)
#define VL 8
#define MB 3
#else
#define VL 4
#define MB 3
#endif
#define RB 4
#define NMB MB
/* KC: the rows of a (in, out) weight's column block kept in L1 for all rows of x. PF_BLOCKS: how
 * many blocks of RB rows ahead of the tile the (out, in) weight is prefetched (1..4 measured
 * alike; none costs a third), into L2 (prefetcht1: into L1 it evicts the tile's operands). */
enum { CB = 4 * VL, KC = 64, PF_BLOCKS = 2, PF_LEVEL = 2 };

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- (out, in) weights: dot products -------------------------------------------------------
 * mb rows of x (stride in) against rb rows of w: mb * rb sums over k that gcc turns into vector
 * accumulators (each lane sums every VL-th k; -ffast-math lets it reassociate), the x and w
 * values of one k loaded once for all of them. */
static ALWAYS_INLINE void s_nt_tile(float *restrict y, int ldy, const float *restrict x, const float *restrict w,
                                    const float *restrict bias, int in, const int mb, const int rb) {
    float s[MB][RB] = {{0}};
    for (int k = 0; k < in; k++) {
        float xv[MB], wv[RB];
#pragma GCC unroll 8
        for (int i = 0; i < mb; i++) xv[i] = x[(size_t)i * in + k];
#pragma GCC unroll 8
        for (int r = 0; r < rb; r++) wv[r] = w[(size_t)r * in + k];
#pragma GCC unroll 8
        for (int i = 0; i < mb; i++)
#pragma GCC unroll 8
            for (int r = 0; r < rb; r++) s[i][r] += xv[i] * wv[r];
    }
    for (int i = 0; i < mb; i++)
        for (int r = 0; r < rb; r++) y[(size_t)i * ldy + r] = s[i][r] + (bias ? bias[r] : 0.0f);
}

/* Asks for [p, end) in the cache (L2: the lines arrive while the tiles run on L1). */
static void s_prefetch(const char *p, const char *end) {
    for (; p < end; p += 64) __builtin_prefetch(p, 0, PF_LEVEL);
}

/* The tile with run-time sizes dispatched to constant ones, so each is its own unrolled loop:
 * rb RB or 1 (the rows of w past the last whole tile, one at a time), mb up to MB. */
static void s_nt_any(float *y, int ldy, const float *x, const float *w, const float *bias, int in, int mb, int rb) {
#define NT_CASE(m)                                                                                                    \
    case m:                                                                                                           \
        if (rb == RB) s_nt_tile(y, ldy, x, w, bias, in, m, RB);                                                       \
        else                                                                                                          \
            for (int r = 0; r < rb; r++) s_nt_tile(y + r, ldy, x, w + (size_t)r * in, bias ? bias + r : NULL, in, m, 1); \
        break;
    switch (mb) {
        NT_CASE(1) NT_CASE(2) NT_CASE(3)
#if MB > 3
        NT_CASE(4)
#endif
    default: break;
    }
#undef NT_CASE
}

/* Output features [lo, hi) of all M rows: each block of RB rows of w is read from memory once and
 * from the cache by the later blocks of x rows. */
static void s_nt_range(float *y, const float *x, const float *w, const float *bias, int M, int in, int out, int lo,
                       int hi) {
    for (int o = lo; o < hi; o += RB) {
        int rb = hi - o < RB ? hi - o : RB;
        const float *wo = w + (size_t)o * in, *bo = bias ? bias + o : NULL;
        /* the w rows PF_BLOCKS blocks ahead are fetched while the blocks of x rows use these, a
         * share before each, so memory streams while the cached rows are reused */
        size_t pf_bytes = o + (PF_BLOCKS + 1) * RB <= hi ? sizeof(float) * RB * (size_t)in : 0;
        const char *pf = pf_bytes ? (const char *)(wo + (size_t)PF_BLOCKS * RB * in) : (const char *)wo;
        size_t share = (pf_bytes / ((M + MB - 1) / MB) + 63) & ~(size_t)63, at = 0;
        for (int i = 0; i < M; i += MB, at += share) {
            size_t a = at < pf_bytes ? at : pf_bytes, b = at + share < pf_bytes ? at + share : pf_bytes;
            s_prefetch(pf + a, pf + b);
            int mb = M - i < MB ? M - i : MB;
            if (mb == MB && rb == RB) s_nt_tile(y + (size_t)i * out + o, out, x + (size_t)i * in, wo, bo, in, MB, RB);
            else s_nt_any(y + (size_t)i * out + o, out, x + (size_t)i * in, wo, bo, in, mb, rb);
        }
    }
}

/* ---- (in, out) weights: rows of w scaled and summed ------------------------------------------
 * mb rows of y, columns [0, cw) with cw <= CB, accumulated over kc rows of w (stride ldw): the
 * accumulators start from y (or the bias, or 0, on the first chunk of k) and go back to it. */
static ALWAYS_INLINE void s_nn_tile(float *restrict y, int ldy, const float *restrict x, int ldx,
                                    const float *restrict w, int ldw, const float *restrict bias, int kc, int first,
                                    const int mb, const int cw) {
    float s[NMB][CB];
#pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        for (int o = 0; o < cw; o++) s[i][o] = !first ? y[(size_t)i * ldy + o] : bias ? bias[o] : 0.0f;
    for (int k = 0; k < kc; k++) {
        const float *wk = w + (size_t)k * ldw;
#pragma GCC unroll 8
        for (int i = 0; i < mb; i++) {
            float xi = x[(size_t)i * ldx + k];
            for (int o = 0; o < cw; o++) s[i][o] += xi * wk[o];
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        for (int o = 0; o < cw; o++) y[(size_t)i * ldy + o] = s[i][o];
}

static void s_nn_any(float *y, int ldy, const float *x, int ldx, const float *w, int ldw, const float *bias, int kc,
                     int first, int mb, int cw) {
    /* a partial column block keeps its width a run-time value: it is at most one block per call */
    switch (mb) {
    case 1: s_nn_tile(y, ldy, x, ldx, w, ldw, bias, kc, first, 1, cw); break;
    case 2: s_nn_tile(y, ldy, x, ldx, w, ldw, bias, kc, first, 2, cw); break;
    case 3: s_nn_tile(y, ldy, x, ldx, w, ldw, bias, kc, first, 3, cw); break;
#if NMB > 3
    case 4: s_nn_tile(y, ldy, x, ldx, w, ldw, bias, kc, first, 4, cw); break;
#endif
    default: break;
    }
}

/* Columns [lo, hi) of all M rows, KC rows of w at a time: along those rows block by block, a
 * KC x CB block staying in L1 while every block of x rows uses it; the next block (the same rows'
 * next columns, or the next rows' first) is prefetched a share before each block of x rows. */
static void s_nn_range(float *y, const float *x, const float *w, const float *bias, int M, int in, int out, int lo,
                       int hi) {
    int passes = (M + NMB - 1) / NMB;
    for (int k = 0; k < in; k += KC) {
        int kc = in - k < KC ? in - k : KC;
        for (int o = lo; o < hi; o += CB) {
            int cw = hi - o < CB ? hi - o : CB;
            const float *bo = bias ? bias + o : NULL, *wk = w + (size_t)k * out + o;
            int no = o + CB < hi ? o + CB : lo, nk = o + CB < hi ? k : k + KC;
            int ncw = nk < in ? (hi - no < CB ? hi - no : CB) : 0, nkc = in - nk < KC ? in - nk : KC;
            int share = (nkc + passes - 1) / passes, at = 0;
            for (int i = 0; i < M; i += NMB, at += share) {
                for (int r = at; ncw && r < at + share && r < nkc; r++) {
                    const char *p = (const char *)(w + (size_t)(nk + r) * out + no);
                    s_prefetch(p, p + sizeof(float) * ncw);
                }
                int mb = M - i < NMB ? M - i : NMB;
                float *yi = y + (size_t)i * out + o;
                const float *xi = x + (size_t)i * in + k;
                if (mb == NMB && cw == CB) s_nn_tile(yi, out, xi, in, wk, out, bo, kc, k == 0, NMB, CB);
                else s_nn_any(yi, out, xi, in, wk, out, bo, kc, k == 0, mb, cw);
            }
        }
    }
}

/* ---- the pool ------------------------------------------------------------------------------
 * A product is cut into chunks of whole tiles that the caller and the workers claim one at a
 * time, so a thread that the busy machine deschedules delays only its own chunk, and the caller
 * never waits for a worker that has not started. The claim word packs the job's generation with
 * the next chunk and the chunk count: a worker that wakes after its job is done claims nothing
 * and reads nothing else of it. */

enum { MAX_THREADS = 64, CHUNKS_PER_THREAD = 4 };

typedef struct {
    float *y;
    const float *x, *w, *bias;
    int M, in, out, unit, nn, chunks;
} s_job_t;

typedef struct {
    pthread_t id;
    pthread_cond_t cv;
    _Atomic int asleep;
    unsigned start; /* the generation when it was made: a job may be posted before it first runs */
} s_worker_t;

static struct {
    pthread_mutex_t busy; /* held by the caller whose job the workers run */
    pthread_mutex_t mu;   /* where workers sleep, each on its own condition variable */
    _Atomic uint64_t claim;  /* generation << 32 | next chunk << 16 | chunk count */
    _Atomic unsigned gen;    /* the current job; workers wait for it to change */
    _Atomic int want;        /* workers 1..want join the current job, the others sleep */
    _Atomic int running;     /* threads in the current job's claim-and-run loop */
    int n_workers;
    s_job_t job;
    s_worker_t w[MAX_THREADS];
} s_pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER};

static void s_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static double s_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Chunk c of the job: a contiguous range of output features, whole tiles but the last. */
static void s_run_chunk(const s_job_t *j, int c, int chunks) {
    int units = (j->out + j->unit - 1) / j->unit;
    int lo = (int)((long)units * c / chunks) * j->unit, hi = (int)((long)units * (c + 1) / chunks) * j->unit;
    if (hi > j->out) hi = j->out;
    if (lo >= hi) return;
    if (j->nn) s_nn_range(j->y, j->x, j->w, j->bias, j->M, j->in, j->out, lo, hi);
    else s_nt_range(j->y, j->x, j->w, j->bias, j->M, j->in, j->out, lo, hi);
}

/* Claims and runs chunks of job g until none is left. Counted in running before the first claim,
 * so the caller, once the chunks are all claimed, waits for the ones being run. */
static void s_work(unsigned g) {
    atomic_fetch_add(&s_pool.running, 1);
    uint64_t c = atomic_load(&s_pool.claim);
    for (;;) {
        unsigned next = (unsigned)(c >> 16) & 0xffff, count = (unsigned)c & 0xffff;
        if ((unsigned)(c >> 32) != g || next >= count) break;
        if (!atomic_compare_exchange_weak(&s_pool.claim, &c, c + (1u << 16))) continue;
        s_run_chunk(&s_pool.job, (int)next, (int)count);
        c = atomic_load(&s_pool.claim);
    }
    atomic_fetch_sub(&s_pool.running, 1);
}

/* A decode step's products come back to back, with only the attention between them, so a worker
 * spins that long (a millisecond) before it sleeps: waking a sleeping thread costs more than most
 * of the products. A worker the current thread count leaves out sleeps at once. */
static void *s_worker(void *arg) {
    s_worker_t *me = arg;
    int p = (int)(me - s_pool.w) + 1;
    unsigned seen = me->start;
    for (;;) {
        unsigned g;
        double t0 = 0;
        int sleep = 0;
        for (int spins = 0; (g = atomic_load(&s_pool.gen)) == seen; spins++) {
            s_relax();
            if ((spins & 255) != 255) continue;
            double t = s_now();
            if (t0 == 0) t0 = t;
            else if (t - t0 > 1e-3) {
                sleep = 1;
                break;
            }
        }
        if (!sleep && p > atomic_load(&s_pool.want)) seen = g, sleep = 1;
        if (sleep) { /* asleep counted first, then the job read: see s_run */
            pthread_mutex_lock(&s_pool.mu);
            atomic_store(&me->asleep, 1);
            while ((g = atomic_load(&s_pool.gen)) == seen || p > atomic_load(&s_pool.want))
                pthread_cond_wait(&me->cv, &s_pool.mu);
            atomic_store(&me->asleep, 0);
            pthread_mutex_unlock(&s_pool.mu);
        }
        seen = g;
        s_work(g);
    }
    return NULL;
}

/* A forked child has none of the parent's workers (and no caller mid-job): it starts empty. */
static void s_after_fork_child(void) {
    pthread_mutex_init(&s_pool.busy, NULL);
    pthread_mutex_init(&s_pool.mu, NULL);
    atomic_store(&s_pool.running, 0);
    atomic_store(&s_pool.want, 0);
    s_pool.n_workers = 0;
}

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static void s_init(void) { pthread_atfork(NULL, NULL, s_after_fork_child); }

int decode_gemm_threads(void) {
    int n = openblas_get_num_threads();
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
}

/* Runs the job on up to decode_gemm_threads() threads, the caller one of them. */
static void s_run(s_job_t *j) {
    /* a thread's share below ~64k FMAs costs more to hand over than it saves */
    double work = (double)j->M * j->in * j->out;
    int threads = decode_gemm_threads(), units = (j->out + j->unit - 1) / j->unit;
    if (threads > units) threads = units;
    while (threads > 1 && work / threads < 65536) threads--;
    if (threads <= 1 || pthread_mutex_trylock(&s_pool.busy) != 0) {
        s_run_chunk(j, 0, 1);
        return;
    }
    pthread_once(&s_once, s_init);
    while (s_pool.n_workers < threads - 1) { /* the workers are made when first needed */
        s_worker_t *w = &s_pool.w[s_pool.n_workers];
        w->start = atomic_load(&s_pool.gen);
        atomic_store(&w->asleep, 0);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->id, NULL, s_worker, w) != 0) break;
        pthread_detach(w->id);
        s_pool.n_workers++;
    }
    if (threads > s_pool.n_workers + 1) threads = s_pool.n_workers + 1;
    j->chunks = threads * CHUNKS_PER_THREAD < units ? threads * CHUNKS_PER_THREAD : units;
    s_pool.job = *j;
    unsigned g = atomic_load(&s_pool.gen) + 1;
    atomic_store(&s_pool.claim, (uint64_t)g << 32 | (unsigned)j->chunks);
    atomic_store(&s_pool.want, threads - 1);
    /* sequentially consistent: a sleeping worker sets asleep and then reads gen, the caller sets
     * gen and then reads asleep, so one of the two sees the other (no lost wake-up) */
    atomic_store(&s_pool.gen, g);
    for (int i = 0; i < threads - 1; i++)
        if (atomic_load(&s_pool.w[i].asleep)) {
            pthread_mutex_lock(&s_pool.mu);
            pthread_cond_signal(&s_pool.w[i].cv);
            pthread_mutex_unlock(&s_pool.mu);
        }
    s_work(g);
    for (int spins = 0; atomic_load(&s_pool.running) > 0; spins++) {
        s_relax();
        if (spins > 4096) sched_yield(); /* a worker descheduled mid-chunk on a busy machine */
    }
    pthread_mutex_unlock(&s_pool.busy);
}

void decode_gemm(float *y, const float *x, const float *w, const float *bias, int M, int in, int out) {
    if (M <= 0 || out <= 0) return;
    s_job_t j = {y, x, w, bias, M, in, out, RB, 0, 1};
    s_run(&j);
}

void decode_gemm_nn(float *y, const float *x, const float *w, const float *bias, int M, int in, int out) {
    if (M <= 0 || out <= 0) return;
    if (in <= 0) { /* no k to start the accumulators from y: the product is the bias alone */
        for (int i = 0; i < M; i++)
            for (int o = 0; o < out; o++) y[(size_t)i * out + o] = bias ? bias[o] : 0.0f;
        return;
    }
    s_job_t j = {y, x, w, bias, M, in, out, CB, 1, 1};
    s_run(&j);
}
