/*
 * Convolution kernels for the wasm backend: forward, filter gradient and input gradient of a
 * 2-D convolution, NHWC, float32, dilation 1, with WebAssembly SIMD (128-bit).
 *
 * The module imports the TensorFlow.js wasm backend's memory, so every pointer here is an
 * address in that backend's heap: tensors are read and written where they live, and scratch
 * space is allocated by the caller with the backend's malloc. The code keeps no state and uses
 * no static data and no stack memory (all locals live in wasm locals), so nothing of this
 * module is placed in the shared memory.
 *
 * Shapes (see struct conv):
 *   x   [N, H, W, C]     the input
 *   xp  [N, Hp, Wp, C]   the input with its zero padding in place (x itself if there is none)
 *   y   [N, OH, OW, F]   output pixel p = (n * OH + oy) * OW + ox reads the window at
 *                        xp[n, oy * sH .. oy * sH + kH, ox * sW .. ox * sW + kW, :]
 *   w   [kH, kW, C, F]   TensorFlow's filter layout
 *
 * For one kernel row ky the window's kW * C inputs are contiguous in xp, and so are the
 * matching kW * C rows of w. Every kernel below walks that run of K = kW * C numbers as one
 * axis, which makes all three a set of small matrix products over (pixel, K, F).
 *
 * The work is split by images [n0, n1), so that threads can each take a range: a thread pads,
 * zeroes and crops its own images, and writes nothing another thread reads.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))

/* Output channels are handled in tiles of 8, two vectors. */
#define TILE 8

typedef unsigned long size_t;

/* acc + a * b: one fused multiply-add with relaxed SIMD (built with -DRELAXED), else two. */
INLINE v128_t madd(v128_t acc, v128_t a, v128_t b) {
#ifdef RELAXED
  return (v128_t)__builtin_wasm_relaxed_madd_f32x4((__f32x4)a, (__f32x4)b, (__f32x4)acc);
#else
  return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b));
#endif
}

/*
 * A convolution's geometry, as the caller writes it into the heap (int32, in this order).
 * x [N, H, W, C] is the unpadded input; xp [N, Hp, Wp, C] holds it at (top, left).
 */
struct conv {
  int N, H, W, C, top, left, Hp, Wp, OH, OW, F, kH, kW, sH, sW;
};

/* Walks output pixels in order, keeping the offset of each one's window in xp. */
struct cursor {
  int oy, ox;
  size_t row, at; /* offsets in xp of the window's first row, and of the window */
};

INLINE struct cursor cursor_at(const struct conv *g, int n) {
  struct cursor c = {0, 0, (size_t)n * g->Hp * g->Wp * g->C, 0};
  c.at = c.row;
  return c;
}

INLINE void cursor_next(const struct conv *g, struct cursor *c) {
  if (++c->ox < g->OW) {
    c->at += (size_t)g->sW * g->C;
    return;
  }
  c->ox = 0;
  if (++c->oy < g->OH) {
    c->row += (size_t)g->sH * g->Wp * g->C;
  } else {
    /* Next image: its first row follows this image's last padded row. */
    c->oy = 0;
    c->row += ((size_t)(g->Hp - (g->OH - 1) * g->sH)) * g->Wp * g->C;
  }
  c->at = c->row;
}

/* Stores the first n (< 8) lanes of the pair (a, b) at dst. */
INLINE void store_partial(float *dst, v128_t a, v128_t b, int n) {
  if (n > 0) dst[0] = wasm_f32x4_extract_lane(a, 0);
  if (n > 1) dst[1] = wasm_f32x4_extract_lane(a, 1);
  if (n > 2) dst[2] = wasm_f32x4_extract_lane(a, 2);
  if (n > 3) dst[3] = wasm_f32x4_extract_lane(a, 3);
  if (n > 4) dst[4] = wasm_f32x4_extract_lane(b, 0);
  if (n > 5) dst[5] = wasm_f32x4_extract_lane(b, 1);
  if (n > 6) dst[6] = wasm_f32x4_extract_lane(b, 2);
}

/* Adds the first n (< 8) lanes of the pair (a, b) to dst. */
INLINE void add_partial(float *dst, v128_t a, v128_t b, int n) {
  if (n > 0) dst[0] += wasm_f32x4_extract_lane(a, 0);
  if (n > 1) dst[1] += wasm_f32x4_extract_lane(a, 1);
  if (n > 2) dst[2] += wasm_f32x4_extract_lane(a, 2);
  if (n > 3) dst[3] += wasm_f32x4_extract_lane(a, 3);
  if (n > 4) dst[4] += wasm_f32x4_extract_lane(b, 0);
  if (n > 5) dst[5] += wasm_f32x4_extract_lane(b, 1);
  if (n > 6) dst[6] += wasm_f32x4_extract_lane(b, 2);
}

INLINE void store_pair(float *dst, v128_t a, v128_t b, int n) {
  if (n >= TILE) {
    wasm_v128_store(dst, a);
    wasm_v128_store(dst + 4, b);
  } else {
    store_partial(dst, a, b, n);
  }
}

INLINE void add_pair(float *dst, v128_t a, v128_t b, int n) {
  if (n >= TILE) {
    wasm_v128_store(dst, wasm_f32x4_add(wasm_v128_load(dst), a));
    wasm_v128_store(dst + 4, wasm_f32x4_add(wasm_v128_load(dst + 4), b));
  } else {
    add_partial(dst, a, b, n);
  }
}

/* Images [n0, n1) of x copied into xp with zero borders; nothing if xp is x. */
INLINE void pad_images(const struct conv *g, const float *x, float *xp, int n0, int n1) {
  if (xp == x) return;
  size_t row = (size_t)g->W * g->C;
  size_t image = (size_t)g->Hp * g->Wp * g->C;
  __builtin_memset(xp + n0 * image, 0, (n1 - n0) * image * sizeof(float));
  for (int n = n0; n < n1; n++) {
    for (int i = 0; i < g->H; i++) {
      float *dst = xp + ((size_t)(n * g->Hp + i + g->top) * g->Wp + g->left) * g->C;
      __builtin_memcpy(dst, x + (size_t)(n * g->H + i) * row, row * sizeof(float));
    }
  }
}

/*
 * Repacks w [kH, K, F] (K = kW * C) for the forward kernel: packed [FT][kH][K][8], FT =
 * ceil(F / 8), zeros past F; then the bias (or zeros) as [FT * 8].
 */
EXPORT(pack_forward)
void pack_forward(const float *w, const float *bias, int kH, int K, int F, float *packed) {
  int FT = (F + TILE - 1) / TILE;
  for (int ft = 0; ft < FT; ft++) {
    for (int r = 0; r < kH * K; r++) {
      for (int j = 0; j < TILE; j++) {
        int f = ft * TILE + j;
        *packed++ = f < F ? w[(size_t)r * F + f] : 0.0f;
      }
    }
  }
  for (int f = 0; f < FT * TILE; f++) *packed++ = bias != 0 && f < F ? bias[f] : 0.0f;
}

/*
 * The filter gradient takes window rows four at a time. A window row of kW * C numbers that
 * is not a multiple of 4 leaves part of its last group empty, which for narrow rows (a first
 * layer on RGB: 3x3x3 gives three groups of four for nine numbers) wastes a quarter of the
 * work. Then each chunk of CHUNK pixels first has its windows copied out whole, kH * kW * C
 * numbers a row (im2col), into `cols` (this thread's scratch), and the kernel reads one long
 * row per window: 28 numbers rather than 3 x 12.
 */

/*
 * Pixels of a chunk. Every tile of acc walks the whole chunk once, reading 8 numbers of each
 * pixel's dy row and 4 of its window, so the chunk's rows should stay in the L1 cache from
 * one tile to the next: 64 pixels of 160 filters are 40 KB of dy. Measured on a Zen 4 core
 * (32 KB L1) on the lesson's layers: 64 pixels 15 to 25% faster than 256, and 32 slower.
 */
#define CHUNK 64

/* Numbers a row of cols: the whole window, padded to a multiple of 4. */
INLINE int cols_row(const struct conv *g) { return (g->kH * g->kW * g->C + 3) / 4 * 4; }

/* Whether im2col saves more than an eighth of the filter gradient's work. */
INLINE int is_narrow(const struct conv *g) {
  int grouped = g->kH * ((g->kW * g->C + 3) / 4 * 4);
  return grouped * 7 > cols_row(g) * 8;
}

/* Numbers of a thread's cols scratch: none unless the windows are narrow. */
EXPORT(cols_size)
int cols_size(const struct conv *g) { return is_narrow(g) ? CHUNK * cols_row(g) + 4 : 0; }

/* Pixels of a chunk: the numbers of a thread's offsets scratch for the filter gradient. */
EXPORT(chunk_pixels)
int chunk_pixels(void) { return CHUNK; }

/*
 * The windows of `count` pixels from cursor c, one row of cols each. Copied four numbers at a
 * time (memory.copy costs a call each, too much for runs this short): a copy may run up to
 * 3 numbers past its end, into the next run (written after it), the row's padding (zeroed
 * after it) or the next row (written after it). cols has 4 numbers of slack, xp 3 (SLACK).
 */
INLINE void fill_cols(const struct conv *g, const float *xp, struct cursor *c, int count,
                      float *cols) {
  int K = g->kW * g->C, row = cols_row(g);
  size_t rowStep = (size_t)g->Wp * g->C;
  for (int i = 0; i < count; i++, cursor_next(g, c)) {
    float *dst = cols + (size_t)i * row;
    for (int ky = 0; ky < g->kH; ky++) {
      const float *src = xp + c->at + ky * rowStep;
      float *to = dst + ky * K;
      for (int t = 0; t < K; t += 4) wasm_v128_store(to + t, wasm_v128_load(src + t));
    }
    for (int t = g->kH * K; t < row; t++) dst[t] = 0.0f;
  }
}

/*
 * One tile of the forward pass: out[i, f] for the np (<= 4) windows at x0..x3, each kH rows
 * of K numbers rowStep apart, and the packed filters.
 */
INLINE void forward_tile(const float *x0, const float *x1, const float *x2, const float *x3,
                         int kH, int K, size_t rowStep, const float *packed, int FT,
                         const float *bias, int F, int relu, float *out, int np) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int ft = 0; ft < FT; ft++) {
    const float *w = packed + (size_t)ft * kH * K * TILE;
    v128_t b0 = wasm_v128_load(bias + ft * TILE), b1 = wasm_v128_load(bias + ft * TILE + 4);
    v128_t a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    for (int ky = 0; ky < kH; ky++) {
      const float *r0 = x0 + ky * rowStep, *r1 = x1 + ky * rowStep;
      const float *r2 = x2 + ky * rowStep, *r3 = x3 + ky * rowStep;
      for (int t = 0; t < K; t++) {
        v128_t w0 = wasm_v128_load(w), w1 = wasm_v128_load(w + 4);
        w += TILE;
        v128_t s = wasm_v128_load32_splat(r0 + t);
        a00 = madd(a00, s, w0);
        a01 = madd(a01, s, w1);
        s = wasm_v128_load32_splat(r1 + t);
        a10 = madd(a10, s, w0);
        a11 = madd(a11, s, w1);
        s = wasm_v128_load32_splat(r2 + t);
        a20 = madd(a20, s, w0);
        a21 = madd(a21, s, w1);
        s = wasm_v128_load32_splat(r3 + t);
        a30 = madd(a30, s, w0);
        a31 = madd(a31, s, w1);
      }
    }
    if (relu) {
      a00 = wasm_f32x4_max(a00, zero), a01 = wasm_f32x4_max(a01, zero);
      a10 = wasm_f32x4_max(a10, zero), a11 = wasm_f32x4_max(a11, zero);
      a20 = wasm_f32x4_max(a20, zero), a21 = wasm_f32x4_max(a21, zero);
      a30 = wasm_f32x4_max(a30, zero), a31 = wasm_f32x4_max(a31, zero);
    }
    int n = F - ft * TILE;
    float *o = out + ft * TILE;
    store_pair(o, a00, a01, n);
    if (np > 1) store_pair(o + F, a10, a11, n);
    if (np > 2) store_pair(o + 2 * F, a20, a21, n);
    if (np > 3) store_pair(o + 3 * F, a30, a31, n);
  }
}

/*
 * Images [n0, n1) of the forward pass: pads x into xp, then
 * y[p, f] = bias[f] + sum over ky, t of xp[window(p) + ky * Wp * C + t] * w[ky, t, f],
 * and max(y, 0) if relu. Four pixels by eight filters at a time.
 */
EXPORT(conv_forward)
void conv_forward(const struct conv *g, const float *x, float *xp, const float *packed,
                  int relu, float *y, int n0, int n1) {
  pad_images(g, x, xp, n0, n1);
  int K = g->kW * g->C, F = g->F, kH = g->kH;
  int FT = (F + TILE - 1) / TILE;
  size_t rowStep = (size_t)g->Wp * g->C;
  const float *bias = packed + (size_t)FT * kH * K * TILE;
  int p1 = n1 * g->OH * g->OW;
  struct cursor c = cursor_at(g, n0);
  for (int p = n0 * g->OH * g->OW; p < p1; p += 4) {
    int np = p1 - p < 4 ? p1 - p : 4;
    /* Past the range's end, repeat its last pixel: computed, never stored. */
    const float *x0 = xp + c.at, *x1 = x0, *x2 = x0, *x3 = x0;
    if (np > 1) cursor_next(g, &c), x1 = x2 = x3 = xp + c.at;
    if (np > 2) cursor_next(g, &c), x2 = x3 = xp + c.at;
    if (np > 3) cursor_next(g, &c), x3 = xp + c.at;
    cursor_next(g, &c);
    float *out = y + (size_t)p * F;
    forward_tile(x0, x1, x2, x3, kH, K, rowStep, packed, FT, bias, F, relu, out, np);
  }
}

/* F rounded up to whole tiles of 8: the columns of the filter gradient's accumulator. */
INLINE int padded_filters(const struct conv *g) { return (g->F + TILE - 1) / TILE * TILE; }

/* Rows of the filter gradient's accumulator: kH groups of KP, or one of cols_row if narrow. */
INLINE int acc_groups(const struct conv *g) { return is_narrow(g) ? 1 : g->kH; }
INLINE int acc_group_rows(const struct conv *g) {
  return is_narrow(g) ? cols_row(g) : (g->kW * g->C + 3) / 4 * 4;
}

/* Numbers of a thread's accumulator for the filter gradient. */
EXPORT(filter_acc_size)
int filter_acc_size(const struct conv *g) {
  return acc_groups(g) * acc_group_rows(g) * padded_filters(g);
}

/*
 * How many of dy's last pixels the filter gradient reads from its `tail` scratch rather than
 * in place: those whose eight-filter reads would run past dy's end, ceil((FP - F) / F) of
 * them (none if F is a multiple of 8), and at most all pixels.
 */
EXPORT(filter_tail_pixels)
int filter_tail_pixels(const struct conv *g) {
  int F = g->F, FP = padded_filters(g), P = g->N * g->OH * g->OW;
  int m = (FP - F + F - 1) / F;
  return m < P ? m : P;
}

/* Numbers of the filter gradient's `tail` scratch: the tail pixels' rows, then FP - F zeros. */
EXPORT(filter_tail_size)
int filter_tail_size(const struct conv *g) {
  return filter_tail_pixels(g) * g->F + padded_filters(g) - g->F;
}

/* Fills `tail` (filter_tail_size numbers) from dy, before conv_filter_grad runs on any thread. */
EXPORT(fill_filter_tail)
void fill_filter_tail(const struct conv *g, const float *dy, float *tail) {
  size_t rows = (size_t)filter_tail_pixels(g) * g->F;
  const float *from = dy + (size_t)g->N * g->OH * g->OW * g->F - rows;
  int size = filter_tail_size(g);
  for (int i = 0; i < size; i++) tail[i] = (size_t)i < rows ? from[i] : 0.0f;
}

/*
 * One tile of the filter gradient: four window rows by eight filters of acc at a (rows FP
 * apart), plus the sum over `count` pixels of x[offsets[i] + 0..3] * d[i * F + 0..7], where
 * xk is the window row's start and d the tile's first filter in the first pixel's dy row.
 */
INLINE void filter_grad_tile(const float *xk, const int *offsets, const float *d, int F,
                             int count, float *a, int FP) {
  v128_t a00 = wasm_v128_load(a), a01 = wasm_v128_load(a + 4);
  v128_t a10 = wasm_v128_load(a + FP), a11 = wasm_v128_load(a + FP + 4);
  v128_t a20 = wasm_v128_load(a + 2 * FP), a21 = wasm_v128_load(a + 2 * FP + 4);
  v128_t a30 = wasm_v128_load(a + 3 * FP), a31 = wasm_v128_load(a + 3 * FP + 4);
  for (int i = 0; i < count; i++) {
    const float *xs = xk + offsets[i];
    v128_t d0 = wasm_v128_load(d), d1 = wasm_v128_load(d + 4);
    d += F;
    v128_t s = wasm_v128_load32_splat(xs);
    a00 = madd(a00, s, d0);
    a01 = madd(a01, s, d1);
    s = wasm_v128_load32_splat(xs + 1);
    a10 = madd(a10, s, d0);
    a11 = madd(a11, s, d1);
    s = wasm_v128_load32_splat(xs + 2);
    a20 = madd(a20, s, d0);
    a21 = madd(a21, s, d1);
    s = wasm_v128_load32_splat(xs + 3);
    a30 = madd(a30, s, d0);
    a31 = madd(a31, s, d1);
  }
  wasm_v128_store(a, a00), wasm_v128_store(a + 4, a01);
  wasm_v128_store(a + FP, a10), wasm_v128_store(a + FP + 4, a11);
  wasm_v128_store(a + 2 * FP, a20), wasm_v128_store(a + 2 * FP + 4, a21);
  wasm_v128_store(a + 3 * FP, a30), wasm_v128_store(a + 3 * FP + 4, a31);
}

/*
 * Images [n0, n1) of the filter gradient, into this thread's accumulator acc [groups,
 * groupRows, FP] (see acc_groups; F padded to FP = ceil(F / 8) * 8), which it zeroes first:
 *   acc[ky, t, f] = sum over p of xp[window(p) + ky * Wp * C + t] * dy[p, f].
 * Pads x into xp. Each chunk of CHUNK pixels stays in cache while every tile of acc is
 * updated: `offsets` is this thread's scratch for a chunk's window offsets, `cols` for its
 * windows if narrow. Four window rows by eight filters at a time; rows past K read the next
 * inputs (xp needs 3 numbers of slack) and land in acc's padding.
 *
 * dy is read in place, eight filters at a time, also where F is not a multiple of 8: the
 * numbers past a pixel's F are the next pixels', and they land in acc's padding columns. The
 * tensor's last pixels (filter_tail_pixels) would read past dy's end: their rows are read from
 * `tail` instead, which the caller fills first with fill_filter_tail.
 */
EXPORT(conv_filter_grad)
void conv_filter_grad(const struct conv *g, const float *x, float *xp, const float *dy,
                      const float *tail, float *acc, int *offsets, float *cols, int n0, int n1) {
  pad_images(g, x, xp, n0, n1);
  int F = g->F, FP = padded_filters(g);
  int p0 = n0 * g->OH * g->OW, p1 = n1 * g->OH * g->OW;
  int firstTail = g->N * g->OH * g->OW - filter_tail_pixels(g);
  int narrow = is_narrow(g);
  int groups = acc_groups(g), rows = acc_group_rows(g);
  /* Window rows: kH of K (kW * C numbers, rowStep apart in xp), or one whole window. */
  int K = narrow ? cols_row(g) : g->kW * g->C;
  size_t rowStep = narrow ? 0 : (size_t)g->Wp * g->C;
  const float *base = narrow ? cols : xp;
  __builtin_memset(acc, 0, (size_t)groups * rows * FP * sizeof(float));
  struct cursor c = cursor_at(g, n0);
  for (int c0 = p0; c0 < p1; c0 += CHUNK) {
    int c1 = c0 + CHUNK < p1 ? c0 + CHUNK : p1;
    if (narrow) {
      fill_cols(g, xp, &c, c1 - c0, cols);
      for (int p = c0; p < c1; p++) offsets[p - c0] = (p - c0) * K;
    } else {
      for (int p = c0; p < c1; p++) offsets[p - c0] = (int)c.at, cursor_next(g, &c);
    }
    /* The chunk's pixels read from dy in place: those before the tail. */
    int inPlace = firstTail - c0 < c1 - c0 ? firstTail - c0 : c1 - c0;
    if (inPlace < 0) inPlace = 0;
    const float *tailRows = tail + (size_t)(c0 + inPlace - firstTail) * F;
    for (int ky = 0; ky < groups; ky++) {
      for (int t = 0; t < K; t += 4) {
        const float *xk = base + ky * rowStep + t;
        for (int f = 0; f < FP; f += TILE) {
          float *a = acc + ((size_t)ky * rows + t) * FP + f;
          filter_grad_tile(xk, offsets, dy + (size_t)c0 * F + f, F, inPlace, a, FP);
          if (inPlace < c1 - c0) {
            filter_grad_tile(xk, offsets + inPlace, tailRows + f, F, c1 - c0 - inPlace, a, FP);
          }
        }
      }
    }
  }
}

/*
 * dw [kH, kW, C, F] = the sum of `parts` accumulators laid out one after another (see
 * conv_filter_grad), without their padding.
 */
EXPORT(sum_filter_grads)
void sum_filter_grads(const struct conv *g, const float *acc, int parts, float *dw) {
  int F = g->F, FP = padded_filters(g);
  int groups = acc_groups(g), rows = acc_group_rows(g);
  int K = g->kH * g->kW * g->C / groups; /* real rows a group */
  size_t part = (size_t)groups * rows * FP;
  for (int ky = 0; ky < groups; ky++) {
    for (int t = 0; t < K; t++) {
      for (int f = 0; f < F; f++) {
        size_t at = ((size_t)ky * rows + t) * FP + f;
        float s = acc[at];
        for (int i = 1; i < parts; i++) s += acc[at + i * part];
        *dw++ = s;
      }
    }
  }
}

/*
 * Repacks w [kH, K, F] for the input gradient: packed [kH][KT][F][8], KT = ceil(K / 8), the
 * eight (ky, t) rows of a tile side by side for each filter f, zeros past K.
 */
EXPORT(pack_input_grad)
void pack_input_grad(const float *w, int kH, int K, int F, float *packed) {
  int KT = (K + TILE - 1) / TILE;
  for (int ky = 0; ky < kH; ky++) {
    for (int kt = 0; kt < KT; kt++) {
      for (int f = 0; f < F; f++) {
        for (int j = 0; j < TILE; j++) {
          int t = kt * TILE + j;
          *packed++ = t < K ? w[((size_t)ky * K + t) * F + f] : 0.0f;
        }
      }
    }
  }
}

/*
 * Images [n0, n1) of the input gradient: zeroes them in dxp, scatters
 *   dxp[window(p) + ky * Wp * C + t] += sum over f of dy[p, f] * w[ky, t, f],
 * then crops dxp into dx [N, H, W, C] (nothing if dxp is dx). Four pixels by eight (ky, t)
 * rows at a time. A thread must own whole images: windows within an image overlap.
 */
EXPORT(conv_input_grad)
void conv_input_grad(const struct conv *g, const float *dy, const float *packed, float *dxp,
                     float *dx, int n0, int n1) {
  int K = g->kW * g->C, F = g->F, kH = g->kH;
  int KT = (K + TILE - 1) / TILE;
  size_t rowStep = (size_t)g->Wp * g->C;
  size_t image = (size_t)g->Hp * rowStep;
  __builtin_memset(dxp + n0 * image, 0, (n1 - n0) * image * sizeof(float));
  int p1 = n1 * g->OH * g->OW;
  struct cursor c = cursor_at(g, n0);
  for (int p = n0 * g->OH * g->OW; p < p1; p += 4) {
    int np = p1 - p < 4 ? p1 - p : 4;
    float *x0 = dxp + c.at, *x1 = x0, *x2 = x0, *x3 = x0;
    if (np > 1) cursor_next(g, &c), x1 = x2 = x3 = dxp + c.at;
    if (np > 2) cursor_next(g, &c), x2 = x3 = dxp + c.at;
    if (np > 3) cursor_next(g, &c), x3 = dxp + c.at;
    cursor_next(g, &c);
    const float *d0 = dy + (size_t)p * F;
    const float *d1 = np > 1 ? d0 + F : d0, *d2 = np > 2 ? d0 + 2 * F : d0;
    const float *d3 = np > 3 ? d0 + 3 * F : d0;
    const float *w = packed;
    for (int ky = 0; ky < kH; ky++) {
      for (int kt = 0; kt < KT; kt++) {
        v128_t a00 = wasm_f32x4_splat(0.0f), a01 = a00, a10 = a00, a11 = a00;
        v128_t a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int f = 0; f < F; f++) {
          v128_t w0 = wasm_v128_load(w), w1 = wasm_v128_load(w + 4);
          w += TILE;
          v128_t s = wasm_v128_load32_splat(d0 + f);
          a00 = madd(a00, s, w0);
          a01 = madd(a01, s, w1);
          s = wasm_v128_load32_splat(d1 + f);
          a10 = madd(a10, s, w0);
          a11 = madd(a11, s, w1);
          s = wasm_v128_load32_splat(d2 + f);
          a20 = madd(a20, s, w0);
          a21 = madd(a21, s, w1);
          s = wasm_v128_load32_splat(d3 + f);
          a30 = madd(a30, s, w0);
          a31 = madd(a31, s, w1);
        }
        size_t at = ky * rowStep + kt * TILE;
        int n = K - kt * TILE;
        add_pair(x0 + at, a00, a01, n);
        if (np > 1) add_pair(x1 + at, a10, a11, n);
        if (np > 2) add_pair(x2 + at, a20, a21, n);
        if (np > 3) add_pair(x3 + at, a30, a31, n);
      }
    }
  }
  if (dxp == dx) return;
  size_t row = (size_t)g->W * g->C;
  for (int n = n0; n < n1; n++) {
    for (int i = 0; i < g->H; i++) {
      const float *src = dxp + ((size_t)(n * g->Hp + i + g->top) * g->Wp + g->left) * g->C;
      __builtin_memcpy(dx + (size_t)(n * g->H + i) * row, src, row * sizeof(float));
    }
  }
}

