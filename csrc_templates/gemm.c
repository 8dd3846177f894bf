/* symgrad's own GEMM for CPUs with AVX-512, used by blas.c's products in place of the CBLAS
 * call when the CBLAS in use runs narrower kernels than the CPU has (NumPy's OpenBLAS pinned
 * to OPENBLAS_CORETYPE=Haswell on an AVX-512 machine, say: half the machine's FLOPs). It is
 * one small library built once per machine into the compile cache (symgrad/compile/
 * own_gemm.py); each kernel library gets its two entry points by address (kernel.h,
 * sg_set_own_gemm), so no function's compile pays for it.
 *
 * Goto/BLIS blocking: for each KC x NC panel of op(B), packed into NR-wide strips, each
 * MC-row block of op(A) is packed into MR-tall strips, and the MR x NR micro-kernel runs over
 * the panel (MR x NR accumulators in registers, one FMA per element of the tile per k).
 * Threads split C along its longer side and each runs that blocking on its part. Packing pads edges with zeros, so the micro-kernel always computes a full
 * tile; edge tiles are written back element by element. Packed buffers are per thread and
 * kept between calls (a fresh multi-megabyte buffer per call costs its page faults).
 *
 * C = alpha * op(A) @ op(B) + beta * Cin, C row-major with leading dimension ldc; op(A)(i, p)
 * is a[p * lda + i] when ta, else a[i * lda + p] (op(B) alike). Cin is C itself when `cin` is
 * NULL, else cin[i * crs + j * ccs] (element strides, 0 to broadcast: Gemm's bias row, added
 * as the first K block is written instead of in a pass of its own). beta == 0: Cin is not
 * read (it may hold anything, NaN included), as BLAS specifies. Returns 0, or 1 when it did nothing (no
 * memory for its buffers, or no AVX-512 in this build): the caller then uses CBLAS. */

/* section: gemm */
#include <stdint.h>
#include <stdlib.h>

#if defined(__AVX512F__)
#include <immintrin.h>

enum { SG_GEMM_MR = 8, SG_GEMM_VECS = 3 }; /* an 8 x (3 vectors) tile: 24 accumulators of 32 */

/* The library is built at -O2 (own_gemm.py: the micro-kernel is as fast, and gcc takes 0.34 s
 * instead of 0.40); packing a transposed operand is 25% slower unless gcc vectorizes it at -O3. */
#if defined(__GNUC__) && !defined(__clang__)
#define SG_GEMM_PACK_OPT __attribute__((optimize("O3")))
#else
#define SG_GEMM_PACK_OPT
#endif

static void *sg_gemm_buffer(int which, size_t bytes)
{
    static __thread void *held[3];
    static __thread size_t have[3];
    if (have[which] >= bytes) return held[which];
    free(held[which]);
    held[which] = aligned_alloc(64, (bytes + 63) / 64 * 64);
    have[which] = held[which] ? bytes : 0;
    return held[which];
}

#define SG_DEFINE_GEMM(NAME, T, V, W, LOAD, STORE, LOADU, SET1, FMADD, MUL, ADD, KC, MC, NC)         \
    enum { NAME##_NR = SG_GEMM_VECS * W };                                                          \
    static void NAME##_micro(int64_t kc, const T *restrict a, const T *restrict b, T *c, int64_t ldc, \
                             T alpha, T beta, const T *cin, int64_t crs, int64_t ccs, int64_t mr,   \
                             int64_t nr)                                                            \
    {                                                                                               \
        V acc[SG_GEMM_MR][SG_GEMM_VECS];                                                            \
        _Pragma("GCC unroll 8") for (int i = 0; i < SG_GEMM_MR; i++)                                \
            _Pragma("GCC unroll 3") for (int v = 0; v < SG_GEMM_VECS; v++) acc[i][v] = SET1(0);    \
        for (int64_t p = 0; p < kc; p++) {                                                          \
            const V b0 = LOAD(b), b1 = LOAD(b + W), b2 = LOAD(b + 2 * W);                          \
            _Pragma("GCC unroll 8") for (int i = 0; i < SG_GEMM_MR; i++) {                          \
                const V ai = SET1(a[i]);                                                            \
                acc[i][0] = FMADD(ai, b0, acc[i][0]);                                               \
                acc[i][1] = FMADD(ai, b1, acc[i][1]);                                               \
                acc[i][2] = FMADD(ai, b2, acc[i][2]);                                               \
            }                                                                                       \
            a += SG_GEMM_MR;                                                                        \
            b += NAME##_NR;                                                                         \
        }                                                                                           \
        /* C = alpha * AB + beta * Cin, where Cin is `cin` (strides crs, ccs) or C itself */ \
        if (!cin) cin = c, crs = ldc, ccs = 1;                                                      \
        const V va = SET1(alpha), vb = SET1(beta);                                                  \
        if (mr == SG_GEMM_MR && nr == NAME##_NR && (ccs == 1 || beta == 0)) {                       \
            _Pragma("GCC unroll 8") for (int i = 0; i < SG_GEMM_MR; i++)                            \
                _Pragma("GCC unroll 3") for (int v = 0; v < SG_GEMM_VECS; v++) {                    \
                    const V ab = MUL(va, acc[i][v]);                                                \
                    STORE(c + i * ldc + v * W,                                                      \
                          beta == 0 ? ab : ADD(ab, MUL(vb, LOADU(cin + i * crs + v * W))));         \
                }                                                                                   \
            return;                                                                                 \
        }                                                                                           \
        _Alignas(64) T tile[SG_GEMM_MR][NAME##_NR];                                                 \
        for (int i = 0; i < SG_GEMM_MR; i++)                                                        \
            for (int v = 0; v < SG_GEMM_VECS; v++) STORE(tile[i] + v * W, acc[i][v]);              \
        for (int64_t i = 0; i < mr; i++)                                                            \
            for (int64_t j = 0; j < nr; j++) {                                                      \
                const T ab = alpha * tile[i][j];                                                    \
                c[i * ldc + j] = beta == 0 ? ab : ab + beta * cin[i * crs + j * ccs];               \
            }                                                                                       \
    }                                                                                               \
    /* op(A)[i0:i0+mc, p0:p0+kc] as MR-tall strips, zero-padded: strip s holds (p, i) at        \
     * s * MR * kc + p * MR + i. */                                                                 \
    SG_GEMM_PACK_OPT static void NAME##_pack_a(const T *a, int ta, int64_t lda, int64_t i0, int64_t mc, int64_t p0,  \
                              int64_t kc, T *restrict out)                                          \
    {                                                                                               \
        for (int64_t s = 0; s < mc; s += SG_GEMM_MR, out += SG_GEMM_MR * kc) {                      \
            const int64_t rows = mc - s < SG_GEMM_MR ? mc - s : SG_GEMM_MR;                         \
            for (int64_t p = 0; p < kc; p++)                                                        \
                for (int64_t i = 0; i < SG_GEMM_MR; i++) {                                          \
                    const int64_t r = i0 + s + i, q = p0 + p;                                       \
                    out[p * SG_GEMM_MR + i] = i < rows ? (ta ? a[q * lda + r] : a[r * lda + q]) : 0; \
                }                                                                                   \
        }                                                                                           \
    }                                                                                               \
    /* op(B)[p0:p0+kc, j0+s0:j0+s1] (s0, s1 multiples of NR) as NR-wide strips, zero-padded:    \
     * the strip at column offset s holds (p, j) at s * kc + p * NR + j. */                         \
    SG_GEMM_PACK_OPT static void NAME##_pack_b(const T *b, int tb, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,  \
                              int64_t nc, int64_t s0, int64_t s1, T *restrict out)                  \
    {                                                                                               \
        for (int64_t s = s0; s < s1 && s < nc; s += NAME##_NR) {                                    \
            T *strip = out + s * kc;                                                                \
            const int64_t cols = nc - s < NAME##_NR ? nc - s : NAME##_NR;                           \
            for (int64_t p = 0; p < kc; p++)                                                        \
                for (int64_t j = 0; j < NAME##_NR; j++) {                                           \
                    const int64_t q = p0 + p, col = j0 + s + j;                                     \
                    strip[p * NAME##_NR + j] = j < cols ? (tb ? b[col * ldb + q] : b[q * ldb + col]) : 0; \
                }                                                                                   \
        }                                                                                           \
    }                                                                                               \
    /* One thread's product, with its own packed buffers. */                                     \
    static int64_t NAME##_serial(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int ta,     \
                                 int64_t lda, const T *b, int tb, int64_t ldb, T beta, T *c,        \
                                 int64_t ldc, const T *cin, int64_t crs, int64_t ccs)               \
    {                                                                                               \
        const int64_t nc_max = n < NC ? (n + NAME##_NR - 1) / NAME##_NR * NAME##_NR : NC;          \
        const int64_t kc_max = k < KC ? k : KC, mc_max = m < MC ? m : MC;                           \
        T *bp = sg_gemm_buffer(0, (size_t)kc_max * nc_max * sizeof(T));                             \
        T *ap = sg_gemm_buffer(1, (size_t)(mc_max + SG_GEMM_MR) * kc_max * sizeof(T));              \
        if (!bp || !ap) return 1;                                                        \
        for (int64_t j0 = 0; j0 < n; j0 += NC) {                                                    \
            const int64_t nc = n - j0 < NC ? n - j0 : NC;                                           \
            for (int64_t p0 = 0; p0 < k; p0 += KC) {                                                \
                const int64_t kc = k - p0 < KC ? k - p0 : KC;                                       \
                const T beta_block = p0 ? (T)1 : beta;                                              \
                NAME##_pack_b(b, tb, ldb, p0, kc, j0, nc, 0, nc, bp);                               \
                for (int64_t i0 = 0; i0 < m; i0 += MC) {                                            \
                    const int64_t rows = m - i0 < MC ? m - i0 : MC;                                 \
                    NAME##_pack_a(a, ta, lda, i0, rows, p0, kc, ap);                                \
                    for (int64_t s = 0; s < nc; s += NAME##_NR) {                                   \
                        const int64_t nr = nc - s < NAME##_NR ? nc - s : NAME##_NR;                 \
                        for (int64_t r = 0; r < rows; r += SG_GEMM_MR) {                            \
                            const int64_t mr = rows - r < SG_GEMM_MR ? rows - r : SG_GEMM_MR;       \
                            const int64_t row = i0 + r, col = j0 + s;                          \
                            NAME##_micro(kc, ap + r * kc, bp + s * kc, c + row * ldc + col, ldc,    \
                                         alpha, beta_block, p0 || !cin ? NULL : cin + row * crs + col * ccs, \
                                         crs, ccs, mr, nr);                                         \
                        }                                                                           \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        return 0;                                                                                   \
    }                                                                                               \
    /* `threads` independent products: C split along its longer side (each thread packs all of  \
     * the smaller operand and its own part of the other), no barrier, no shared buffer. A deep \
     * product (K at least 256 and twice C's longer side: a weight gradient X.T @ G) is split    \
     * into two K halves instead, the second into a scratch C added at the end, so that neither \
     * half packs the other's operands. The choice depends on the shape alone: the same bits  \
     * on any thread count. */                                                                  \
    static int64_t NAME(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int ta, int64_t lda, \
                        const T *b, int tb, int64_t ldb, T beta, T *c, int64_t ldc, int threads,    \
                        const T *cin, int64_t crs, int64_t ccs)                                    \
    {                                                                                               \
        if (k >= 256 && k >= 2 * (m > n ? m : n)) {                                                 \
            const int64_t k0 = k / 2;                                                               \
            T *tmp = sg_gemm_buffer(2, (size_t)m * n * sizeof(T));                                  \
            if (!tmp) return 1;                                                                     \
            const T *a1 = ta ? a + k0 * lda : a + k0, *b1 = tb ? b + k0 : b + k0 * ldb;             \
            int64_t failed = 0;                                                                     \
            _Pragma("omp parallel for num_threads(threads < 2 ? 1 : 2) schedule(static) reduction(|:failed)") \
            for (int half = 0; half < 2; half++)                                                    \
                failed |= half == 0                                                                 \
                              ? NAME##_serial(m, n, k0, alpha, a, ta, lda, b, tb, ldb, beta, c, ldc, cin, \
                                              crs, ccs)                                             \
                              : NAME##_serial(m, n, k - k0, alpha, a1, ta, lda, b1, tb, ldb, 0, tmp, n, \
                                              NULL, 0, 0);                                          \
            if (failed) return 1;                                                                   \
            for (int64_t i = 0; i < m; i++)                                                         \
                for (int64_t j = 0; j < n; j++) c[i * ldc + j] += tmp[i * n + j];                   \
            return 0;                                                                               \
        }                                                                                           \
        const int by_rows = m >= n;                                                                 \
        const int64_t unit = by_rows ? SG_GEMM_MR : NAME##_NR, len = by_rows ? m : n;               \
        const int64_t units = (len + unit - 1) / unit;                                              \
        if (threads > units) threads = (int)units;                                                  \
        if (threads <= 1)                                                                           \
            return NAME##_serial(m, n, k, alpha, a, ta, lda, b, tb, ldb, beta, c, ldc, cin, crs, ccs); \
        int64_t failed = 0;                                                                         \
        _Pragma("omp parallel for num_threads(threads) schedule(static) reduction(|:failed)")       \
        for (int t = 0; t < threads; t++) {                                                         \
            const int64_t from = units * t / threads * unit, to = units * (t + 1) / threads * unit; \
            const int64_t part = (to < len ? to : len) - from;                                      \
            if (part <= 0) continue;                                                                \
            if (by_rows)                                                                            \
                failed |= NAME##_serial(part, n, k, alpha, ta ? a + from : a + from * lda, ta, lda, \
                                        b, tb, ldb, beta, c + from * ldc, ldc,                      \
                                        cin ? cin + from * crs : NULL, crs, ccs);                   \
            else                                                                                    \
                failed |= NAME##_serial(m, part, k, alpha, a, ta, lda, tb ? b + from * ldb : b + from, \
                                        tb, ldb, beta, c + from, ldc, cin ? cin + from * ccs : NULL, \
                                        crs, ccs);                                                  \
        }                                                                                           \
        return failed ? 1 : 0;                                                           \
    }

int sg_gemm_available(void) { return 1; }
#define SG_GEMM_CALL(OWN) OWN(m, n, k, alpha, a, ta, lda, b, tb, ldb, beta, c, ldc, threads, cin, crs, ccs)
#else
int sg_gemm_available(void) { return 0; }
#define SG_GEMM_CALL(OWN) 1
#endif

/* An exported entry point, with the signature of kernel.h's sg_dgemm_fn / sg_sgemm_fn. */
#define SG_GEMM_ENTRY(NAME, T, OWN)                                                                 \
    int64_t NAME(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int ta, int64_t lda, const T *b, \
                 int tb, int64_t ldb, T beta, T *c, int64_t ldc, int threads, const T *cin,         \
                 int64_t crs, int64_t ccs)                                                          \
    {                                                                                               \
        return SG_GEMM_CALL(OWN);                                                                   \
    }
/* endsection */

/* One library per dtype that a function's products use (the float64 and float32 kernels
 * each take gcc about 0.1 s). */

/* section: gemm_float64 */
#if defined(__AVX512F__)
#define SG_DLOADU(p) _mm512_loadu_pd(p)
SG_DEFINE_GEMM(sg_own_dgemm, double, __m512d, 8, _mm512_load_pd, _mm512_storeu_pd, SG_DLOADU, _mm512_set1_pd,
               _mm512_fmadd_pd, _mm512_mul_pd, _mm512_add_pd, 256, 128, 3072)
#endif
SG_GEMM_ENTRY(sg_gemm_float64, double, sg_own_dgemm)
/* endsection */

/* section: gemm_float32 */
#if defined(__AVX512F__)
#define SG_SLOADU(p) _mm512_loadu_ps(p)
SG_DEFINE_GEMM(sg_own_sgemm, float, __m512, 16, _mm512_load_ps, _mm512_storeu_ps, SG_SLOADU, _mm512_set1_ps,
               _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, 384, 128, 4608)
#endif
SG_GEMM_ENTRY(sg_gemm_float32, float, sg_own_sgemm)
/* endsection */
