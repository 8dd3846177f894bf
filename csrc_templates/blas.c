/* blas.c: matrix products. Filled in by symgrad/codegen/blas_c.py.
 *
 * Float products (MatMul and Gemm in float32/float64) call CBLAS: NumPy's own OpenBLAS when
 * NumPy has one (one BLAS thread pool in the process; its symbols are `scipy_cblas_dgemm64_`
 * with 64-bit integers in NumPy 2 wheels), else the scipy-openblas32 wheel (`scipy_cblas_dgemm`,
 * 32-bit integers). The `blas` section declares the few functions used itself, with the
 * library's names and integer type (NumPy's wheel ships no cblas.h).
 * BLAS reads a row-major matrix with a leading dimension and a transpose flag, so a C-ordered
 * or transposed (Fortran-ordered) operand, or a slice of one, is passed in place; only an
 * operand whose strides fit neither (negative, zero on a long axis, no unit stride) or whose
 * dtype differs from the result's is copied. A product with one row or one column goes to
 * GEMV (3-5x faster than GEMM there), one of a single element to DOT. With 32-bit BLAS
 * integers, lengths and leading dimensions over `max` (2**31 - 1) are split into blocks that
 * fit, never truncated; with 64-bit ones `max` is INT64_MAX and no split happens.
 *
 * Integer and bool products are loops with NumPy's semantics: integers wrap (the arithmetic
 * is done in an unsigned type), bool is an OR of ANDs.
 */

/* section: common */
/* Batch offsets (bytes) of batch element t of the three operands (C order over `shape`). */
static inline void sg_batch_offsets(int64_t t, int64_t nbatch, const int64_t *shape, const int64_t *sa,
                                    const int64_t *sb, const int64_t *so, int64_t *oa, int64_t *ob,
                                    int64_t *oo)
{
    *oa = *ob = *oo = 0;
    for (int64_t d = nbatch - 1; d >= 0; d--) {
        const int64_t i = t % shape[d];
        t /= shape[d];
        *oa += i * sa[d], *ob += i * sb[d], *oo += i * so[d];
    }
}

/* Writes the shapes of the first two inputs to meta (end to end) and fails with `code`: the
 * Python side shows them as NumPy's message does. */
#define SG_FAIL_WITH_SHAPES(code)                                                               \
    do {                                                                                        \
        int64_t at = 0;                                                                         \
        for (int64_t k_ = 0; k_ < 2; k_++)                                                      \
            for (int64_t d_ = 0; d_ < in[k_].ndim; d_++) meta[at++] = in[k_].shape[d_];         \
        return (code);                                                                          \
    } while (0)
/* endsection */

/* section: blas */
/* CBLAS of @LIBRARY@: @INT_BITS@-bit integers. The enum values are CBLAS's own (an enum is
 * passed as an int). */
typedef @BLASINT@ sg_blasint;
enum { SG_ROW_MAJOR = 101, SG_NO_TRANS = 111, SG_TRANS = 112 };
void @SGEMM@(int, int, int, sg_blasint, sg_blasint, sg_blasint, float, const float *, sg_blasint,
             const float *, sg_blasint, float, float *, sg_blasint);
void @DGEMM@(int, int, int, sg_blasint, sg_blasint, sg_blasint, double, const double *, sg_blasint,
             const double *, sg_blasint, double, double *, sg_blasint);
void @SGEMV@(int, int, sg_blasint, sg_blasint, float, const float *, sg_blasint, const float *,
             sg_blasint, float, float *, sg_blasint);
void @DGEMV@(int, int, sg_blasint, sg_blasint, double, const double *, sg_blasint, const double *,
             sg_blasint, double, double *, sg_blasint);
float @SDOT@(sg_blasint, const float *, sg_blasint, const float *, sg_blasint);
double @DDOT@(sg_blasint, const double *, sg_blasint, const double *, sg_blasint);

/* Can BLAS read a rows x cols matrix (byte strides rs, cs; rows, cols >= 1) in place?
 * Returns 1 with *trans = 0 (row-major: element (i, j) at i * ld + j) or *trans = 1 (stored
 * transposed: element (i, j) at j * ld + i) and the leading dimension in elements; 0 when
 * it must be copied. A length-1 axis has no stride that matters. */
static int sg_blas_view(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t item,
                        const char *data, int *trans, int64_t *ld)
{
    if ((uintptr_t)data % (uintptr_t)item) return 0;
    if ((cols == 1 || cs == item) && (rows == 1 || (rs > 0 && rs % item == 0 && rs / item >= cols))) {
        *trans = 0;
        *ld = rows == 1 ? cols : rs / item;
        return 1;
    }
    if ((rows == 1 || rs == item) && (cols == 1 || (cs > 0 && cs % item == 0 && cs / item >= rows))) {
        *trans = 1;
        *ld = cols == 1 ? rows : cs / item;
        return 1;
    }
    return 0;
}

typedef void (*sg_copy_fn)(int64_t, const int64_t *, const char *, const int64_t *, char *, const int64_t *);

/* One operand of a (batched) product: the rows x cols slices BLAS reads, in place or copied
 * (and converted) into `buf`, a C-ordered matrix. */
typedef struct {
    int64_t shape[2], strides[2];
    int trans;
    int64_t ld;
    sg_copy_fn copy; /* NULL: slices are read in place */
    char *buf;
    const char *held; /* the slice `buf` holds (a broadcast operand is copied once) */
} sg_blas_operand;

/* Decides how slices of an operand are read: in place when sg_blas_view accepts the first
 * slice's layout and every batch stride keeps the alignment, else copies. `convert`: the
 * copy to use when the dtype differs from the product's (always copied), `copy`: the plain
 * copy. Returns 0, or SG_ERR_NOMEM with the bytes asked for in *bytes. */
static int64_t sg_blas_operand_init(sg_blas_operand *op, int64_t rows, int64_t cols, int64_t rs,
                                    int64_t cs, const char *data, int64_t nbatch,
                                    const int64_t *batch_strides, int64_t item, sg_copy_fn convert,
                                    sg_copy_fn copy, int64_t *bytes)
{
    op->shape[0] = rows, op->shape[1] = cols, op->strides[0] = rs, op->strides[1] = cs;
    op->buf = NULL, op->held = NULL, op->copy = convert;
    int aligned = 1;
    for (int64_t d = 0; d < nbatch; d++) aligned &= batch_strides[d] % item == 0;
    if (!convert && aligned && sg_blas_view(rows, cols, rs, cs, item, data, &op->trans, &op->ld)) return 0;
    if (!convert) op->copy = copy;
    op->trans = 0;
    op->ld = cols;
    if (__builtin_mul_overflow(rows * cols, item, bytes)) return SG_ERR_OVERFLOW;
    op->buf = malloc(*bytes ? *bytes : 1);
    return op->buf ? 0 : SG_ERR_NOMEM;
}

/* The slice at `p` as BLAS reads it. */
static inline const void *sg_blas_slice(sg_blas_operand *op, const char *p, int64_t item)
{
    if (!op->copy) return p;
    if (p != op->held) {
        const int64_t dst_strides[2] = { op->shape[1] * item, item };
        op->copy(2, op->shape, p, op->strides, op->buf, dst_strides);
        op->held = p;
    }
    return op->buf;
}

/* C = alpha * op(A) @ op(B) + beta * C for an m x n row-major C (leading dimension ldc):
 * NAME_call makes one BLAS call (all lengths fit in sg_blasint), NAME splits lengths and
 * leading dimensions over `max` into blocks (K blocks after the first accumulate: beta 1).
 * A leading dimension over `max` makes its outer axis a block of one, which needs none. */
#define SG_BI(x) ((sg_blasint)(x)) /* a length or stride as a BLAS integer */
/* symgrad's own GEMM (gemm.c) instead of CBLAS's where Python handed it over (kernel.h,
 * sg_set_own_gemm). It then takes every matrix product, thin ones too: a CBLAS call that
 * starts OpenBLAS's threads leaves them spinning for milliseconds, on the cores the next
 * kernel needs. True when CBLAS must compute C. */
#define SG_TRY_OWN_GEMM(OWN, m, n, k, alpha, a, ta, lda, b, tb, ldb, beta, c, ldc)              \
    (!OWN || OWN(m, n, k, alpha, a, ta, lda, b, tb, ldb, beta, c, ldc, SG_GEMM_THREADS(m, n, k), NULL, 0, 0) != 0)
#define SG_GEMM_THREADS(m, n, k) ((m) * (n) * (k) >= (1 << 22) ? sg_threads : 1)
#define SG_DEFINE_BLAS_PRODUCT(NAME, T, GEMM, GEMV, DOT, OWN)                                   \
    static void NAME##_call(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int ta,       \
                            int64_t lda, const T *b, int tb, int64_t ldb, T beta, T *c,         \
                            int64_t ldc)                                                        \
    {                                                                                           \
        const int op_a = ta ? SG_TRANS : SG_NO_TRANS, op_b = tb ? SG_TRANS : SG_NO_TRANS;       \
        if (m == 1 && n == 1) {                                                                 \
            const T dot = DOT(SG_BI(k), a, SG_BI(ta ? lda : 1), b, SG_BI(tb ? 1 : ldb));        \
            c[0] = beta == 0 ? alpha * dot : alpha * dot + beta * c[0];                         \
        } else if (n == 1) { /* y = op(A) x, x a column of B, y one of C */                     \
            if (beta == 0)                                                                      \
                for (int64_t i = 0; i < m; i++) c[i * ldc] = 0;                                 \
            GEMV(SG_ROW_MAJOR, op_a, SG_BI(ta ? k : m), SG_BI(ta ? m : k), alpha, a,            \
                 SG_BI(lda), b, SG_BI(tb ? 1 : ldb), beta, c, SG_BI(ldc));                      \
        } else if (m == 1) { /* y = op(B)^T x, x the row of A, y the row of C */                \
            if (beta == 0)                                                                      \
                for (int64_t j = 0; j < n; j++) c[j] = 0;                                       \
            GEMV(SG_ROW_MAJOR, tb ? SG_NO_TRANS : SG_TRANS, SG_BI(tb ? n : k),                  \
                 SG_BI(tb ? k : n), alpha, b, SG_BI(ldb), a, SG_BI(ta ? lda : 1), beta, c, 1);  \
        } else if (SG_TRY_OWN_GEMM(OWN, m, n, k, alpha, a, ta, lda, b, tb, ldb, beta, c, ldc)) { \
            GEMM(SG_ROW_MAJOR, op_a, op_b, SG_BI(m), SG_BI(n), SG_BI(k), alpha, a, SG_BI(lda),  \
                 b, SG_BI(ldb), beta, c, SG_BI(ldc));                                           \
        }                                                                                       \
    }                                                                                           \
    static __attribute__((unused)) void NAME(int64_t m, int64_t n, int64_t k, T alpha,          \
                                             const T *a, int ta, int64_t lda, const T *b,       \
                                             int tb, int64_t ldb, T beta, T *c, int64_t ldc,    \
                                             int64_t max)                                       \
    {                                                                                           \
        const int64_t bm = (ldc > max || (!ta && lda > max)) ? 1 : max;                         \
        const int64_t bn = (tb && ldb > max) ? 1 : max;                                         \
        const int64_t bk = ((ta && lda > max) || (!tb && ldb > max)) ? 1 : max;                 \
        for (int64_t i = 0; i < m; i += bm) {                                                   \
            const int64_t mb = m - i < bm ? m - i : bm;                                         \
            for (int64_t j = 0; j < n; j += bn) {                                               \
                const int64_t nb = n - j < bn ? n - j : bn;                                     \
                for (int64_t p = 0; p < k; p += bk) {                                           \
                    const int64_t kb = k - p < bk ? k - p : bk;                                 \
                    const T *ab = ta ? a + p * lda + i : a + i * lda + p;                       \
                    const T *bb = tb ? b + j * ldb + p : b + p * ldb + j;                       \
                    NAME##_call(mb, nb, kb, alpha, ab, ta, lda > max ? (ta ? mb : kb) : lda,    \
                                bb, tb, ldb > max ? (tb ? kb : nb) : ldb, p ? (T)1 : beta,      \
                                c + i * ldc + j, ldc > max ? nb : ldc);                         \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }

SG_DEFINE_BLAS_PRODUCT(sg_blas_sproduct, float, @SGEMM@, @SGEMV@, @SDOT@, sg_own_sgemm)
SG_DEFINE_BLAS_PRODUCT(sg_blas_dproduct, double, @DGEMM@, @DGEMV@, @DDOT@, sg_own_dgemm)

/* endsection */

/* section: matmul_shape */
    /* in[0]: (..., m, k), in[1]: (..., k, n); batch axes broadcast as in NumPy. */
    const int64_t na = in[0].ndim, nb = in[1].ndim, nd = @NDIM@;
    if (in[0].shape[na - 1] != in[1].shape[nb - 2]) SG_FAIL_WITH_SHAPES(@ERR_ALIGN@);
    for (int64_t d = 0; d < nd - 2; d++) {
        const int64_t ia = d - (nd - na), ib = d - (nd - nb);
        const int64_t la = ia >= 0 ? in[0].shape[ia] : 1, lb = ib >= 0 ? in[1].shape[ib] : 1;
        if (la != lb && la != 1 && lb != 1) SG_FAIL_WITH_SHAPES(@ERR_BATCH@);
        out_shape[0][d] = la == 1 ? lb : la;
    }
    out_shape[0][nd - 2] = in[0].shape[na - 2];
    out_shape[0][nd - 1] = in[1].shape[nb - 1];
    if (sg_shape_size(nd, out_shape[0]) < 0) SG_FAIL(SG_ERR_OVERFLOW);
/* endsection */

/* section: matmul_setup */
    /* The batch axes of the output, with each input's byte strides there (0 where it is
     * broadcast), and the matrix sizes; an empty output is done. */
    const int64_t na = in[0].ndim, nb = in[1].ndim, nd = out[0].ndim, nbatch = nd - 2;
    const int64_t m = in[0].shape[na - 2], k = in[0].shape[na - 1], n = in[1].shape[nb - 1];
    int64_t bshape[SG_MAXDIM], bsa[SG_MAXDIM] = { 0 }, bsb[SG_MAXDIM] = { 0 }, bso[SG_MAXDIM];
    int64_t batch = 1;
    for (int64_t d = 0; d < nbatch; d++) {
        const int64_t ia = d - (nd - na), ib = d - (nd - nb);
        bshape[d] = out[0].shape[d];
        bsa[d] = ia >= 0 && in[0].shape[ia] != 1 ? in[0].strides[ia] : 0;
        bsb[d] = ib >= 0 && in[1].shape[ib] != 1 ? in[1].strides[ib] : 0;
        bso[d] = out[0].strides[d];
        batch *= bshape[d];
    }
    if (batch == 0 || m == 0 || n == 0) return 0;
    const int64_t rsa = in[0].strides[na - 2], csa = in[0].strides[na - 1];
    const int64_t rsb = in[1].strides[nb - 2], csb = in[1].strides[nb - 1];
/* endsection */

/* section: matmul_blas */
    /* Float product: one BLAS call per batch element. */
    typedef @T@ T;
    const int64_t item = sizeof(T);
    if (k == 0) {
        memset(out[0].data, 0, (size_t)(batch * m * n) * sizeof(T));
        return 0;
    }
    sg_blas_operand A, B;
    int64_t bytes = 0, err;
    err = sg_blas_operand_init(&A, m, k, rsa, csa, in[0].data, nbatch, bsa, item, @CONVERT_A@, @COPY@, &bytes);
    if (err) {
        free(A.buf);
        SG_FAIL_INFO(err, bytes, 0, 0);
    }
    err = sg_blas_operand_init(&B, k, n, rsb, csb, in[1].data, nbatch, bsb, item, @CONVERT_B@, @COPY@, &bytes);
    if (err) {
        free(A.buf);
        free(B.buf);
        SG_FAIL_INFO(err, bytes, 0, 0);
    }
    for (int64_t t = 0; t < batch; t++) {
        int64_t oa, ob, oo;
        sg_batch_offsets(t, nbatch, bshape, bsa, bsb, bso, &oa, &ob, &oo);
        const T *a = sg_blas_slice(&A, in[0].data + oa, item);
        const T *b = sg_blas_slice(&B, in[1].data + ob, item);
        @PRODUCT@(m, n, k, 1, a, A.trans, A.ld, b, B.trans, B.ld, 0, (T *)(out[0].data + oo), n, @MAX@);
    }
    free(A.buf);
    free(B.buf);
/* endsection */

/* section: matmul_loop */
    /* Integer or bool product: rows of the output (over all batch elements) in parallel; each
     * row accumulates rows of B scaled by the row of A (unit-stride inner loop when B allows). */
    typedef @T@ T;  /* the output's type */
    typedef @U@ U;  /* what the arithmetic is done in */
    typedef @TA@ TA;
    typedef @TB@ TB;
    const int64_t rows = batch * m, ldo = out[0].strides[nd - 2];
    int64_t work;
    if (__builtin_mul_overflow(rows * n, k, &work)) work = INT64_MAX;
    #pragma omp parallel for num_threads(sg_threads) if(work >= SG_PARALLEL_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t oa, ob, oo;
        const int64_t i = r % m;
        sg_batch_offsets(r / m, nbatch, bshape, bsa, bsb, bso, &oa, &ob, &oo);
        const char *arow = in[0].data + oa + i * rsa;
        T *restrict crow = (T *)(out[0].data + oo + i * ldo);
        for (int64_t j = 0; j < n; j++) crow[j] = 0;
        for (int64_t p = 0; p < k; p++) {
            const TA av_ = *(const TA *)(arow + p * csa);
            const U av = @LOAD_A@;
            if (av == 0) continue;
            const char *brow = in[1].data + ob + p * rsb;
            if (csb == (int64_t)sizeof(TB)) {
                const TB *restrict bv = (const TB *)brow;
                for (int64_t j = 0; j < n; j++) {
                    const TB bv_ = bv[j];
                    @ACCUMULATE@;
                }
            } else {
                for (int64_t j = 0; j < n; j++) {
                    const TB bv_ = *(const TB *)(brow + j * csb);
                    @ACCUMULATE@;
                }
            }
        }
    }
/* endsection */

/* section: gemm_shape */
    /* in: A (m, k), B (k, n), C (up to 2 dims, broadcast against (m, n)), alpha, beta. */
    const int64_t m = in[0].shape[0], k = in[0].shape[1], n = in[1].shape[1], nc = in[2].ndim;
    if (k != in[1].shape[0]) SG_FAIL_WITH_SHAPES(@ERR_ALIGN@);
    const int64_t c0 = nc == 2 ? in[2].shape[0] : 1, c1 = nc >= 1 ? in[2].shape[nc - 1] : 1;
    if ((m != c0 && m != 1 && c0 != 1) || (n != c1 && n != 1 && c1 != 1)) {
        meta[0] = m, meta[1] = n;
        for (int64_t d = 0; d < nc; d++) meta[2 + d] = in[2].shape[d];
        return @ERR_BROADCAST@;
    }
    out_shape[0][0] = m == 1 ? c0 : m;
    out_shape[0][1] = n == 1 ? c1 : n;
    if (sg_shape_size(2, out_shape[0]) < 0) SG_FAIL(SG_ERR_OVERFLOW);
/* endsection */

/* section: gemm_run */
    /* out = alpha * (A @ B) + beta * C. Usually C, scaled, is written to out and BLAS adds
     * alpha * A @ B to it; when the product is broadcast (m or n is 1 and out is larger), k is
     * 0 or alpha is 0, inf or NaN (BLAS would skip the product: 0 * inf must stay NaN), the
     * product is computed first and combined elementwise, as NumPy does. These passes are
     * memory-bound and next to a BLAS call with its own threads: no OpenMP here (an OpenMP
     * team still spinning when BLAS starts took 0.8 ms -> 16 ms on 2 cores). */
    typedef @T@ T;
    const int64_t item = sizeof(T);
    const int64_t m = in[0].shape[0], k = in[0].shape[1], n = in[1].shape[1], nc = in[2].ndim;
    const int64_t M = out[0].shape[0], N = out[0].shape[1];
    if (M == 0 || N == 0) return 0;
    const T alpha = *(const T *)in[3].data, beta = *(const T *)in[4].data;
    const int64_t cs0 = nc == 2 && in[2].shape[0] != 1 ? in[2].strides[0] : 0;
    const int64_t cs1 = nc >= 1 && in[2].shape[nc - 1] != 1 ? in[2].strides[nc - 1] : 0;
    const char *cdata = in[2].data;
    T *o = (T *)out[0].data;
    sg_blas_operand A, B;
    int64_t bytes = 0, err = 0;
    if (k > 0) {
        err = sg_blas_operand_init(&A, m, k, in[0].strides[0], in[0].strides[1], in[0].data, 0, NULL, item,
                                   NULL, @COPY@, &bytes);
        if (!err)
            err = sg_blas_operand_init(&B, k, n, in[1].strides[0], in[1].strides[1], in[1].data, 0, NULL,
                                       item, NULL, @COPY@, &bytes);
        else
            B.buf = NULL;
        if (err) {
            free(A.buf);
            free(B.buf);
            SG_FAIL_INFO(err, bytes, 0, 0);
        }
    }
    /* symgrad's own GEMM (kernel.h) reads C where it is, broadcast or strided, as it writes the
     * first K block: no pass of its own. beta 0 must still multiply C (0 * NaN is NaN): not
     * there. */
    const T *own_a = k > 0 ? sg_blas_slice(&A, in[0].data, item) : NULL;
    const T *own_b = k > 0 ? sg_blas_slice(&B, in[1].data, item) : NULL;
    if (M == m && N == n && k > 0 && isfinite(alpha) && alpha != 0 && beta != 0 && @OWN@ &&
        cs0 % item == 0 && cs1 % item == 0 &&
        @OWN@(m, n, k, alpha, own_a, A.trans, A.ld, own_b, B.trans, B.ld, beta, o, n,
              SG_GEMM_THREADS(m, n, k), (const T *)cdata, cs0 / item, cs1 / item) == 0) {
        /* done */
    } else if (M == m && N == n && k > 0 && isfinite(alpha) && alpha != 0) {
        for (int64_t i = 0; i < M; i++) {
            const char *crow = cdata + i * cs0;
            T *restrict orow = o + i * N;
            if (cs1 == item) { /* C's rows unit-stride (a bias row, a weight matrix): vectorized */
                const T *restrict c = (const T *)crow;
                if (beta == 1)
                    memcpy(orow, c, (size_t)N * sizeof(T)); /* 1 * x is x, NaN and -0.0 included */
                else
                    for (int64_t j = 0; j < N; j++) orow[j] = beta * c[j];
            } else {
                for (int64_t j = 0; j < N; j++) orow[j] = beta * *(const T *)(crow + j * cs1);
            }
        }
        @PRODUCT@(m, n, k, alpha, sg_blas_slice(&A, in[0].data, item), A.trans, A.ld,
                  sg_blas_slice(&B, in[1].data, item), B.trans, B.ld, 1, o, n, @MAX@);
    } else {
        T *z = o;
        if (M != m || N != n) {
            z = malloc((size_t)(m * n) * sizeof(T));
            if (!z) {
                if (k > 0) {
                    free(A.buf);
                    free(B.buf);
                }
                SG_FAIL_INFO(SG_ERR_NOMEM, m * n * item, 0, 0);
            }
        }
        if (k == 0)
            memset(z, 0, (size_t)(m * n) * sizeof(T));
        else
            @PRODUCT@(m, n, k, 1, sg_blas_slice(&A, in[0].data, item), A.trans, A.ld,
                      sg_blas_slice(&B, in[1].data, item), B.trans, B.ld, 0, z, n, @MAX@);
        const int64_t zs0 = m == 1 ? 0 : n, zs1 = n == 1 ? 0 : 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                o[i * N + j] = alpha * z[i * zs0 + j * zs1] + beta * *(const T *)(cdata + i * cs0 + j * cs1);
        if (z != o) free(z);
    }
    if (k > 0) {
        free(A.buf);
        free(B.buf);
    }
/* endsection */

/* section: equal_dims_shape */
    /* Two int scalars that must be equal (tensordot's summed axes); the output is the first. */
    const int64_t da = (int64_t) * (const @TA@ *)in[0].data, db = (int64_t) * (const @TB@ *)in[1].data;
    if (da != db) SG_FAIL_INFO(@ERR_MISMATCH@, da, db, 0);
/* endsection */

/* section: equal_dims_run */
    *(int64_t *)out[0].data = (int64_t) * (const @TA@ *)in[0].data;
/* endsection */
