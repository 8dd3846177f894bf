/* elemwise.c: the loop skeleton of every elementwise kernel of the C backend.
 *
 * Filled in by symgrad/codegen/elemwise_c.py. Placeholders are @NAME@; a placeholder alone on
 * a line is replaced by generated lines (under their own #line label), one inside a line by a
 * single-line snippet. The exported function is
 *
 *     int64_t <name>(int64_t ndim, const int64_t *shape, char *const *data, const int64_t *strides)
 *
 * data[k]: byte pointer of operand k (the inputs, then the outputs); strides[k * ndim + d]:
 * its byte stride along axis d (0 on broadcast axes; negative and Fortran-ordered strides are
 * fine). Returns 0, or a bit set of SG_ERR_* codes. Outputs must not overlap inputs, except
 * an output that is exactly an input (same pointer and strides): elements are read before
 * they are written, at the same index.
 */

/* section: runtime */
/* Drops length-1 axes, puts a Fortran-ordered output's axes in C order, and merges axes that
 * every operand walks as one. dims/st get the result (st[k * SG_MAXDIM + d]). Returns the
 * number of axes left (at least 1), -1 for an empty array, -2 for too many axes. */
SG_LIGHT_OPT static int64_t sg_prepare(int64_t ndim, const int64_t *shape, int64_t nops, const int64_t *strides,
                          int64_t *dims, int64_t *st)
{
    if (ndim > SG_MAXDIM) return -2;
    int64_t nd = 0;
    for (int64_t d = 0; d < ndim; d++) {
        if (shape[d] == 0) return -1;
        if (shape[d] == 1) continue;
        dims[nd] = shape[d];
        for (int64_t k = 0; k < nops; k++) st[k * SG_MAXDIM + nd] = strides[k * ndim + d];
        nd++;
    }
    if (nd == 0) {
        dims[0] = 1;
        for (int64_t k = 0; k < nops; k++) st[k * SG_MAXDIM] = 0;
        return 1;
    }
    const int64_t *out = st + (nops - 1) * SG_MAXDIM;
    if (nd > 1 && llabs(out[0]) < llabs(out[nd - 1])) {
        for (int64_t a = 0, b = nd - 1; a < b; a++, b--) {
            int64_t t = dims[a]; dims[a] = dims[b]; dims[b] = t;
            for (int64_t k = 0; k < nops; k++) {
                int64_t *s = st + k * SG_MAXDIM;
                t = s[a]; s[a] = s[b]; s[b] = t;
            }
        }
    }
    int64_t kept = 0;
    for (int64_t d = 1; d < nd; d++) {
        int merge = 1;
        for (int64_t k = 0; k < nops; k++) {
            const int64_t *s = st + k * SG_MAXDIM;
            merge &= s[kept] == s[d] * dims[d];
        }
        if (merge) {
            dims[kept] *= dims[d];
            for (int64_t k = 0; k < nops; k++) st[k * SG_MAXDIM + kept] = st[k * SG_MAXDIM + d];
        } else {
            kept++;
            dims[kept] = dims[d];
            for (int64_t k = 0; k < nops; k++) st[k * SG_MAXDIM + kept] = st[k * SG_MAXDIM + d];
        }
    }
    return kept + 1;
}
/* endsection */

/* section: driver */
/* The arithmetic of one kernel over n unit-stride elements (operand k at ptr[k]). */
typedef int64_t (*sg_contiguous_fn)(int64_t n, char *const *ptr);

/* Copies n elements of `size` bytes between strided and unit-stride memory. */
static void sg_gather(char *restrict dst, const char *restrict src, int64_t step, int64_t n, int64_t size)
{
    switch (size) {
    case 8: for (int64_t i = 0; i < n; i++) memcpy(dst + 8 * i, src + i * step, 8); break;
    case 4: for (int64_t i = 0; i < n; i++) memcpy(dst + 4 * i, src + i * step, 4); break;
    case 2: for (int64_t i = 0; i < n; i++) memcpy(dst + 2 * i, src + i * step, 2); break;
    case 1: for (int64_t i = 0; i < n; i++) dst[i] = src[i * step]; break;
    default: for (int64_t i = 0; i < n; i++) memcpy(dst + size * i, src + i * step, size);
    }
}

static void sg_scatter(char *restrict dst, int64_t step, const char *restrict src, int64_t n, int64_t size)
{
    switch (size) {
    case 8: for (int64_t i = 0; i < n; i++) memcpy(dst + i * step, src + 8 * i, 8); break;
    case 4: for (int64_t i = 0; i < n; i++) memcpy(dst + i * step, src + 4 * i, 4); break;
    case 2: for (int64_t i = 0; i < n; i++) memcpy(dst + i * step, src + 2 * i, 2); break;
    case 1: for (int64_t i = 0; i < n; i++) dst[i * step] = src[i]; break;
    default: for (int64_t i = 0; i < n; i++) memcpy(dst + i * step, src + size * i, size);
    }
}

/* One row of n elements with any strides: unit-stride operands are used in place; others are
 * gathered into (inputs; zero-stride ones filled once) or scattered from (outputs) blocks of
 * SG_BLOCK elements, so the kernel's contiguous loop does all the arithmetic. */
SG_LIGHT_OPT static int64_t sg_elemwise_row(sg_contiguous_fn run, int64_t nops, int64_t nin, const int64_t *itemsize,
                               int64_t n, char *const *ptr, const int64_t *step)
{
    int unit[nops], all_unit = 1;
    for (int64_t k = 0; k < nops; k++) {
        unit[k] = n == 1 || step[k] == itemsize[k];
        all_unit &= unit[k];
    }
    if (all_unit) return run(n, ptr);
    _Alignas(64) char buf[nops][SG_BLOCK * 8]; /* 8 bytes: the widest dtype */
    char *p[nops];
    const int64_t first = n < SG_BLOCK ? n : SG_BLOCK;
    for (int64_t k = 0; k < nin; k++)
        if (!unit[k] && step[k] == 0)
            for (int64_t i = 0; i < first; i++) memcpy(buf[k] + i * itemsize[k], ptr[k], itemsize[k]);
    int64_t sg_err = 0;
    for (int64_t off = 0; off < n; off += SG_BLOCK) {
        const int64_t len = n - off < SG_BLOCK ? n - off : SG_BLOCK;
        for (int64_t k = 0; k < nops; k++) {
            p[k] = unit[k] ? ptr[k] + off * itemsize[k] : buf[k];
            if (k < nin && !unit[k] && step[k] != 0)
                sg_gather(buf[k], ptr[k] + off * step[k], step[k], len, itemsize[k]);
        }
        sg_err |= run(len, p);
        for (int64_t k = nin; k < nops; k++)
            if (!unit[k]) sg_scatter(ptr[k] + off * step[k], step[k], buf[k], len, itemsize[k]);
    }
    return sg_err;
}

/* The exported function of every elementwise kernel: simplify the axes, then run the rows on
 * one thread or several (from `parallel_min` elements on). */
SG_LIGHT_OPT static int64_t sg_elemwise_drive(sg_contiguous_fn run, int64_t nops, int64_t nin, const int64_t *itemsize,
                                 int64_t parallel_min, int64_t ndim, const int64_t *shape,
                                 char *const *data, const int64_t *strides)
{
    int64_t dims[SG_MAXDIM], st[nops * SG_MAXDIM], step[nops];
    int64_t nd = sg_prepare(ndim, shape, nops, strides, dims, st);
    if (nd == -1) return 0;
    if (nd < 0) return SG_ERR_NDIM;
    const int64_t n = dims[nd - 1];
    int64_t rows = 1;
    for (int64_t k = 0; k < nops; k++) step[k] = st[k * SG_MAXDIM + nd - 1];
    for (int64_t d = 0; d < nd - 1; d++) rows *= dims[d];
    const int threads = sg_threads > 1 && rows * n >= parallel_min ? sg_threads : 1;
    int64_t sg_err = 0;
    if (threads > 1 && rows == 1) { /* one long row: contiguous chunks, one per thread */
        const int64_t chunk = ((n + threads - 1) / threads + SG_VLEN - 1) / SG_VLEN * SG_VLEN;
        #pragma omp parallel for num_threads(threads) reduction(|:sg_err) schedule(static)
        for (int64_t t = 0; t < threads; t++) {
            const int64_t off = t * chunk, len = off >= n ? 0 : (n - off < chunk ? n - off : chunk);
            char *p[nops];
            for (int64_t k = 0; k < nops; k++) p[k] = data[k] + off * step[k];
            if (len > 0) sg_err |= sg_elemwise_row(run, nops, nin, itemsize, len, p, step);
        }
        return sg_err;
    }
    if (threads > 1) { /* rows split between threads; each finds its row's pointers */
        #pragma omp parallel for num_threads(threads) reduction(|:sg_err) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            char *p[nops];
            for (int64_t k = 0; k < nops; k++) p[k] = data[k];
            for (int64_t d = nd - 2, rest = r; d >= 0; d--) {
                const int64_t i = rest % dims[d];
                rest /= dims[d];
                for (int64_t k = 0; k < nops; k++) p[k] += i * st[k * SG_MAXDIM + d];
            }
            sg_err |= sg_elemwise_row(run, nops, nin, itemsize, n, p, step);
        }
        return sg_err;
    }
    int64_t idx[SG_MAXDIM];
    char *ptr[nops];
    for (int64_t k = 0; k < nops; k++) ptr[k] = data[k];
    for (int64_t d = 0; d < nd - 1; d++) idx[d] = 0;
    for (int64_t r = 0; r < rows; r++) {
        sg_err |= sg_elemwise_row(run, nops, nin, itemsize, n, ptr, step);
        for (int64_t d = nd - 2; d >= 0; d--) { /* the odometer over the outer axes */
            for (int64_t k = 0; k < nops; k++) ptr[k] += st[k * SG_MAXDIM + d];
            if (++idx[d] < dims[d]) break;
            for (int64_t k = 0; k < nops; k++) ptr[k] -= st[k * SG_MAXDIM + d] * dims[d];
            idx[d] = 0;
        }
    }
    return sg_err;
}
/* endsection */

/* section: kernel */
/* Exactly SG_VLEN elements: the loop the compiler vectorizes (vector math through libmvec).
 * Every element of every call goes through this loop, whatever its position, layout or the
 * thread that runs it, so a value never depends on where it sits in an array. */
static inline int64_t @NAME@_block(@BLOCK_PARAMS@)
{
    int64_t sg_err = 0;
    /* Not unrolled: a small body unrolled 16 times leaves only straight-line code, whose math
     * calls gcc then cannot turn into libmvec vector calls. */
    #pragma GCC unroll 1
    for (int64_t i = 0; i < SG_VLEN; i++) {
@BLOCK_BODY@
    }
    return sg_err;
}

/* n unit-stride elements: full blocks in place, the tail padded with its last element.
 * One call site of the block, so the compiler emits the vector loop once per kernel. */
static int64_t @NAME@_contiguous(int64_t n, char *const *ptr)
{
@CONTIGUOUS_DECLS@
    int64_t sg_err = 0;
    for (int64_t i = 0; i < n; i += SG_VLEN) {
        const int64_t m = n - i;
@BLOCK_POINTERS@
        if (m < SG_VLEN) {
            for (int64_t j = 0; j < SG_VLEN; j++) {
                const int64_t from = i + (j < m ? j : m - 1);
@TAIL_GATHER@
            }
@TAIL_POINTERS@
        }
        sg_err |= @NAME@_block(@BLOCK_ARGS@);
        if (m < SG_VLEN)
            for (int64_t j = 0; j < m; j++) {
@TAIL_SCATTER@
            }
    }
    return sg_err;
}

int64_t @NAME@(int64_t ndim, const int64_t *shape, char *const *data, const int64_t *strides)
{
    static const int64_t itemsize[@NOPS@] = { @ITEMSIZES@ };
    return sg_elemwise_drive(@NAME@_contiguous, @NOPS@, @NIN@, itemsize, @PARALLEL_MIN@, ndim, shape, data, strides);
}

/* The call of the common case with scalar arguments (cheaper to pass from Python than
 * arrays): n elements of C-contiguous operands of one shape, except the inputs whose bit is
 * set in `scalars` (0-d: read as broadcast). */
int64_t @NAME@_flat(int64_t n, int64_t scalars, @FLAT_PARAMS@)
{
    char *const data[@NOPS@] = { @FLAT_ARGS@ };
    static const int64_t itemsize[@NOPS@] = { @ITEMSIZES@ };
    int64_t step[@NOPS@];
    for (int64_t k = 0; k < @NOPS@; k++) step[k] = k < @NIN@ && k < 63 && (scalars >> k) & 1 ? 0 : itemsize[k];
    return sg_elemwise_drive(@NAME@_contiguous, @NOPS@, @NIN@, itemsize, @PARALLEL_MIN@, 1, &n, data, step);
}
/* endsection */
