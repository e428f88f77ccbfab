/* decode_gemm — the matrix products of a decode step: a few rows of activations (one token per
 * sequence) times every weight matrix, once per new token. At so few rows a BLAS GEMM spends
 * most of its time packing the weight into its panel layout on every call (OpenBLAS's
 * sgemm_incopy), so it reads each weight twice and writes it once per step. These kernels read
 * each weight element once per call, straight from its stored layout, and hold several rows of x
 * against several of w in registers so that the FMAs, not the loads, bound them.
 *
 * Threads: as many as OpenBLAS is set to use (gpt_set_threads / openblas_set_num_threads), the
 * caller plus a small pool of workers that spin a millisecond after a product and then sleep, so
 * they take no CPU while OpenBLAS runs the large products of a prefill (and the workers beyond
 * the current count sleep throughout). A product is split in chunks claimed one at a time, so a
 * thread descheduled on a shared machine delays only its chunk. A pthread pool rather than
 * OpenMP: Debian's OpenBLAS is its pthread build, libgomp would add a second pool spinning on
 * its own schedule beside OpenBLAS's, and libgomp does not survive fork(); here a second thread
 * calling while the pool is busy runs its product alone, and a forked child starts with no
 * workers and makes its own when it first needs them. */
#ifndef SPAR_DECODE_GEMM_H
#define SPAR_DECODE_GEMM_H

/* Up to these many rows the decode kernels beat cblas_sgemm on the model shapes, with 1 and 2
 * threads (measured over a whole step's products of SmolLM2-135M, (out, in), and of GPT-2, (in,
 * out): at 16 rows 1.6x and 1.2x; above, the GEMM's packing is amortised and its cache blocking
 * wins, at 96..128 rows on one thread, 64..128 on two for (out, in); 32..64 for (in, out)). */
enum { DECODE_GEMM_MAX_ROWS = 64, DECODE_GEMM_NN_MAX_ROWS = 32 };

/* y (M, out) = x (M, in) w^T (+ bias (out), may be NULL), w in nn.Linear's (out, in) layout. */
void decode_gemm(float *y, const float *x, const float *w, const float *bias, int M, int in, int out);

/* y (M, out) = x (M, in) w (+ bias), w stored (in, out) (GPT-2's Conv1D layout). */
void decode_gemm_nn(float *y, const float *x, const float *w, const float *bias, int M, int in, int out);

/* The thread count the products use: openblas_get_num_threads(), the pool's limit. */
int decode_gemm_threads(void);

#endif
