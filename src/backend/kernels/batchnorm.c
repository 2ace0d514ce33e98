/*
 * The lesson's batch norm (see src/models/bnNormalize.ts) as passes over x [P, C], NHWC with
 * the pixels of the whole batch as P: per-channel sums first, then one elementwise pass that
 * uses them. With `relu`, x is the convolution's output and the layer's ReLU is applied on the
 * way in (and its mask on the way back), so that no pass of its own is needed.
 *
 * Each function takes pixels [p0, p1), so that threads can each take a range; sums go to this
 * thread's own `out` (doubles, C of them or 2 * C), which the caller adds up. Same rules as
 * conv.c: no static data, no stack memory.
 */

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))

typedef unsigned long size_t;

/* The ReLU when `relu` is set; like max(v, 0), but NaN stays NaN. */
INLINE float act(float v, int relu) { return relu && v <= 0.0f ? 0.0f : v; }

/* out[c] = sum over p of act(x[p, c]). */
EXPORT(bn_sum)
void bn_sum(const float *restrict x, int C, int relu, double *restrict out, int p0, int p1) {
  for (int c = 0; c < C; c++) out[c] = 0.0;
  for (int p = p0; p < p1; p++) {
    const float *row = x + (size_t)p * C;
    for (int c = 0; c < C; c++) out[c] += act(row[c], relu);
  }
}

/* out[c] = sum over p of (act(x[p, c]) - mean[c])^2. */
EXPORT(bn_sum_squares)
void bn_sum_squares(const float *restrict x, int C, int relu, const float *restrict mean,
                    double *restrict out, int p0, int p1) {
  for (int c = 0; c < C; c++) out[c] = 0.0;
  for (int p = p0; p < p1; p++) {
    const float *row = x + (size_t)p * C;
    for (int c = 0; c < C; c++) {
      float d = act(row[c], relu) - mean[c];
      out[c] += d * d;
    }
  }
}

/* y[p, c] = act(x[p, c]) * scale[c] + shift[c]. */
EXPORT(bn_apply)
void bn_apply(const float *restrict x, int C, int relu, const float *restrict scale,
              const float *restrict shift, float *restrict y, int p0, int p1) {
  for (int p = p0; p < p1; p++) {
    const float *row = x + (size_t)p * C;
    float *dst = y + (size_t)p * C;
    for (int c = 0; c < C; c++) dst[c] = act(row[c], relu) * scale[c] + shift[c];
  }
}

/*
 * out[c] = sum over p of dy[p, c], and out[C + c] = sum over p of dy[p, c] * (act(x[p, c]) -
 * mean[c]): the two sums the gradient needs.
 */
EXPORT(bn_grad_sums)
void bn_grad_sums(const float *restrict dy, const float *restrict x, int C, int relu,
                  const float *restrict mean, double *restrict out, int p0, int p1) {
  for (int c = 0; c < 2 * C; c++) out[c] = 0.0;
  for (int p = p0; p < p1; p++) {
    const float *g = dy + (size_t)p * C;
    const float *row = x + (size_t)p * C;
    for (int c = 0; c < C; c++) {
      out[c] += g[c];
      out[C + c] += g[c] * (act(row[c], relu) - mean[c]);
    }
  }
}

/*
 * dx[p, c] = k1[c] * dy[p, c] - k2[c] * (act(x[p, c]) - mean[c]) - shift[c], times the ReLU's
 * mask (x > 0) with `relu`.
 */
EXPORT(bn_grad_apply)
void bn_grad_apply(const float *restrict dy, const float *restrict x, int C, int relu,
                   const float *restrict mean, const float *restrict k1,
                   const float *restrict k2, const float *restrict shift, float *restrict dx,
                   int p0, int p1) {
  for (int p = p0; p < p1; p++) {
    const float *g = dy + (size_t)p * C;
    const float *row = x + (size_t)p * C;
    float *dst = dx + (size_t)p * C;
    for (int c = 0; c < C; c++) {
      float v = k1[c] * g[c] - k2[c] * (act(row[c], relu) - mean[c]) - shift[c];
      dst[c] = relu && !(row[c] > 0.0f) ? 0.0f : v;
    }
  }
}
