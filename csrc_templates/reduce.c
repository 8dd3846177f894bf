/* reduce.c: the C of reductions (Reduce, FusedReduce, SumToShape, Argmax).
 *
 * Filled in by symgrad/codegen/reduce_c.py, which documents the design (row and column mode,
 * NumPy's pairwise summation, threads and the determinism they keep). Sections:
 *
 *   plan      helpers every reduction kernel shares (emitted once per library): the layout
 *             of a reduction after dropping length-1 axes and merging axes, and odometers;
 *   head      per kernel: the line reader (`fetch`: a stretch of values as a contiguous
 *             array, read in place or computed into a block) and the combine step;
 *   pairwise  per float sum: NumPy's pairwise summation as the line reduction;
 *   lanes     per other kind: a line reduction with SG_RLANES independent accumulators;
 *   drivers   per kernel: row mode, column mode, threads, the entry point;
 *   argmax    per Argmax kernel: first index of the extreme.
 *
 * An entry point is
 *
 *     int64_t <name>(int64_t ndim, const int64_t *shape, const unsigned char *red,
 *                    const int64_t *st, char *const *data, int64_t *meta)
 *
 * over a loop of `ndim` axes of lengths `shape` (the broadcast shape of the inputs), `red[d]`
 * saying whether loop axis d is reduced; `data` holds the inputs, then the output (fresh,
 * C-contiguous over the kept axes); `st[k * ndim + d]` is operand k's byte stride along loop
 * axis d (0 on broadcast axes, and for the output on reduced axes).
 */

/* section: plan */
#define SG_RBLOCK 128     /* values gathered or computed at a time (NumPy's pairwise leaf) */
#define SG_RLANES 32      /* independent accumulators of a line reduction */
#define SG_RPIECE 65536   /* long reductions are split into pieces of this many elements */
#define SG_RCHUNK 2048    /* output elements of one column-mode task */
#define SG_RCOLBLOCK 1024 /* reduced positions folded into a fresh accumulator (column mode) */
#define SG_RSUPER 64      /* column blocks computed in parallel at a time */
/* Loops whose accumulators are better spread over 256-bit vectors (more independent chains);
 * noinline keeps the setting from being lost in a caller. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SG_RNARROW __attribute__((noinline, target("prefer-vector-width=256")))
#else
#define SG_RNARROW
#endif
/* NaN-propagating max/min of floats (NumPy's), branch-free so that lanes vectorize. */
#define SG_RMAX(a, b) ((((a) > (b)) | ((a) != (a))) ? (a) : (b))
#define SG_RMIN(a, b) ((((a) < (b)) | ((a) != (a))) ? (a) : (b))

/* A reduction after dropping length-1 axes and merging axes that every operand walks as one.
 * Operands: the inputs, then the output (k == nin). Strides are in bytes, kst[k * SG_MAXDIM + d]
 * along kept axis d, rst[...] along reduced axis d (outermost first; the last one is the line
 * that row mode reads). There is always at least one reduced axis (of length 1 if need be). */
typedef struct {
    int64_t nin;
    int64_t nk, nr;
    int64_t nout, nred; /* output elements; elements reduced into each */
    int64_t kdim[SG_MAXDIM], rdim[SG_MAXDIM];
    int64_t *kst, *rst;
} sg_rplan;

/* How much memory the inputs walk along an axis: picks the inner axes. */
static int64_t sg_rweight(const int64_t *st, int64_t nin, int64_t d)
{
    int64_t w = 0;
    for (int64_t k = 0; k < nin; k++) w += llabs(st[k * SG_MAXDIM + d]);
    return w;
}

/* Merges each axis into the one before it when all operands walk the pair as one axis. */
static int64_t sg_rmerge(int64_t *dim, int64_t *st, int64_t nops, int64_t count)
{
    if (count == 0) return 0;
    int64_t m = 0;
    for (int64_t d = 1; d < count; d++) {
        int merge = 1;
        for (int64_t k = 0; k < nops; k++)
            merge &= st[k * SG_MAXDIM + m] == st[k * SG_MAXDIM + d] * dim[d];
        if (merge) {
            dim[m] *= dim[d];
        } else {
            m++;
            dim[m] = dim[d];
        }
        for (int64_t k = 0; k < nops; k++) st[k * SG_MAXDIM + m] = st[k * SG_MAXDIM + d];
    }
    return m + 1;
}

/* Fills the plan. sort: order the reduced axes by stride, innermost smallest (not for argmax,
 * whose index counts the logical C order). Returns 0, or -1 (too many axes, or sizes that
 * overflow). */
static int sg_rplan_make(sg_rplan *p, int64_t ndim, const int64_t *shape, const unsigned char *red,
                         int64_t nin, const int64_t *st, int sort, int64_t *kst, int64_t *rst)
{
    const int64_t nops = nin + 1;
    if (ndim > SG_MAXDIM) return -1;
    p->nin = nin;
    p->kst = kst;
    p->rst = rst;
    p->nk = p->nr = 0;
    int64_t nout = 1, nred = 1;
    int zero_out = 0, zero_red = 0, overflow_out = 0, overflow_red = 0;
    for (int64_t d = 0; d < ndim; d++) {
        const int64_t n = shape[d];
        if (n < 0) return -1;
        if (red[d]) {
            zero_red |= n == 0;
            overflow_red |= __builtin_mul_overflow(nred, n, &nred);
        } else {
            zero_out |= n == 0;
            overflow_out |= __builtin_mul_overflow(nout, n, &nout);
        }
        if (n == 1) continue;
        int64_t *count = red[d] ? &p->nr : &p->nk;
        int64_t *dst = red[d] ? rst : kst;
        (red[d] ? p->rdim : p->kdim)[*count] = n;
        for (int64_t k = 0; k < nops; k++) dst[k * SG_MAXDIM + *count] = st[k * ndim + d];
        (*count)++;
    }
    p->nout = zero_out ? 0 : nout;
    p->nred = zero_red ? 0 : nred;
    if ((overflow_out && !zero_out) || (overflow_red && !zero_red && !zero_out)) return -1;
    if (sort) { /* stable insertion sort, largest stride first */
        for (int64_t d = 1; d < p->nr; d++) {
            for (int64_t e = d; e > 0 && sg_rweight(rst, nin, e - 1) < sg_rweight(rst, nin, e); e--) {
                int64_t t = p->rdim[e];
                p->rdim[e] = p->rdim[e - 1];
                p->rdim[e - 1] = t;
                for (int64_t k = 0; k < nops; k++) {
                    int64_t *s = rst + k * SG_MAXDIM;
                    t = s[e];
                    s[e] = s[e - 1];
                    s[e - 1] = t;
                }
            }
        }
    }
    p->nk = sg_rmerge(p->kdim, kst, nops, p->nk);
    p->nr = sg_rmerge(p->rdim, rst, nops, p->nr);
    if (p->nr == 0) {
        p->rdim[0] = 1;
        for (int64_t k = 0; k < nops; k++) rst[k * SG_MAXDIM] = 0;
        p->nr = 1;
    }
    return 0;
}

/* Column mode's inner axis: the kept axis of smallest stride when the inputs walk it in
 * smaller steps than the innermost reduced axis and it is long enough to vectorize; else -1
 * (row mode). */
static int64_t sg_rplan_column(const sg_rplan *p)
{
    int64_t best = -1, wbest = INT64_MAX;
    for (int64_t d = 0; d < p->nk; d++) {
        const int64_t w = sg_rweight(p->kst, p->nin, d);
        if (w <= wbest) {
            wbest = w;
            best = d;
        }
    }
    if (best < 0 || p->kdim[best] < 8) return -1;
    const int64_t last = p->nr - 1;
    if (p->rdim[last] == 1) return best; /* nothing reduced: a copy along the kept axis */
    return wbest < sg_rweight(p->rst, p->nin, last) ? best : -1;
}

/* Operand pointers (all nin + 1) at kept position m: flat C order over the kept axes except
 * `skip` (column mode's inner axis, or -1), whose index stays 0. */
static void sg_rkept_at(const sg_rplan *p, int64_t m, int64_t skip, char *const *data, char **ptr,
                        int64_t *idx)
{
    const int64_t nops = p->nin + 1;
    for (int64_t k = 0; k < nops; k++) ptr[k] = data[k];
    for (int64_t d = p->nk - 1; d >= 0; d--) {
        idx[d] = 0;
        if (d == skip) continue;
        const int64_t n = p->kdim[d], i = m % n;
        m /= n;
        idx[d] = i;
        for (int64_t k = 0; k < nops; k++) ptr[k] += i * p->kst[k * SG_MAXDIM + d];
    }
}

/* The next kept position (the odometer of sg_rkept_at). */
static void sg_rkept_next(const sg_rplan *p, int64_t skip, char **ptr, int64_t *idx)
{
    const int64_t nops = p->nin + 1;
    for (int64_t d = p->nk - 1; d >= 0; d--) {
        if (d == skip) continue;
        for (int64_t k = 0; k < nops; k++) ptr[k] += p->kst[k * SG_MAXDIM + d];
        if (++idx[d] < p->kdim[d]) return;
        for (int64_t k = 0; k < nops; k++) ptr[k] -= p->kst[k * SG_MAXDIM + d] * p->kdim[d];
        idx[d] = 0;
    }
}

/* Input pointers at position c of the reduced axes [0, naxes) (flat C order), from base. */
static void sg_rred_at(const sg_rplan *p, int64_t c, int64_t naxes, char *const *base, char **ptr,
                       int64_t *idx)
{
    for (int64_t k = 0; k < p->nin; k++) ptr[k] = base[k];
    for (int64_t d = naxes - 1; d >= 0; d--) {
        const int64_t n = p->rdim[d], i = c % n;
        c /= n;
        idx[d] = i;
        for (int64_t k = 0; k < p->nin; k++) ptr[k] += i * p->rst[k * SG_MAXDIM + d];
    }
}

static void sg_rred_next(const sg_rplan *p, int64_t naxes, char **ptr, int64_t *idx)
{
    for (int64_t d = naxes - 1; d >= 0; d--) {
        for (int64_t k = 0; k < p->nin; k++) ptr[k] += p->rst[k * SG_MAXDIM + d];
        if (++idx[d] < p->rdim[d]) return;
        for (int64_t k = 0; k < p->nin; k++) ptr[k] -= p->rst[k * SG_MAXDIM + d] * p->rdim[d];
        idx[d] = 0;
    }
}

/* NumPy broadcasting of nin inputs to ndim axes: the loop shape, or -1 if they do not fit. */
static int sg_rbroadcast(int64_t nin, const sg_array *in, int64_t ndim, int64_t *shape)
{
    for (int64_t d = 0; d < ndim; d++) shape[d] = 1;
    for (int64_t k = 0; k < nin; k++) {
        const int64_t off = ndim - in[k].ndim;
        for (int64_t d = 0; d < in[k].ndim; d++) {
            const int64_t n = in[k].shape[d], have = shape[off + d];
            if (n == have || n == 1) continue;
            if (have != 1) return -1;
            shape[off + d] = n;
        }
    }
    return 0;
}

/* The inputs' byte strides over the loop axes (0 where an input is broadcast): st[k * ndim + d]. */
static void sg_rinput_strides(int64_t nin, const sg_array *in, int64_t ndim, int64_t *st)
{
    for (int64_t k = 0; k < nin; k++) {
        const int64_t off = ndim - in[k].ndim;
        for (int64_t d = 0; d < ndim; d++) {
            const int64_t a = d - off;
            st[k * ndim + d] = a < 0 || in[k].shape[a] == 1 ? 0 : in[k].strides[a];
        }
    }
}
/* endsection */

/* section: head */
/* One line of len values: operand k starts at p[k] and steps s[k] bytes. A fused reduction
 * computes the values of a window [w0, w1) of up to @WINDOW@ positions at once into v (inputs
 * that are not unit-stride are gathered into b<k> first, broadcast ones filled once per line);
 * the leaves of a pairwise sum then read the window instead of each computing its own block
 * (and its scalar loop tail). A plain reduction gathers a strided line into v. */
typedef struct {
    char *p[@NIN@];
    int64_t s[@NIN@];
    int filled[@NIN@];
    int64_t len, w0, w1;
    @VT@ v[@WINDOW@];
@BUFFERS@
} @NAME@_line;

#define @NAME@_COMBINE(a, v) (@COMBINE@)

/* Starts a line of len values at ptr; st[k * SG_MAXDIM] is operand k's stride along it. */
static inline void @NAME@_set(@NAME@_line *L, char *const *ptr, const int64_t *st, int64_t len)
{
    for (int64_t k = 0; k < @NIN@; k++) {
        L->p[k] = ptr[k];
        L->s[k] = st[k * SG_MAXDIM];
        L->filled[k] = 0;
    }
    L->len = len;
    L->w0 = L->w1 = 0;
}

@VALUES@

/* Values i0 .. i0 + *n - 1 of the line (i0 + *n <= len) as a contiguous array: the input
 * itself when the op reads one unit-stride input, else values in L->v. *n may come back
 * smaller, but never below min(*n, SG_RBLOCK). */
static const @VT@ *@NAME@_fetch(@NAME@_line *L, int64_t i0, int64_t *n, int64_t *err)
{
@FETCH@
}
/* endsection */

/* section: pairwise */
/* NumPy's pairwise summation (its add reduction over a line), step for step, so that sums
 * agree with NumPy's to the bit: halves (rounded to multiples of 8) down to at most 128
 * elements, which are added with 8 accumulators. Error O(log n) instead of O(n) ulps.
 * The 8 accumulators of a leaf are 2 chains of 256-bit vectors (SG_RNARROW) rather than 1
 * chain of 512-bit ones: twice the throughput, the same operations. */
static SG_RNARROW @AT@ @NAME@_leaf(const @VT@ *v, int64_t n)
{
    if (n < 8) {
        @AT@ res = -0.0;
        for (int64_t i = 0; i < n; i++) res += v[i];
        return res;
    }
    @AT@ r[8];
    for (int j = 0; j < 8; j++) r[j] = v[j];
    int64_t i = 8;
    for (; i < n - n % 8; i += 8)
        for (int j = 0; j < 8; j++) r[j] += v[i + j];
    @AT@ res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += v[i];
    return res;
}

static @AT@ @NAME@_pairwise(@NAME@_line *L, int64_t i0, int64_t n, int64_t *err)
{
    if (n > 128) {
        int64_t n2 = n / 2;
        n2 -= n2 % 8;
        return @NAME@_pairwise(L, i0, n2, err) + @NAME@_pairwise(L, i0 + n2, n - n2, err);
    }
    int64_t got = n;
    return @NAME@_leaf(@NAME@_fetch(L, i0, &got, err), n); /* n <= SG_RBLOCK: all of it */
}

static @AT@ @NAME@_line_reduce(@NAME@_line *L, int64_t i0, int64_t n, int64_t *err)
{
    return @NAME@_pairwise(L, i0, n, err);
}

/* The sum of one long line: the top 2^depth pieces of the recursion (in parallel when par),
 * then added level by level, left + right: the same operations as the plain recursion (each
 * node split here is longer than 128, so the recursion splits it the same way). The depth
 * depends on n alone, so the pieces, and where a fused line computes its windows of values
 * (libm and its vector variants may differ in the last bit), do not depend on threads. */
static @AT@ @NAME@_pairwise_top(const sg_rplan *p, char *const *base, int64_t n, int par, int64_t *err)
{
    const int64_t *st = p->rst + (p->nr - 1);
    int64_t depth = 0;
    while (depth < 6 && (n >> (depth + 1)) >= 4096) depth++;
    if (depth == 0) {
        @NAME@_line L;
        @NAME@_set(&L, base, st, n);
        return @NAME@_pairwise(&L, 0, n, err);
    }
    int64_t start[64], len[64];
    start[0] = 0;
    len[0] = n;
    for (int64_t t = 0; t < depth; t++) {
        for (int64_t j = ((int64_t)1 << t) - 1; j >= 0; j--) { /* children 2j, 2j+1 >= j */
            const int64_t s0 = start[j], n0 = len[j];
            int64_t n2 = n0 / 2;
            n2 -= n2 % 8;
            start[2 * j] = s0;
            len[2 * j] = n2;
            start[2 * j + 1] = s0 + n2;
            len[2 * j + 1] = n0 - n2;
        }
    }
    const int64_t pieces = (int64_t)1 << depth;
    @AT@ sum[64];
    int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(static) reduction(| : e) if (par)
    for (int64_t i = 0; i < pieces; i++) {
        @NAME@_line L;
        @NAME@_set(&L, base, st, n);
        sum[i] = @NAME@_pairwise(&L, start[i], len[i], &e);
    }
    *err |= e;
    for (int64_t w = pieces / 2; w >= 1; w /= 2)
        for (int64_t j = 0; j < w; j++) sum[j] = sum[2 * j] + sum[2 * j + 1];
    return sum[0];
}
/* endsection */

/* section: lanes */
/* A line folded into SG_RLANES accumulators (lane j takes the elements j mod SG_RLANES of each
 * block: independent chains the compiler vectorizes), combined as a tree at the end. */
static @AT@ @NAME@_line_reduce(@NAME@_line *L, int64_t i0, int64_t n, int64_t *err)
{
    @AT@ lane[SG_RLANES];
    for (int j = 0; j < SG_RLANES; j++) lane[j] = @INIT@;
    for (int64_t off = 0; off < n;) {
        int64_t len = n - off;
        const @VT@ *v = @NAME@_fetch(L, i0 + off, &len, err);
        int64_t i = 0;
        for (; i + SG_RLANES <= len; i += SG_RLANES)
            for (int j = 0; j < SG_RLANES; j++) lane[j] = @NAME@_COMBINE(lane[j], v[i + j]);
        for (; i < len; i++) lane[0] = @NAME@_COMBINE(lane[0], v[i]);
        off += len;
    }
    for (int w = SG_RLANES / 2; w >= 1; w /= 2) /* a tree: vectorized too */
        for (int j = 0; j < w; j++) lane[j] = @NAME@_COMBINE(lane[j], lane[j + w]);
    return lane[0];
}
/* endsection */

/* section: drivers */
/* Row mode: each output element is its own reduction, done as a fixed sequence of pieces
 * (a single line longer than SG_RPIECE is cut into stretches of SG_RPIECE elements; several
 * lines are taken in groups of about SG_RPIECE elements), folded in order. The pieces do not
 * depend on the thread count; threads only compute them at the same time. */
static int64_t @NAME@_npieces(const sg_rplan *p)
{
    const int64_t n = p->rdim[p->nr - 1], lines = p->nred / n;
    if (lines == 1) return (n + SG_RPIECE - 1) / SG_RPIECE;
    const int64_t group = n >= SG_RPIECE ? 1 : SG_RPIECE / n;
    return (lines + group - 1) / group;
}

static @AT@ @NAME@_piece(const sg_rplan *p, char *const *base, int64_t i, int64_t *err)
{
    const int64_t r = p->nr - 1, n = p->rdim[r], lines = p->nred / n;
    @NAME@_line L;
    if (lines == 1) {
        const int64_t start = i * SG_RPIECE, len = n - start < SG_RPIECE ? n - start : SG_RPIECE;
        @NAME@_set(&L, base, p->rst + r, n);
        return @NAME@_line_reduce(&L, start, len, err);
    }
    const int64_t group = n >= SG_RPIECE ? 1 : SG_RPIECE / n;
    const int64_t l0 = i * group, l1 = l0 + group < lines ? l0 + group : lines;
    char *ptr[@NIN@ + 1];
    int64_t idx[SG_MAXDIM];
    sg_rred_at(p, l0, r, base, ptr, idx);
    @AT@ acc = @INIT@;
    for (int64_t l = l0; l < l1; l++) {
        @NAME@_set(&L, ptr, p->rst + r, n);
        acc = @NAME@_COMBINE(acc, @NAME@_line_reduce(&L, 0, n, err));
        sg_rred_next(p, r, ptr, idx);
    }
    return acc;
}

/* One output element (operand pointers at its kept position); par: may use threads. */
static @AT@ @NAME@_output(const sg_rplan *p, char *const *base, int par, int64_t *err)
{
#if @PAIRWISE@
    if (p->nred == p->rdim[p->nr - 1])
        return @NAME@_COMBINE(@INIT@, @NAME@_pairwise_top(p, base, p->nred, par, err));
#endif
    const int64_t np = @NAME@_npieces(p);
    @AT@ acc = @INIT@;
    @AT@ *part = par && np > 1 ? malloc((size_t)np * sizeof(@AT@)) : NULL;
    if (part == NULL) { /* the same pieces, one after the other */
        for (int64_t i = 0; i < np; i++) acc = @NAME@_COMBINE(acc, @NAME@_piece(p, base, i, err));
        return acc;
    }
    int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(static) reduction(| : e)
    for (int64_t i = 0; i < np; i++) part[i] = @NAME@_piece(p, base, i, &e);
    *err |= e;
    for (int64_t i = 0; i < np; i++) acc = @NAME@_COMBINE(acc, part[i]);
    free(part);
    return acc;
}

/* Output elements m0 .. m1 - 1 (flat C order). */
static void @NAME@_rows(const sg_rplan *p, char *const *data, int64_t m0, int64_t m1, int par, int64_t *err)
{
    char *ptr[@NIN@ + 1];
    int64_t idx[SG_MAXDIM];
    sg_rkept_at(p, m0, -1, data, ptr, idx);
    for (int64_t m = m0; m < m1; m++) {
        *(@AT@ *)ptr[@NIN@] = @NAME@_output(p, ptr, par, err);
        sg_rkept_next(p, -1, ptr, idx);
    }
}

/* Column mode: tmp[j] (j < len) = the fold from INIT of reduced positions
 * b * SG_RCOLBLOCK .. (b + 1) * SG_RCOLBLOCK - 1 for the len outputs along kept axis kin that
 * start at base: the inner loop runs along the outputs, which the compiler vectorizes. */
static SG_RNARROW void @NAME@_col_block(const sg_rplan *p, int64_t kin, char *const *base, int64_t len, int64_t b,
                             @AT@ *restrict tmp, int64_t *err)
{
    const int64_t c0 = b * SG_RCOLBLOCK;
    const int64_t c1 = p->nred - c0 < SG_RCOLBLOCK ? p->nred : c0 + SG_RCOLBLOCK;
    for (int64_t j = 0; j < len; j++) tmp[j] = @INIT@;
    char *ptr[@NIN@ + 1];
    int64_t idx[SG_MAXDIM];
    sg_rred_at(p, c0, p->nr, base, ptr, idx);
    @NAME@_line L;
    for (int64_t c = c0; c < c1; c++) {
        @NAME@_set(&L, ptr, p->kst + kin, len);
        for (int64_t j0 = 0; j0 < len;) {
            int64_t n = len - j0;
            const @VT@ *v = @NAME@_fetch(&L, j0, &n, err);
            @AT@ *restrict t = tmp + j0;
#pragma GCC unroll 4
            for (int64_t j = 0; j < n; j++) t[j] = @NAME@_COMBINE(t[j], v[j]);
            j0 += n;
        }
        sg_rred_next(p, p->nr, ptr, idx);
    }
}

/* Column-mode task t: kept position t / nchunks (over the kept axes but kin), chunk
 * t % nchunks of SG_RCHUNK outputs along kin. Blocks of SG_RCOLBLOCK reduced positions are
 * folded into fresh accumulators, then into the result in order (in parallel when par). */
static void @NAME@_col_task(const sg_rplan *p, int64_t kin, char *const *data, int64_t t, int par, int64_t *err)
{
    const int64_t nk = p->kdim[kin], nch = (nk + SG_RCHUNK - 1) / SG_RCHUNK;
    const int64_t j0 = (t % nch) * SG_RCHUNK, len = nk - j0 < SG_RCHUNK ? nk - j0 : SG_RCHUNK;
    char *ptr[@NIN@ + 1];
    int64_t idx[SG_MAXDIM];
    sg_rkept_at(p, t / nch, kin, data, ptr, idx);
    for (int64_t k = 0; k <= @NIN@; k++) ptr[k] += j0 * p->kst[k * SG_MAXDIM + kin];
    @AT@ acc[SG_RCHUNK] __attribute__((aligned(64))), tmp[SG_RCHUNK] __attribute__((aligned(64)));
    for (int64_t j = 0; j < len; j++) acc[j] = @INIT@;
    const int64_t nb = (p->nred + SG_RCOLBLOCK - 1) / SG_RCOLBLOCK;
    @AT@ *part = par && nb > 1 ? malloc(SG_RSUPER * SG_RCHUNK * sizeof(@AT@)) : NULL;
    if (part == NULL) {
        for (int64_t b = 0; b < nb; b++) {
            @NAME@_col_block(p, kin, ptr, len, b, tmp, err);
            for (int64_t j = 0; j < len; j++) acc[j] = @NAME@_COMBINE(acc[j], tmp[j]);
        }
    } else {
        for (int64_t b0 = 0; b0 < nb; b0 += SG_RSUPER) {
            const int64_t count = nb - b0 < SG_RSUPER ? nb - b0 : SG_RSUPER;
            int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(static) reduction(| : e)
            for (int64_t i = 0; i < count; i++)
                @NAME@_col_block(p, kin, ptr, len, b0 + i, part + i * SG_RCHUNK, &e);
            *err |= e;
            for (int64_t i = 0; i < count; i++)
                for (int64_t j = 0; j < len; j++) acc[j] = @NAME@_COMBINE(acc[j], part[i * SG_RCHUNK + j]);
        }
        free(part);
    }
    const int64_t os = p->kst[@NIN@ * SG_MAXDIM + kin];
    for (int64_t j = 0; j < len; j++) *(@AT@ *)(ptr[@NIN@] + j * os) = acc[j];
}

static int64_t @NAME@(int64_t ndim, const int64_t *shape, const unsigned char *red, const int64_t *st,
                      char *const *data, int64_t *meta)
{
    int64_t kst[(@NIN@ + 1) * SG_MAXDIM], rst[(@NIN@ + 1) * SG_MAXDIM];
    sg_rplan p;
    if (sg_rplan_make(&p, ndim, shape, red, @NIN@, st, 1, kst, rst)) SG_FAIL(SG_ERR_OVERFLOW);
    if (p.nout == 0) return 0;
    if (p.nred == 0) {
        for (int64_t m = 0; m < p.nout; m++) ((@AT@ *)data[@NIN@])[m] = @INIT@;
        return 0;
    }
    const int par = sg_threads > 1 && p.nout * p.nred >= SG_PARALLEL_MIN;
    int64_t err = 0;
    const int64_t kin = sg_rplan_column(&p);
    if (kin >= 0) {
        const int64_t nch = (p.kdim[kin] + SG_RCHUNK - 1) / SG_RCHUNK, tasks = p.nout / p.kdim[kin] * nch;
        const int64_t nb = (p.nred + SG_RCOLBLOCK - 1) / SG_RCOLBLOCK;
        if (par && (tasks >= 2 * sg_threads || tasks >= nb)) {
            int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(static) reduction(| : e)
            for (int64_t t = 0; t < tasks; t++) @NAME@_col_task(&p, kin, data, t, 0, &e);
            err = e;
        } else {
            for (int64_t t = 0; t < tasks; t++) @NAME@_col_task(&p, kin, data, t, par, &err);
        }
    } else if (par && (p.nout >= 2 * sg_threads || p.nred < 2 * SG_RPIECE)) {
        const int64_t chunks = p.nout < 16 * sg_threads ? p.nout : 16 * sg_threads;
        int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(static) reduction(| : e)
        for (int64_t c = 0; c < chunks; c++)
            @NAME@_rows(&p, data, p.nout * c / chunks, p.nout * (c + 1) / chunks, 0, &e);
        err = e;
    } else {
        @NAME@_rows(&p, data, 0, p.nout, par, &err);
    }
    return err ? @ERR_CODE@ : 0;
}
/* endsection */

/* section: argmax */
/* Argmax/argmin: the first index of the extreme in the logical C order of the reduced axes
 * (their plan is not sorted, so a flat position is the index). BETTER(v, b): v replaces the
 * best so far b (strictly better, or the first NaN: NumPy's argmax/argmin stop at a NaN). */
#define @NAME@_BETTER(v, b) (@BETTER@)

typedef struct {
    @T@ best;
    int64_t idx;
} @NAME@_arg;

/* Updates res with positions i0 .. i1 - 1 of a line (position c0 at i0), stride s. A
 * contiguous line goes through SG_RLANES lanes that each keep their first best and its
 * position (vectorized); the lanes are then merged: the best value, and of equal ones (or
 * NaNs) the first position. */
static void @NAME@_line(@NAME@_arg *res, const char *q, int64_t s, int64_t i0, int64_t i1, int64_t c0)
{
    int64_t i = i0;
    while (s == (int64_t)sizeof(@T@) && i1 - i >= 2 * SG_RLANES) {
        const int64_t b = i, e = i1 - b < ((int64_t)1 << 30) ? i1 : b + ((int64_t)1 << 30);
        const @T@ *v = (const @T@ *)q + b; /* positions from b fit in 32 bits */
        @T@ best[SG_RLANES];
        int32_t at[SG_RLANES];
        for (int j = 0; j < SG_RLANES; j++) {
            best[j] = v[j];
            at[j] = j;
        }
        int32_t k = SG_RLANES;
        for (; k + SG_RLANES <= e - b; k += SG_RLANES) {
            for (int j = 0; j < SG_RLANES; j++) {
                const @T@ x = v[k + j];
                const int take = @NAME@_BETTER(x, best[j]);
                best[j] = take ? x : best[j];
                at[j] = take ? k + j : at[j];
            }
        }
        for (int j = 0; j < SG_RLANES; j++) {
            const @T@ x = best[j];
            const int64_t c = c0 + (b - i0) + at[j];
            const int same = (x == res->best) | ((x != x) & (res->best != res->best));
            if (@NAME@_BETTER(x, res->best) || (same && c < res->idx)) {
                res->best = x;
                res->idx = c;
            }
        }
        i = b + k;
    }
    for (; i < i1; i++) {
        const @T@ x = *(const @T@ *)(q + i * s);
        if (@NAME@_BETTER(x, res->best)) {
            res->best = x;
            res->idx = c0 + (i - i0);
        }
    }
}

/* The first best of reduced positions c0 .. c1 - 1 (c0 < c1) of the input at base. */
static @NAME@_arg @NAME@_scan(const sg_rplan *p, char *base, int64_t c0, int64_t c1)
{
    const int64_t r = p->nr - 1, n = p->rdim[r], s = p->rst[r];
    char *ptr[2];
    int64_t idx[SG_MAXDIM];
    sg_rred_at(p, c0 / n, r, &base, ptr, idx);
    int64_t i = c0 % n, c = c0;
    @NAME@_arg res = { *(const @T@ *)(ptr[0] + i * s), c0 };
    while (c < c1) {
        const int64_t stop = n - i <= c1 - c ? n : i + (c1 - c);
        @NAME@_line(&res, ptr[0], s, i, stop, c);
        c += stop - i;
        i = 0;
        sg_rred_next(p, r, ptr, idx);
    }
    return res;
}

/* One output: pieces of SG_RPIECE positions (in parallel when par), the first best wins. */
static int64_t @NAME@_one(const sg_rplan *p, char *base, int par)
{
    const int64_t np = (p->nred + SG_RPIECE - 1) / SG_RPIECE;
    @NAME@_arg *part = par && np > 1 ? malloc((size_t)np * sizeof(@NAME@_arg)) : NULL;
    if (part == NULL) return @NAME@_scan(p, base, 0, p->nred).idx;
#pragma omp parallel for num_threads(sg_threads) schedule(static)
    for (int64_t i = 0; i < np; i++) {
        const int64_t c1 = p->nred - i * SG_RPIECE < SG_RPIECE ? p->nred : (i + 1) * SG_RPIECE;
        part[i] = @NAME@_scan(p, base, i * SG_RPIECE, c1);
    }
    @NAME@_arg res = part[0];
    for (int64_t i = 1; i < np; i++)
        if (@NAME@_BETTER(part[i].best, res.best)) res = part[i];
    free(part);
    return res.idx;
}

static void @NAME@_rows(const sg_rplan *p, char *const *data, int64_t m0, int64_t m1, int par)
{
    char *ptr[2];
    int64_t idx[SG_MAXDIM];
    sg_rkept_at(p, m0, -1, data, ptr, idx);
    for (int64_t m = m0; m < m1; m++) {
        *(int64_t *)ptr[1] = @NAME@_one(p, ptr[0], par);
        sg_rkept_next(p, -1, ptr, idx);
    }
}

/* Column mode: SG_RCHUNK outputs along kept axis kin at once, position by position. */
static void @NAME@_col_task(const sg_rplan *p, int64_t kin, char *const *data, int64_t t)
{
    const int64_t nk = p->kdim[kin], nch = (nk + SG_RCHUNK - 1) / SG_RCHUNK;
    const int64_t j0 = (t % nch) * SG_RCHUNK, len = nk - j0 < SG_RCHUNK ? nk - j0 : SG_RCHUNK;
    char *ptr[2], *q[2];
    int64_t idx[SG_MAXDIM], ridx[SG_MAXDIM];
    sg_rkept_at(p, t / nch, kin, data, ptr, idx);
    for (int64_t k = 0; k < 2; k++) ptr[k] += j0 * p->kst[k * SG_MAXDIM + kin];
    const int64_t s = p->kst[kin], os = p->kst[SG_MAXDIM + kin];
    @T@ best[SG_RCHUNK];
    int64_t arg[SG_RCHUNK];
    sg_rred_at(p, 0, p->nr, ptr, q, ridx);
    for (int64_t j = 0; j < len; j++) {
        best[j] = *(const @T@ *)(q[0] + j * s);
        arg[j] = 0;
    }
    for (int64_t c = 1; c < p->nred; c++) {
        sg_rred_next(p, p->nr, q, ridx);
        const char *row = q[0];
        for (int64_t j = 0; j < len; j++) {
            const @T@ v = *(const @T@ *)(row + j * s);
            if (@NAME@_BETTER(v, best[j])) {
                best[j] = v;
                arg[j] = c;
            }
        }
    }
    for (int64_t j = 0; j < len; j++) *(int64_t *)(ptr[1] + j * os) = arg[j];
}

static int64_t @NAME@(int64_t ndim, const int64_t *shape, const unsigned char *red, const int64_t *st,
                      char *const *data, int64_t *meta)
{
    int64_t kst[2 * SG_MAXDIM], rst[2 * SG_MAXDIM];
    sg_rplan p;
    if (sg_rplan_make(&p, ndim, shape, red, 1, st, 0, kst, rst)) SG_FAIL(SG_ERR_OVERFLOW);
    if (p.nout == 0 || p.nred == 0) return 0; /* an empty reduced axis was refused before */
    const int par = sg_threads > 1 && p.nout * p.nred >= SG_PARALLEL_MIN;
    const int64_t kin = sg_rplan_column(&p);
    if (kin >= 0) {
        const int64_t tasks = p.nout / p.kdim[kin] * ((p.kdim[kin] + SG_RCHUNK - 1) / SG_RCHUNK);
#pragma omp parallel for num_threads(sg_threads) schedule(static) if (par)
        for (int64_t t = 0; t < tasks; t++) @NAME@_col_task(&p, kin, data, t);
    } else if (par && (p.nout >= 2 * sg_threads || p.nred < 2 * SG_RPIECE)) {
        const int64_t chunks = p.nout < 16 * sg_threads ? p.nout : 16 * sg_threads;
#pragma omp parallel for num_threads(sg_threads) schedule(static)
        for (int64_t c = 0; c < chunks; c++)
            @NAME@_rows(&p, data, p.nout * c / chunks, p.nout * (c + 1) / chunks, 0);
    } else {
        @NAME@_rows(&p, data, 0, p.nout, par);
    }
    return 0;
}
/* endsection */
