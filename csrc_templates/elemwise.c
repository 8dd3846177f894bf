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
/* The loop over unit-stride arrays: the one the compiler vectorizes. */
static int64_t @NAME@_contiguous(int64_t n, @CONTIGUOUS_PARAMS@)
{
    int64_t sg_err = 0;
    for (int64_t i = 0; i < n; i++) {
@CONTIGUOUS_BODY@
    }
    return sg_err;
}

/* One row whose inputs have unit or zero stride: zero-stride inputs are read from a block
 * filled with their value, so the vectorized loop above serves broadcasting too. */
static int64_t @NAME@_row(int64_t n, char *const *ptr, const int *unit)
{
    if (@ALL_UNIT@) return @NAME@_contiguous(n, @ROW_ARGS_FULL@);
@ROW_BUFFERS@
    int64_t sg_err = 0;
    for (int64_t off = 0; off < n; off += SG_BLOCK) {
        int64_t len = n - off < SG_BLOCK ? n - off : SG_BLOCK;
        sg_err |= @NAME@_contiguous(len, @ROW_ARGS_BLOCK@);
    }
    return sg_err;
}

/* Any strides along the row. */
static int64_t @NAME@_strided(int64_t n, char *const *ptr, const int64_t *step)
{
    int64_t sg_err = 0;
@STRIDED_DECLS@
    for (int64_t i = 0; i < n; i++) {
@STRIDED_BODY@
    }
    return sg_err;
}

int64_t @NAME@(int64_t ndim, const int64_t *shape, char *const *data, const int64_t *strides)
{
    enum { NOPS = @NOPS@ };
    static const int64_t itemsize[NOPS] = { @ITEMSIZES@ };
    int64_t dims[SG_MAXDIM], st[NOPS * SG_MAXDIM], idx[SG_MAXDIM], step[NOPS];
    int unit[NOPS];
    char *ptr[NOPS];
    int64_t nd = sg_prepare(ndim, shape, NOPS, strides, dims, st);
    if (nd == -1) return 0;
    if (nd < 0) return SG_ERR_NDIM;
    int64_t n = dims[nd - 1], rows = 1, fast = 1;
    for (int64_t k = 0; k < NOPS; k++) {
        step[k] = st[k * SG_MAXDIM + nd - 1];
        unit[k] = n == 1 || step[k] == itemsize[k];
        fast &= unit[k] || (k < @NIN@ && step[k] == 0);
        ptr[k] = data[k];
    }
    for (int64_t d = 0; d < nd - 1; d++) {
        rows *= dims[d];
        idx[d] = 0;
    }
    int64_t sg_err = 0;
    for (int64_t r = 0; r < rows; r++) {
        sg_err |= fast ? @NAME@_row(n, ptr, unit) : @NAME@_strided(n, ptr, step);
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
