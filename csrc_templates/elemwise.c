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
static int64_t sg_prepare(int64_t ndim, const int64_t *shape, int64_t nops, const int64_t *strides,
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

/* section: kernel */
/* Exactly SG_VLEN elements: the loop the compiler vectorizes (vector math through libmvec).
 * Every element of every call goes through this loop, whatever its position, layout or the
 * thread that runs it, so a value never depends on where it sits in an array. */
static inline int64_t @NAME@_block(@BLOCK_PARAMS@)
{
    int64_t sg_err = 0;
    for (int64_t i = 0; i < SG_VLEN; i++) {
@BLOCK_BODY@
    }
    return sg_err;
}

/* n unit-stride elements: full blocks in place, the tail padded with its last element. */
static int64_t @NAME@_contiguous(int64_t n, @CONTIGUOUS_PARAMS@)
{
    int64_t sg_err = 0, i = 0;
    for (; i + SG_VLEN <= n; i += SG_VLEN) sg_err |= @NAME@_block(@BLOCK_ARGS@);
    if (i < n) {
        const int64_t m = n - i;
@TAIL_DECLS@
        for (int64_t j = 0; j < SG_VLEN; j++) {
            const int64_t from = i + (j < m ? j : m - 1);
@TAIL_GATHER@
        }
        sg_err |= @NAME@_block(@TAIL_ARGS@);
        for (int64_t j = 0; j < m; j++) {
@TAIL_SCATTER@
        }
    }
    return sg_err;
}

/* One row of n elements with any strides: unit-stride operands are used in place; others
 * are gathered into (inputs; zero-stride ones filled once) or scattered from (outputs)
 * blocks of SG_BLOCK elements, so the contiguous loop above does all the arithmetic. */
static int64_t @NAME@_row(int64_t n, char *const *ptr, const int64_t *step)
{
    enum { NOPS = @NOPS@ };
    static const int64_t itemsize[NOPS] = { @ITEMSIZES@ };
    int unit[NOPS], all_unit = 1;
    for (int64_t k = 0; k < NOPS; k++) {
        unit[k] = n == 1 || step[k] == itemsize[k];
        all_unit &= unit[k];
    }
    if (all_unit) return @NAME@_contiguous(n, @ROW_ARGS_FULL@);
@ROW_BUFFERS@
    int64_t sg_err = 0;
    for (int64_t off = 0; off < n; off += SG_BLOCK) {
        const int64_t len = n - off < SG_BLOCK ? n - off : SG_BLOCK;
@ROW_GATHER@
        sg_err |= @NAME@_contiguous(len, @ROW_ARGS_BLOCK@);
@ROW_SCATTER@
    }
    return sg_err;
}

int64_t @NAME@(int64_t ndim, const int64_t *shape, char *const *data, const int64_t *strides)
{
    enum { NOPS = @NOPS@ };
    int64_t dims[SG_MAXDIM], st[NOPS * SG_MAXDIM], step[NOPS];
    int64_t nd = sg_prepare(ndim, shape, NOPS, strides, dims, st);
    if (nd == -1) return 0;
    if (nd < 0) return SG_ERR_NDIM;
    const int64_t n = dims[nd - 1];
    int64_t rows = 1;
    for (int64_t k = 0; k < NOPS; k++) step[k] = st[k * SG_MAXDIM + nd - 1];
    for (int64_t d = 0; d < nd - 1; d++) rows *= dims[d];
    const int threads = sg_threads > 1 && rows * n >= @PARALLEL_MIN@ ? sg_threads : 1;
    int64_t sg_err = 0;
    if (threads > 1 && rows == 1) { /* one long row: contiguous chunks, one per thread */
        const int64_t chunk = (n / threads + SG_VLEN - 1) / SG_VLEN * SG_VLEN;
        #pragma omp parallel for num_threads(threads) reduction(|:sg_err) schedule(static)
        for (int64_t t = 0; t < threads; t++) {
            const int64_t off = t * chunk, len = off >= n ? 0 : (n - off < chunk ? n - off : chunk);
            char *p[NOPS];
            for (int64_t k = 0; k < NOPS; k++) p[k] = data[k] + off * step[k];
            if (len > 0) sg_err |= @NAME@_row(len, p, step);
        }
        return sg_err;
    }
    if (threads > 1) { /* rows split between threads; each finds its row's pointers */
        #pragma omp parallel for num_threads(threads) reduction(|:sg_err) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            char *p[NOPS];
            for (int64_t k = 0; k < NOPS; k++) p[k] = data[k];
            for (int64_t d = nd - 2, rest = r; d >= 0; d--) {
                const int64_t i = rest % dims[d];
                rest /= dims[d];
                for (int64_t k = 0; k < NOPS; k++) p[k] += i * st[k * SG_MAXDIM + d];
            }
            sg_err |= @NAME@_row(n, p, step);
        }
        return sg_err;
    }
    int64_t idx[SG_MAXDIM];
    char *ptr[NOPS];
    for (int64_t k = 0; k < NOPS; k++) ptr[k] = data[k];
    for (int64_t d = 0; d < nd - 1; d++) idx[d] = 0;
    for (int64_t r = 0; r < rows; r++) {
        sg_err |= @NAME@_row(n, ptr, step);
        for (int64_t d = nd - 2; d >= 0; d--) { /* the odometer over the outer axes */
            for (int64_t k = 0; k < NOPS; k++) ptr[k] += st[k * SG_MAXDIM + d];
            if (++idx[d] < dims[d]) break;
            for (int64_t k = 0; k < NOPS; k++) ptr[k] -= st[k * SG_MAXDIM + d] * dims[d];
            idx[d] = 0;
        }
    }
    return sg_err;
}
/* endsection */
