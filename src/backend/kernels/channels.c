/*
 * Per-channel passes over activations x [P, C] (NHWC, the pixels of the whole batch as P):
 * the lesson's batch norm (see src/models/bnNormalize.ts) and a convolution's bias gradient.
 * With `relu`, x is a convolution's output and the layer's ReLU is applied on the way in (and
 * its mask on the way back), so that it needs no pass of its own.
 *
 * Each function takes pixels [p0, p1), so that threads can each take a range; sums go to this
 * thread's own `out` (doubles), which the caller adds up. Same rules as conv.c: no static data,
 * no stack memory.
 *
 * Sums run over blocks of BLOCK pixels, four channels at a time in a float vector, and each
 * block's sums are added to the doubles: a block's rows stay in the first-level cache while
 * every group of four channels is summed, and no float sum runs long enough to lose digits.
 * Channels past the last multiple of 4 are summed one at a time.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))
#define BLOCK 64

typedef unsigned long size_t;

/* The ReLU when `relu` is set; like max(v, 0), but NaN stays NaN. */
INLINE float act(float v, int relu) { return relu && v <= 0.0f ? 0.0f : v; }

INLINE v128_t act4(v128_t v, int relu) {
  return relu ? wasm_v128_andnot(v, wasm_f32x4_le(v, wasm_f32x4_splat(0.0f))) : v;
}

/* out[c..c+3] += the lanes of a. */
INLINE void flush(double *out, v128_t a) {
  out[0] += wasm_f32x4_extract_lane(a, 0);
  out[1] += wasm_f32x4_extract_lane(a, 1);
  out[2] += wasm_f32x4_extract_lane(a, 2);
  out[3] += wasm_f32x4_extract_lane(a, 3);
}

/* out[c] = sum over p of act(x[p, c]). */
EXPORT(bn_sum)
void bn_sum(const float *x, int C, int relu, double *out, int p0, int p1) {
  int C4 = C / 4 * 4;
  for (int c = 0; c < C; c++) out[c] = 0.0;
  for (int b0 = p0; b0 < p1; b0 += BLOCK) {
    int b1 = b0 + BLOCK < p1 ? b0 + BLOCK : p1;
    for (int c = 0; c < C4; c += 4) {
      v128_t a = wasm_f32x4_splat(0.0f);
      for (int p = b0; p < b1; p++) {
        a = wasm_f32x4_add(a, act4(wasm_v128_load(x + (size_t)p * C + c), relu));
      }
      flush(out + c, a);
    }
    for (int c = C4; c < C; c++) {
      float a = 0.0f;
      for (int p = b0; p < b1; p++) a += act(x[(size_t)p * C + c], relu);
      out[c] += a;
    }
  }
}

/* out[c] = sum over p of (act(x[p, c]) - mean[c])^2. */
EXPORT(bn_sum_squares)
void bn_sum_squares(const float *x, int C, int relu, const float *mean, double *out, int p0,
                    int p1) {
  int C4 = C / 4 * 4;
  for (int c = 0; c < C; c++) out[c] = 0.0;
  for (int b0 = p0; b0 < p1; b0 += BLOCK) {
    int b1 = b0 + BLOCK < p1 ? b0 + BLOCK : p1;
    for (int c = 0; c < C4; c += 4) {
      v128_t m = wasm_v128_load(mean + c), a = wasm_f32x4_splat(0.0f);
      for (int p = b0; p < b1; p++) {
        v128_t d = wasm_f32x4_sub(act4(wasm_v128_load(x + (size_t)p * C + c), relu), m);
        a = wasm_f32x4_add(a, wasm_f32x4_mul(d, d));
      }
      flush(out + c, a);
    }
    for (int c = C4; c < C; c++) {
      float a = 0.0f;
      for (int p = b0; p < b1; p++) {
        float d = act(x[(size_t)p * C + c], relu) - mean[c];
        a += d * d;
      }
      out[c] += a;
    }
  }
}

/* y[p, c] = act(x[p, c]) * scale[c] + shift[c]. */
EXPORT(bn_apply)
void bn_apply(const float *x, int C, int relu, const float *scale, const float *shift, float *y,
              int p0, int p1) {
  int C4 = C / 4 * 4;
  for (int p = p0; p < p1; p++) {
    const float *row = x + (size_t)p * C;
    float *dst = y + (size_t)p * C;
    for (int c = 0; c < C4; c += 4) {
      v128_t v = act4(wasm_v128_load(row + c), relu);
      v = wasm_f32x4_add(wasm_f32x4_mul(v, wasm_v128_load(scale + c)), wasm_v128_load(shift + c));
      wasm_v128_store(dst + c, v);
    }
    for (int c = C4; c < C; c++) dst[c] = act(row[c], relu) * scale[c] + shift[c];
  }
}

/*
 * out[c] = sum over p of dy[p, c], and out[C + c] = sum over p of dy[p, c] * (act(x[p, c]) -
 * mean[c]): the two sums the gradient needs.
 */
EXPORT(bn_grad_sums)
void bn_grad_sums(const float *dy, const float *x, int C, int relu, const float *mean,
                  double *out, int p0, int p1) {
  int C4 = C / 4 * 4;
  for (int c = 0; c < 2 * C; c++) out[c] = 0.0;
  for (int b0 = p0; b0 < p1; b0 += BLOCK) {
    int b1 = b0 + BLOCK < p1 ? b0 + BLOCK : p1;
    for (int c = 0; c < C4; c += 4) {
      v128_t m = wasm_v128_load(mean + c);
      v128_t a = wasm_f32x4_splat(0.0f), b = a;
      for (int p = b0; p < b1; p++) {
        size_t at = (size_t)p * C + c;
        v128_t g = wasm_v128_load(dy + at);
        v128_t d = wasm_f32x4_sub(act4(wasm_v128_load(x + at), relu), m);
        a = wasm_f32x4_add(a, g);
        b = wasm_f32x4_add(b, wasm_f32x4_mul(g, d));
      }
      flush(out + c, a);
      flush(out + C + c, b);
    }
    for (int c = C4; c < C; c++) {
      float a = 0.0f, b = 0.0f;
      for (int p = b0; p < b1; p++) {
        size_t at = (size_t)p * C + c;
        a += dy[at];
        b += dy[at] * (act(x[at], relu) - mean[c]);
      }
      out[c] += a;
      out[C + c] += b;
    }
  }
}

/*
 * dx[p, c] = k1[c] * dy[p, c] - k2[c] * (act(x[p, c]) - mean[c]) - shift[c], times the ReLU's
 * mask (x > 0) with `relu`.
 */
EXPORT(bn_grad_apply)
void bn_grad_apply(const float *dy, const float *x, int C, int relu, const float *mean,
                   const float *k1, const float *k2, const float *shift, float *dx, int p0,
                   int p1) {
  int C4 = C / 4 * 4;
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int p = p0; p < p1; p++) {
    size_t row = (size_t)p * C;
    for (int c = 0; c < C4; c += 4) {
      v128_t v = wasm_v128_load(x + row + c);
      v128_t d = wasm_f32x4_sub(act4(v, relu), wasm_v128_load(mean + c));
      v128_t r = wasm_f32x4_mul(wasm_v128_load(k1 + c), wasm_v128_load(dy + row + c));
      r = wasm_f32x4_sub(r, wasm_f32x4_mul(wasm_v128_load(k2 + c), d));
      r = wasm_f32x4_sub(r, wasm_v128_load(shift + c));
      if (relu) r = wasm_v128_and(r, wasm_f32x4_gt(v, zero));
      wasm_v128_store(dx + row + c, r);
    }
    for (int c = C4; c < C; c++) {
      float v = k1[c] * dy[row + c] - k2[c] * (act(x[row + c], relu) - mean[c]) - shift[c];
      dx[row + c] = relu && !(x[row + c] > 0.0f) ? 0.0f : v;
    }
  }
}

/*
 * Pixels [p0, p1) of the gradient through a convolution's bias and ReLU: with relu,
 * g[p, f] = dy[p, f] where y[p, f] > 0, else 0 (without relu g is dy, and not written); and
 * out[f] = the sum over the pixels of g[p, f], this thread's part of the bias's gradient.
 */
EXPORT(relu_bias_grad)
void relu_bias_grad(const float *dy, const float *y, int F, int relu, float *g, double *out,
                    int p0, int p1) {
  int F4 = F / 4 * 4;
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int f = 0; f < F; f++) out[f] = 0.0;
  for (int b0 = p0; b0 < p1; b0 += BLOCK) {
    int b1 = b0 + BLOCK < p1 ? b0 + BLOCK : p1;
    for (int f = 0; f < F4; f += 4) {
      v128_t a = zero;
      for (int p = b0; p < b1; p++) {
        size_t at = (size_t)p * F + f;
        v128_t d = wasm_v128_load(dy + at);
        if (relu) {
          d = wasm_v128_and(d, wasm_f32x4_gt(wasm_v128_load(y + at), zero));
          wasm_v128_store(g + at, d);
        }
        a = wasm_f32x4_add(a, d);
      }
      flush(out + f, a);
    }
    for (int f = F4; f < F; f++) {
      float a = 0.0f;
      for (int p = b0; p < b1; p++) {
        size_t at = (size_t)p * F + f;
        float d = !relu || y[at] > 0.0f ? dy[at] : 0.0f;
        if (relu) g[at] = d;
        a += d;
      }
      out[f] += a;
    }
  }
}

/*
 * Images [n0, n1) of a global max pool over x [N, S, C] (S = height * width): y[n, c] = the
 * largest x[n, s, c], and at[n, c] = the first s where it is, as PyTorch's max pool sends the
 * gradient to the first maximum only.
 */
EXPORT(global_max_pool)
void global_max_pool(const float *x, int S, int C, float *y, int *at, int n0, int n1) {
  int C4 = C / 4 * 4;
  for (int n = n0; n < n1; n++) {
    const float *image = x + (size_t)n * S * C;
    for (int c = 0; c < C4; c += 4) {
      v128_t best = wasm_v128_load(image + c), where = wasm_i32x4_splat(0);
      for (int s = 1; s < S; s++) {
        v128_t v = wasm_v128_load(image + (size_t)s * C + c);
        v128_t more = wasm_f32x4_gt(v, best); /* strictly: ties keep the first */
        best = wasm_v128_bitselect(v, best, more);
        where = wasm_v128_bitselect(wasm_i32x4_splat(s), where, more);
      }
      wasm_v128_store(y + (size_t)n * C + c, best);
      wasm_v128_store(at + (size_t)n * C + c, where);
    }
    for (int c = C4; c < C; c++) {
      float best = image[c];
      int where = 0;
      for (int s = 1; s < S; s++) {
        if (image[(size_t)s * C + c] > best) best = image[(size_t)s * C + c], where = s;
      }
      y[(size_t)n * C + c] = best;
      at[(size_t)n * C + c] = where;
    }
  }
}

/* Images [n0, n1) of its gradient: dx [N, S, C] is dy[n, c] at s = at[n, c], else 0. */
EXPORT(global_max_pool_grad)
void global_max_pool_grad(const float *dy, const int *at, int S, int C, float *dx, int n0,
                          int n1) {
  __builtin_memset(dx + (size_t)n0 * S * C, 0, (size_t)(n1 - n0) * S * C * sizeof(float));
  for (int n = n0; n < n1; n++) {
    for (int c = 0; c < C; c++) {
      size_t i = (size_t)n * C + c;
      dx[((size_t)n * S + at[i]) * C + c] = dy[i];
    }
  }
}
