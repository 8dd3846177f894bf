/* nn.c: C kernels of the nn ops (symgrad/ops/nn_ops.py): Softmax, LogSoftmax, SoftmaxGrad,
 * CrossentropySoftmax, PickClass, OneHot. Filled in by symgrad/codegen/nn_c.py; the kernel
 * protocol (sg_array, SG_FAIL, out_shape) is csrc_templates/kernel.h.
 *
 * Softmax along the last axis, per row: a vectorized max (NaN-propagating, 4 vectors of
 * accumulators), one pass that writes exp(x - max) and sums it (`omp simd` lets gcc reassociate
 * the sum and call libmvec's vector exp), and a scale of the row by 1/sum while it is still in
 * L1. The exp pass also takes the max of the next row, which so streams in from memory while
 * exp computes. Threads take chunks of whole rows (dynamic schedule: a thread slowed down by a
 * busy core takes fewer); a row is always one thread's work and sums run in a fixed order, so
 * results do not depend on the thread count or the schedule. Along another axis, the same
 * passes run over slabs of (axis length) x (1 KB of columns), vectorized across the columns
 * ("cols" kernels); a non-contiguous input is first copied into the output.
 *
 * Semantics are perform's (NumPy): the shift is the row's max, or 0 when that max is +-inf
 * (rows of -inf give 0/0 = NaN, rows holding +inf give inf/inf = NaN there), and a NaN
 * anywhere in a row makes the whole row NaN. Sums of float32 rows are accumulated in double.
 */

/* section: helpers */
#define SG_NN_COLS 256           /* most columns a "cols" kernel handles at once */
#define SG_NN_CHUNK 16384        /* elements a thread takes at a time (whole rows) */
#define SG_NN_BLOCK 256          /* elements of a row per block of the fused exp passes */
#define SG_NN_ERR_CLASS 64       /* a class index out of range: info = index, classes */

/* Byte offsets of the rows of an array: row r is the C-order index r over its first nd axes.
 * Arrays whose rows are evenly spaced (C-contiguous, sliced, reversed) skip the divisions. */
typedef struct {
    const int64_t *shape, *strides;
    int64_t nd, step;
    int uniform;
} sg_nn_rows;

static inline sg_nn_rows sg_nn_rows_of(int64_t nd, const int64_t *shape, const int64_t *strides)
{
    sg_nn_rows w = { shape, strides, nd, 0, 1 };
    int64_t expect = 0;
    int seen = 0;
    for (int64_t d = nd - 1; d >= 0; d--) {
        if (shape[d] == 1) continue;
        if (!seen) {
            w.step = strides[d];
            seen = 1;
        } else if (strides[d] != expect) {
            w.uniform = 0;
            break;
        }
        expect = strides[d] * shape[d];
    }
    return w;
}

static inline int64_t sg_nn_row_offset(const sg_nn_rows *w, int64_t r)
{
    if (w->uniform) return r * w->step;
    int64_t off = 0;
    for (int64_t d = w->nd - 1; d >= 0; d--) {
        off += (r % w->shape[d]) * w->strides[d];
        r /= w->shape[d];
    }
    return off;
}

/* Asks for the cache lines of p[0, bytes) ahead of their use: the next row's max is taken
 * block by block while exp computes, and the hardware prefetcher alone falls behind. */
static inline void sg_nn_prefetch(const void *p, int64_t bytes)
{
    for (int64_t k = 0; k < bytes; k += 64) __builtin_prefetch((const char *)p + k);
}

/* a * b for deciding whether to use threads: saturates instead of overflowing. */
static inline int64_t sg_nn_work(int64_t a, int64_t b)
{
    int64_t w;
    return __builtin_mul_overflow(a, b, &w) ? INT64_MAX : w;
}

/* Rows per chunk of work: threads take chunks dynamically, so one that is slowed down (a busy
 * core) takes fewer; the result never depends on who computes a row. */
static inline int64_t sg_nn_chunk_rows(int64_t n)
{
    return n >= SG_NN_CHUNK ? 1 : SG_NN_CHUNK / (n > 0 ? n : 1);
}

/* How many columns a "cols" kernel takes at once: 1 KB of each row of the slab, so that its
 * rows stream in (prefetchers) while the slab (axis length x 1 KB) mostly stays in cache. */
static inline int64_t sg_nn_col_width(int64_t itemsize, int64_t inner)
{
    const int64_t w = 1024 / itemsize;
    return w < inner ? w : inner;
}

/* Reductions along a middle axis of length n, as tasks: column block k of width <= w of the
 * (outer, n, inner) view; *start is its first element, *cols its width. */
static inline void sg_nn_col_task(int64_t k, int64_t chunks, int64_t w, int64_t n, int64_t inner,
                                  int64_t *start, int64_t *cols)
{
    const int64_t o = k / chunks, j0 = (k % chunks) * w;
    *start = o * n * inner + j0;
    *cols = inner - j0 < w ? inner - j0 : w;
}
/* endsection */

/* section: check_classes */
/* The first class index (C order) of `t` outside [0, n): returns 1 and puts it in *bad. */
static int sg_nn_check_classes_@I@(const sg_array *t, int64_t n, int64_t *bad)
{
    const int64_t size = sg_size(t);
    const sg_nn_rows tr = sg_nn_rows_of(t->ndim, t->shape, t->strides);
    for (int64_t r = 0; r < size; r++) {
        const int64_t v = (int64_t) * (const @TI@ *)(t->data + sg_nn_row_offset(&tr, r));
        if (v < 0 || v >= n) {
            *bad = v;
            return 1;
        }
    }
    return 0;
}
/* endsection */

/* section: float_rows */
/* Row and column kernels of @F@ (@T@), sums in @ACC@. */

/* The largest entry of a contiguous row, -inf when empty, NaN when it holds a NaN. The
 * compare-and-select max vectorizes into L independent lanes (NaN flags on the side). */
static inline @T@ sg_nn_max_@F@(const @T@ *x, int64_t n)
{
    enum { L = 128 / sizeof(@T@) };
    @T@ acc[L], m = -INFINITY;
    @INT@ nan[L], any = 0;
    for (int k = 0; k < L; k++) {
        acc[k] = -INFINITY;
        nan[k] = 0;
    }
    int64_t i = 0;
    for (; i + L <= n; i += L) {
#pragma omp simd
        for (int k = 0; k < L; k++) {
            const @T@ v = x[i + k];
            acc[k] = v > acc[k] ? v : acc[k];
            nan[k] |= v != v;
        }
    }
    for (int k = 0; k < L; k++) {
        m = acc[k] > m ? acc[k] : m;
        any |= nan[k];
    }
    for (; i < n; i++) {
        m = x[i] > m ? x[i] : m;
        any |= x[i] != x[i];
    }
    return any ? (@T@)NAN : m;
}

/* The shift perform subtracts: the max, or 0 when the max is infinite (NaN stays NaN). */
static inline @T@ sg_nn_shift_@F@(@T@ m) { return isinf(m) ? (@T@)0 : m; }

/* softmax (log_out = 0) or log_softmax (1) of a contiguous row x whose max is m, into y (y
 * may be x). The exp pass also takes the max of `next`, the row to do after this one, which so
 * streams in from memory while exp computes (pass x when there is none), and returns it. */
static @T@ sg_nn_softmax_row_@F@(const @T@ *x, @T@ *y, int64_t n, @T@ m, const @T@ *next,
                                 int log_out)
{
    const @T@ shift = sg_nn_shift_@F@(m);
    @ACC@ s = 0;
    @T@ mn = -INFINITY;
    @INT@ nan = 0;
    for (int64_t b = 0; b < n; b += SG_NN_BLOCK) {
        const int64_t e = n - b < SG_NN_BLOCK ? n : b + SG_NN_BLOCK;
        if (e < n) sg_nn_prefetch(next + e, (n - e < SG_NN_BLOCK ? n - e : SG_NN_BLOCK) * sizeof(@T@));
        if (log_out) {
#pragma omp simd reduction(+ : s) reduction(max : mn) reduction(| : nan)
            for (int64_t i = b; i < e; i++) {
                const @T@ v = next[i], d = x[i] - shift;
                mn = v > mn ? v : mn;
                nan |= v != v;
                y[i] = d;
                s += exp@S@(d);
            }
        } else {
#pragma omp simd reduction(+ : s) reduction(max : mn) reduction(| : nan)
            for (int64_t i = b; i < e; i++) {
                const @T@ v = next[i], ex = exp@S@(x[i] - shift);
                mn = v > mn ? v : mn;
                nan |= v != v;
                y[i] = ex;
                s += ex;
            }
        }
    }
    if (log_out) {
        const @T@ l = (@T@)log(s);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] -= l;
    } else {
        const @T@ r = (@T@)(1 / s);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] *= r;
    }
    return nan ? (@T@)NAN : mn;
}

/* Rows [r0, r1) of softmax / log_softmax along the last axis: row r of x starts at base +
 * offset(r) with element stride xs (bytes), its output row at y + r * n. */
static void sg_nn_softmax_rows_@F@(const char *base, const sg_nn_rows *xr, int64_t xs, @T@ *y,
                                   int64_t n, int64_t r0, int64_t r1, int log_out)
{
    if (xs == (int64_t)sizeof(@T@) || n <= 1) {
        const @T@ *x = (const @T@ *)(base + sg_nn_row_offset(xr, r0));
        @T@ m = sg_nn_max_@F@(x, n);
        for (int64_t r = r0; r < r1; r++) {
            const @T@ *next = r + 1 < r1 ? (const @T@ *)(base + sg_nn_row_offset(xr, r + 1)) : x;
            m = sg_nn_softmax_row_@F@(x, y + r * n, n, m, next, log_out);
            x = next;
        }
        return;
    }
    for (int64_t r = r0; r < r1; r++) { /* a strided row: gather it into its output row */
        const char *x = base + sg_nn_row_offset(xr, r);
        @T@ *yr = y + r * n;
        for (int64_t i = 0; i < n; i++) yr[i] = *(const @T@ *)(x + i * xs);
        sg_nn_softmax_row_@F@(yr, yr, n, sg_nn_max_@F@(yr, n), yr, log_out);
    }
}

/* log(sum(exp(x - shift))) of a contiguous row x whose max is m, and the shift; like the
 * softmax row, it also returns the max of the row `next` in *next_max. */
static @T@ sg_nn_lse_row_@F@(const @T@ *x, int64_t n, @T@ m, const @T@ *next, @T@ *shift_out,
                             @T@ *next_max)
{
    const @T@ shift = sg_nn_shift_@F@(m);
    @ACC@ s = 0;
    @T@ mn = -INFINITY;
    @INT@ nan = 0;
    for (int64_t b = 0; b < n; b += SG_NN_BLOCK) {
        const int64_t e = n - b < SG_NN_BLOCK ? n : b + SG_NN_BLOCK;
        if (e < n) sg_nn_prefetch(next + e, (n - e < SG_NN_BLOCK ? n - e : SG_NN_BLOCK) * sizeof(@T@));
#pragma omp simd reduction(+ : s) reduction(max : mn) reduction(| : nan)
        for (int64_t i = b; i < e; i++) {
            const @T@ v = next[i];
            mn = v > mn ? v : mn;
            nan |= v != v;
            s += exp@S@(x[i] - shift);
        }
    }
    *shift_out = shift;
    *next_max = nan ? (@T@)NAN : mn;
    return (@T@)log(s);
}

/* log(sum(exp(x - shift))) of a row of stride xs (bytes), and the shift; nothing written. */
static @T@ sg_nn_lse_@F@(const char *x, int64_t xs, int64_t n, @T@ *shift_out)
{
    @ACC@ s = 0;
    @T@ shift;
    if (xs == (int64_t)sizeof(@T@) || n <= 1) {
        const @T@ *v = (const @T@ *)x;
        shift = sg_nn_shift_@F@(sg_nn_max_@F@(v, n));
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += exp@S@(v[i] - shift);
    } else {
        @T@ m = -INFINITY;
        for (int64_t i = 0; i < n; i++) m = sg_max_@SFX@(m, *(const @T@ *)(x + i * xs));
        shift = sg_nn_shift_@F@(m);
        for (int64_t i = 0; i < n; i++) s += exp@S@(*(const @T@ *)(x + i * xs) - shift);
    }
    *shift_out = shift;
    return (@T@)log(s);
}

/* softmax / log_softmax along the axis of a contiguous (n, inner) slab, for its w columns
 * that start at x and y (y may be x): the row kernel's passes, vectorized across columns. */
static void sg_nn_softmax_cols_@F@(const @T@ *x, @T@ *y, int64_t n, int64_t inner, int64_t w,
                                   int log_out)
{
    @T@ m[SG_NN_COLS];
    @ACC@ s[SG_NN_COLS];
    @INT@ nan[SG_NN_COLS];
    for (int64_t j = 0; j < w; j++) {
        m[j] = -INFINITY;
        nan[j] = 0;
    }
    for (int64_t i = 0; i < n; i++) {
        const @T@ *xi = x + i * inner;
#pragma omp simd
        for (int64_t j = 0; j < w; j++) {
            const @T@ v = xi[j];
            m[j] = v > m[j] ? v : m[j];
            nan[j] |= v != v;
        }
    }
    for (int64_t j = 0; j < w; j++) {
        m[j] = nan[j] ? (@T@)NAN : sg_nn_shift_@F@(m[j]);
        s[j] = 0;
    }
    for (int64_t i = 0; i < n; i++) {
        const @T@ *xi = x + i * inner;
        @T@ *yi = y + i * inner;
        if (log_out) {
#pragma omp simd
            for (int64_t j = 0; j < w; j++) {
                const @T@ d = xi[j] - m[j];
                yi[j] = d;
                s[j] += exp@S@(d);
            }
        } else {
#pragma omp simd
            for (int64_t j = 0; j < w; j++) {
                const @T@ e = exp@S@(xi[j] - m[j]);
                yi[j] = e;
                s[j] += e;
            }
        }
    }
    for (int64_t j = 0; j < w; j++) m[j] = log_out ? (@T@)log(s[j]) : (@T@)(1 / s[j]);
    for (int64_t i = 0; i < n; i++) {
        @T@ *yi = y + i * inner;
        if (log_out)
            for (int64_t j = 0; j < w; j++) yi[j] -= m[j];
        else
            for (int64_t j = 0; j < w; j++) yi[j] *= m[j];
    }
}

/* softmax_grad along the axis of contiguous (n, inner) slabs: y = sm * (dy - sum(dy * sm));
 * y may be dy. */
static void sg_nn_softmax_grad_cols_@F@(const @T@ *dy, const @T@ *sm, @T@ *y, int64_t n,
                                        int64_t inner, int64_t w)
{
    @ACC@ s[SG_NN_COLS];
    @T@ t[SG_NN_COLS];
    for (int64_t j = 0; j < w; j++) s[j] = 0;
    for (int64_t i = 0; i < n; i++) {
        const @T@ *a = dy + i * inner, *b = sm + i * inner;
        for (int64_t j = 0; j < w; j++) s[j] += a[j] * b[j];
    }
    for (int64_t j = 0; j < w; j++) t[j] = (@T@)s[j];
    for (int64_t i = 0; i < n; i++) {
        const @T@ *a = dy + i * inner, *b = sm + i * inner;
        @T@ *yi = y + i * inner;
        for (int64_t j = 0; j < w; j++) yi[j] = b[j] * (a[j] - t[j]);
    }
}
/* endsection */

/* section: softmax_grad_row */
/* softmax_grad of one row: y = sm * (dy - sum(dy * sm)), dy (@TDY@) and sm (@TSM@) of byte
 * strides dys and sms, computed in @T@ (NumPy's result type), the sum in @ACC@. */
static void sg_nn_softmax_grad_row_@DY@_@SM@(const char *dy, int64_t dys, const char *sm,
                                             int64_t sms, @T@ *y, int64_t n)
{
    @ACC@ s = 0;
    if (dys == (int64_t)sizeof(@TDY@) && sms == (int64_t)sizeof(@TSM@)) {
        const @TDY@ *a = (const @TDY@ *)dy;
        const @TSM@ *b = (const @TSM@ *)sm;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += (@T@)a[i] * (@T@)b[i];
        const @T@ t = (@T@)s;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = (@T@)b[i] * ((@T@)a[i] - t);
    } else {
        for (int64_t i = 0; i < n; i++)
            s += (@T@) * (const @TDY@ *)(dy + i * dys) * (@T@) * (const @TSM@ *)(sm + i * sms);
        const @T@ t = (@T@)s;
        for (int64_t i = 0; i < n; i++)
            y[i] = (@T@) * (const @TSM@ *)(sm + i * sms) * ((@T@) * (const @TDY@ *)(dy + i * dys) - t);
    }
}
/* endsection */

/* section: softmax_run */
    /* @KIND@ along axis @AXIS@ of a @NDIM@-d @F@ array (out[0]: same shape, C order). */
    const int64_t ndim = @NDIM@, axis = @AXIS@, itemsize = sizeof(@T@), log_out = @LOG@;
    const int64_t n = in[0].shape[axis], size = sg_size(&in[0]);
    @T@ *y = (@T@ *)out[0].data;
    if (size <= 0) return 0;
    if (axis == ndim - 1) { /* rows in chunks of about SG_NN_CHUNK elements */
        const int64_t rows = size / n, per = sg_nn_chunk_rows(n), chunks = (rows + per - 1) / per;
        const sg_nn_rows xr = sg_nn_rows_of(ndim - 1, in[0].shape, in[0].strides);
#pragma omp parallel for num_threads(sg_threads) if (size >= SG_PARALLEL_MIN_MATH) schedule(dynamic, 1)
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t r0 = c * per, r1 = rows - r0 < per ? rows : r0 + per;
            sg_nn_softmax_rows_@F@(in[0].data, &xr, in[0].strides[axis], y, n, r0, r1, log_out);
        }
    } else {
        const @T@ *x = (const @T@ *)in[0].data;
        if (!sg_is_c_contiguous(&in[0], itemsize)) { /* copy into the output, then in place */
            @COPY@(ndim, in[0].shape, in[0].data, in[0].strides, out[0].data, out[0].strides);
            x = y;
        }
        int64_t inner = 1;
        for (int64_t d = axis + 1; d < ndim; d++) inner *= in[0].shape[d];
        const int64_t outer = size / (n * inner), w = sg_nn_col_width(itemsize, inner);
        const int64_t chunks = (inner + w - 1) / w, tasks = outer * chunks;
#pragma omp parallel for num_threads(sg_threads) if (size >= SG_PARALLEL_MIN_MATH) schedule(dynamic, 1)
        for (int64_t k = 0; k < tasks; k++) {
            int64_t start, cols;
            sg_nn_col_task(k, chunks, w, n, inner, &start, &cols);
            sg_nn_softmax_cols_@F@(x + start, y + start, n, inner, cols, log_out);
        }
    }
/* endsection */

/* section: softmax_grad_run */
    /* softmax_grad along axis @AXIS@: dy @DY@, sm @SM@, out @F@ (shapes checked equal). */
    const int64_t ndim = @NDIM@, axis = @AXIS@, itemsize = sizeof(@T@);
    const int64_t n = in[1].shape[axis], size = sg_size(&in[1]);
    @T@ *y = (@T@ *)out[0].data;
    if (size <= 0) return 0;
    if (axis == ndim - 1) {
        const int64_t rows = size / n;
        const sg_nn_rows dr = sg_nn_rows_of(ndim - 1, in[0].shape, in[0].strides);
        const sg_nn_rows sr = sg_nn_rows_of(ndim - 1, in[1].shape, in[1].strides);
#pragma omp parallel for num_threads(sg_threads) if (size >= SG_PARALLEL_MIN) schedule(dynamic, sg_nn_chunk_rows(n))
        for (int64_t r = 0; r < rows; r++)
            sg_nn_softmax_grad_row_@DY@_@SM@(in[0].data + sg_nn_row_offset(&dr, r), in[0].strides[axis],
                                             in[1].data + sg_nn_row_offset(&sr, r), in[1].strides[axis],
                                             y + r * n, n);
    } else {
        /* contiguous @F@ operands: dy (converted) into the output, sm into a buffer if need be */
        const @T@ *dy = (const @T@ *)in[0].data, *sm = (const @T@ *)in[1].data;
        @T@ *buffer = NULL;
        if (!@DY_SAME@ || !sg_is_c_contiguous(&in[0], itemsize)) {
            @COPY_DY@(ndim, in[0].shape, in[0].data, in[0].strides, out[0].data, out[0].strides);
            dy = y;
        }
        if (!@SM_SAME@ || !sg_is_c_contiguous(&in[1], itemsize)) {
            buffer = (@T@ *)malloc((size_t)size * sizeof(@T@));
            if (!buffer) SG_FAIL_INFO(SG_ERR_NOMEM, size * itemsize, 0, 0);
            @COPY_SM@(ndim, in[1].shape, in[1].data, in[1].strides, (char *)buffer, out[0].strides);
            sm = buffer;
        }
        int64_t inner = 1;
        for (int64_t d = axis + 1; d < ndim; d++) inner *= in[1].shape[d];
        const int64_t outer = size / (n * inner), w = sg_nn_col_width(itemsize, inner);
        const int64_t chunks = (inner + w - 1) / w, tasks = outer * chunks;
#pragma omp parallel for num_threads(sg_threads) if (size >= SG_PARALLEL_MIN) schedule(dynamic, 1)
        for (int64_t k = 0; k < tasks; k++) {
            int64_t start, cols;
            sg_nn_col_task(k, chunks, w, n, inner, &start, &cols);
            sg_nn_softmax_grad_cols_@F@(dy + start, sm + start, y + start, n, inner, cols);
        }
        free(buffer);
    }
/* endsection */

/* section: xent_index_run */
    /* crossentropy_softmax of @F@ logits z (@NDIM@-d) at class indices t (@I@, checked). */
    const int64_t nd = @NDIM@, n = in[0].shape[nd - 1], rows = sg_size(&in[1]);
    const int64_t zs = in[0].strides[nd - 1];
    const sg_nn_rows zr = sg_nn_rows_of(nd - 1, in[0].shape, in[0].strides);
    const sg_nn_rows tr = sg_nn_rows_of(nd - 1, in[1].shape, in[1].strides);
    const int64_t per = sg_nn_chunk_rows(n), chunks = (rows + per - 1) / per;
    const int contiguous = zs == (int64_t)sizeof(@T@) || n <= 1;
    @T@ *y = (@T@ *)out[0].data;
#pragma omp parallel for num_threads(sg_threads) if (sg_nn_work(rows, n) >= SG_PARALLEL_MIN_MATH) schedule(dynamic, 1)
    for (int64_t k = 0; k < chunks; k++) {
        const int64_t r0 = k * per, r1 = rows - r0 < per ? rows : r0 + per;
        const char *z = in[0].data + sg_nn_row_offset(&zr, r0);
        @T@ m = contiguous ? sg_nn_max_@F@((const @T@ *)z, n) : 0;
        for (int64_t r = r0; r < r1; r++) {
            const char *next = r + 1 < r1 ? in[0].data + sg_nn_row_offset(&zr, r + 1) : z;
            const int64_t c = (int64_t) * (const @TI@ *)(in[1].data + sg_nn_row_offset(&tr, r));
            @T@ shift;
            const @T@ l = contiguous ? sg_nn_lse_row_@F@((const @T@ *)z, n, m, (const @T@ *)next, &shift, &m)
                                     : sg_nn_lse_@F@(z, zs, n, &shift);
            y[r] = (c >= 0 && c < n) ? -((*(const @T@ *)(z + c * zs) - shift) - l) : (@T@)NAN;
            z = next;
        }
    }
/* endsection */

/* section: xent_dense_shape */
    /* z and t (both @NDIM@-d) broadcast together; the output drops the class axis. */
    for (int64_t d = 0; d < @NDIM@; d++) {
        const int64_t a = in[0].shape[d], b = in[1].shape[d];
        if (a != b && a != 1 && b != 1) SG_FAIL_INFO(SG_ERR_SHAPE, d, a, b);
        if (d < @NDIM@ - 1) out_shape[0][d] = a == 1 ? b : a;
    }
    if (sg_shape_size(@NDIM@ - 1, out_shape[0]) < 0) SG_FAIL(SG_ERR_OVERFLOW);
/* endsection */

/* section: xent_dense_run */
    /* crossentropy_softmax of @F@ logits z against dense targets t (@TT@), broadcast, out @TO@:
     * -sum over the class axis of t * log_softmax(z), skipping t == 0 (as perform does). */
    const int64_t nd = @NDIM@;
    int64_t shape[SG_MAXDIM], zst[SG_MAXDIM], tst[SG_MAXDIM];
    for (int64_t d = 0; d < nd; d++) {
        const int64_t a = in[0].shape[d], b = in[1].shape[d];
        shape[d] = a == 1 ? b : a;
        zst[d] = a == 1 ? 0 : in[0].strides[d];
        tst[d] = b == 1 ? 0 : in[1].strides[d];
    }
    const int64_t rows = sg_shape_size(nd - 1, shape), nc = shape[nd - 1], nz = in[0].shape[nd - 1];
    const sg_nn_rows zr = sg_nn_rows_of(nd - 1, shape, zst), tr = sg_nn_rows_of(nd - 1, shape, tst);
    @TO@ *y = (@TO@ *)out[0].data;
#pragma omp parallel for num_threads(sg_threads) if (sg_nn_work(rows, nc) >= SG_PARALLEL_MIN_MATH) schedule(dynamic, sg_nn_chunk_rows(nc))
    for (int64_t r = 0; r < rows; r++) {
        const char *z = in[0].data + sg_nn_row_offset(&zr, r);
        const char *t = in[1].data + sg_nn_row_offset(&tr, r);
        @T@ shift;
        const @T@ l = sg_nn_lse_@F@(z, zst[nd - 1], nz, &shift);
        double acc = 0;
        for (int64_t c = 0; c < nc; c++) {
            const @TT@ tv = *(const @TT@ *)(t + c * tst[nd - 1]);
            if (tv != 0) {
                const @T@ lsm = (*(const @T@ *)(z + c * zst[nd - 1]) - shift) - l;
                acc += (double)((@TO@)tv * (@TO@)lsm);
            }
        }
        y[r] = (@TO@)-acc;
    }
/* endsection */

/* section: pick_class_run */
    /* out[r] = x[r, t[r]]: x @TX@ (@NDIM@-d), class indices t @I@ (checked in _shape). */
    const int64_t nd = @NDIM@, n = in[0].shape[nd - 1], rows = sg_size(&in[1]);
    const int64_t xs = in[0].strides[nd - 1];
    const sg_nn_rows xr = sg_nn_rows_of(nd - 1, in[0].shape, in[0].strides);
    const sg_nn_rows tr = sg_nn_rows_of(nd - 1, in[1].shape, in[1].strides);
    @TX@ *y = (@TX@ *)out[0].data;
#pragma omp parallel for num_threads(sg_threads) if (rows >= SG_PARALLEL_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t c = (int64_t) * (const @TI@ *)(in[1].data + sg_nn_row_offset(&tr, r));
        if (c >= 0 && c < n) y[r] = *(const @TX@ *)(in[0].data + sg_nn_row_offset(&xr, r) + c * xs);
    }
/* endsection */

/* section: one_hot_shape */
    /* (t's shape, depth); a negative depth gives no columns (np.arange), the check below
     * then refuses any index. */
    const int64_t depth = (int64_t) * (const @TD@ *)in[1].data;
    for (int64_t d = 0; d < @NDIM@; d++) out_shape[0][d] = in[0].shape[d];
    out_shape[0][@NDIM@] = depth < 0 ? 0 : depth;
    if (sg_shape_size(@NDIM@ + 1, out_shape[0]) < 0) SG_FAIL(SG_ERR_OVERFLOW);
/* endsection */

/* section: one_hot_run */
    /* out[r, c] = (t[r] == c) in @TO@, t @I@ (checked in _shape), depth out_shape[-1]. */
    const int64_t nd = @NDIM@, rows = sg_size(&in[0]), depth = out[0].shape[nd];
    const sg_nn_rows tr = sg_nn_rows_of(nd, in[0].shape, in[0].strides);
    @TO@ *y = (@TO@ *)out[0].data;
#pragma omp parallel for num_threads(sg_threads) if (sg_nn_work(rows, depth) >= SG_PARALLEL_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t c = (int64_t) * (const @TI@ *)(in[0].data + sg_nn_row_offset(&tr, r));
        memset(y + r * depth, 0, (size_t)depth * sizeof(@TO@));
        if (c >= 0 && c < depth) y[r * depth + c] = (@TO@)1;
    }
/* endsection */
