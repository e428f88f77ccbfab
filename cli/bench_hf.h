/* bench_hf — `spar bench model`'s real-model shapes (SmolLM2-135M, Qwen2.5-0.5B) beside the
 * PyTorch peer; see bench_hf.c. */
#ifndef SPAR_BENCH_HF_H
#define SPAR_BENCH_HF_H

/* OpenBLAS sgemm GFLOP/s for (M, K) x (K, N), B transposed when trans_b, timed for 0.4 s after
 * a warm-up product. */
double bench_sgemm_gflops(int M, int N, int K, int trans_b);
/* This process's peak resident memory so far, MiB. */
long bench_peak_rss_mb(void);

/* Prints every figure of the shapes (only: one shape by name, NULL: all), each measured in a
 * child process, with the peer's (peer != 0; source_dir holds bench/torch_peer.py). */
void bench_hf_run(const char *only, int threads, const char *source_dir, int peer);
/* 1 when NAME is one of the shapes. */
int bench_hf_has_shape(const char *name);
/* The child's side: one figure ("train" | "logprob" | "sample") of one shape, one line out. */
int bench_hf_figure_main(const char *shape, const char *figure);

#endif
