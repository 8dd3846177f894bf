/* reduce.c: the C of reductions (Reduce, FusedReduce, SumToShape, Argmax).
 *
 * Filled in by symgrad/codegen/reduce_c.py, which documents the design (row and column mode,
 * NumPy's pairwise summation, threads and the determinism they keep). The loop machinery is
 * written once, without types: it moves values and accumulators as bytes and calls small typed
 * functions through a table. So a library compiles the engine once, whatever its number of
 * reductions, and each kernel adds only what depends on its types. Sections:
 *
 *   plan      shared by every reduction (once per library): the layout of a reduction after
 *             dropping length-1 axes and merging axes, odometers, and the line reader (values
 *             of a line as a contiguous array: read in place, gathered, or computed);
 *   engine    once per library: row mode, column mode, threads, the entry point sg_reduce_run;
 *   ops       once per (kind, value type, accumulator type): the typed loops of a reduction;
 *   values    per fused reduction: its elementwise expression over a stretch of a line;
 *   argengine once per library with an argmax: the entry point sg_argmax_run;
 *   argops    once per (argmax or argmin, type): its typed loops.
 *
 * sg_reduce_run(K, ndim, shape, red, st, data, meta) runs a loop of `ndim` axes of lengths
 * `shape` (the broadcast shape of the inputs), `red[d]` saying whether loop axis d is reduced;
 * `data` holds the inputs, then the output (fresh, C-contiguous over the kept axes);
 * `st[k * ndim + d]` is operand k's byte stride along loop axis d (0 on broadcast axes, and for
 * the output on reduced axes). sg_argmax_run takes the same arguments for its one input.
 */

/* section: plan */
#include <string.h>
#define SG_RBLOCK 128     /* NumPy's pairwise leaf: the most values a line reader may return */
#define SG_RLANES 32      /* independent accumulators of a line reduction */
#define SG_RPIECE 65536   /* long reductions are split into pieces of this many elements */
#define SG_RCHUNK 2048    /* output elements of one column-mode task */
#define SG_RWINDOW 1024   /* values a line reader computes or gathers at once */
#define SG_RCOLBLOCK 1024 /* reduced positions folded into a fresh accumulator (column mode) */
#define SG_RSUPER 64      /* column blocks computed in parallel at a time */
/* Loops whose accumulators are better spread over 256-bit vectors (more independent chains);
 * noinline keeps the setting from being lost in a caller. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SG_RNARROW __attribute__((noinline, target("prefer-vector-width=256")))
#else
#define SG_RNARROW
#endif
/* The engines' entry points: one copy for every kernel (no clone per constant table). */
#if defined(__GNUC__) && !defined(__clang__)
#define SG_RENTRY __attribute__((noipa))
#else
#define SG_RENTRY __attribute__((noinline))
#endif
/* NaN-propagating max/min of floats (NumPy's), branch-free so that loops vectorize. */
#define SG_RMAX(a, b) ((((a) > (b)) | ((a) != (a))) ? (a) : (b))
#define SG_RMIN(a, b) ((((a) < (b)) | ((a) != (a))) ? (a) : (b))

/* n elements of `size` bytes, `s` bytes apart, to a contiguous dst (a strided line's window:
 * vectorized, so at -O3 with the typed loops; what follows is control code). */
static void sg_rgather(char *restrict dst, const char *restrict src, int64_t s, int64_t size, int64_t n)
{
    switch (size) {
    case 1:
        for (int64_t i = 0; i < n; i++) dst[i] = src[i * s];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) memcpy(dst + 2 * i, src + i * s, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) memcpy(dst + 4 * i, src + i * s, 4);
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(dst + 8 * i, src + i * s, 8);
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("O1") /* control code: -O3 (and -O2) cost compile time here, not speed */
#endif

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

/* What a line holds: input 0's elements (values == NULL), or the values of a fused
 * expression of nin inputs: values(n, p, s, out) writes n values of positions p[k] + i * s[k]
 * (bytes) to out and returns error flags. */
typedef int64_t (*sg_rvalues_fn)(int64_t n, const char *const *p, const int64_t *s, char *out);
typedef struct {
    int64_t nin, vsize; /* inputs; bytes per value */
    sg_rvalues_fn values;
} sg_rsource;

/* A line being read: len values, operand k from p[k] in steps of s[k] bytes. Computed or
 * gathered values sit in v, positions [w0, w1) of the line. */
typedef struct {
    const sg_rsource *src;
    const char *p[SG_MAXDIM];
    int64_t s[SG_MAXDIM];
    int64_t len, w0, w1, err;
    char v[SG_RWINDOW * 8] __attribute__((aligned(64)));
} sg_rline;

/* Starts a line of len values at ptr; st[k * SG_MAXDIM] is operand k's stride along it. */
static void sg_rline_set(sg_rline *L, const sg_rsource *src, char *const *ptr, const int64_t *st, int64_t len)
{
    L->src = src;
    for (int64_t k = 0; k < src->nin; k++) {
        L->p[k] = ptr[k];
        L->s[k] = st[k * SG_MAXDIM];
    }
    L->len = len;
    L->w0 = L->w1 = 0;
}

/* Values i0 .. i0 + *n - 1 of the line (i0 + *n <= len) as a contiguous array: input 0 itself
 * when it is unit-stride, else values in L->v. *n may come back smaller, but never below
 * min(*n, SG_RBLOCK). A fused line computes windows of SG_RWINDOW values; a window that
 * starts inside the last one moves the values it shares instead of computing them again (a
 * value does not depend on where it is computed, so this only saves time). */
static const char *sg_rfetch(sg_rline *L, int64_t i0, int64_t *n)
{
    const sg_rsource *src = L->src;
    const int64_t vs = src->vsize;
    if (src->values == NULL) {
        const int64_t s = L->s[0];
        const char *at = L->p[0] + i0 * s;
        if (s == vs) return at;
        if (*n > SG_RWINDOW) *n = SG_RWINDOW;
        sg_rgather(L->v, at, s, vs, *n);
        return L->v;
    }
    if (i0 < L->w0 || i0 + *n > L->w1) {
        const int64_t len = L->len - i0 < SG_RWINDOW ? L->len - i0 : SG_RWINDOW;
        const int64_t keep = i0 >= L->w0 && i0 < L->w1 ? L->w1 - i0 : 0;
        if (keep > 0) memmove(L->v, L->v + (i0 - L->w0) * vs, (size_t)(keep * vs));
        const char *q[SG_MAXDIM];
        for (int64_t k = 0; k < src->nin; k++) q[k] = L->p[k] + (i0 + keep) * L->s[k];
        L->err |= src->values(len - keep, q, L->s, L->v + keep * vs);
        L->w0 = i0;
        L->w1 = i0 + len;
    }
    if (*n > L->w1 - i0) *n = L->w1 - i0;
    return L->v + (i0 - L->w0) * vs;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
/* endsection */

/* section: engine */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("O1")
#endif
/* The typed part of a reduction (section ops): a value is vsize bytes, an accumulator asize.
 * reduce: out = the fold of v[0 .. n) from the identity (float sums: NumPy's pairwise sum of
 * v); fold: acc[j] = acc[j] (+) v[j]; merge: the same for two accumulators. */
typedef struct {
    int64_t asize, vsize;
    int pairwise;
    const void *identity; /* an accumulator's start: the identity, or -inf/+inf for max/min */
    void (*fold)(char *acc, const char *v, int64_t n);
    void (*merge)(char *acc, const char *src, int64_t n);
    void (*reduce)(const char *v, int64_t n, char *out);
    /* count contiguous lines of n values, stride bytes apart: out[m] = the identity (+) the
     * fold of line m (each), or out[0] = out[0] (+) the fold of each line in turn (!each). */
    void (*lines)(const char *x, int64_t stride, int64_t n, int64_t count, char *out, int each);
} sg_rops;

/* n accumulators set to the identity. */
static void sg_rinit(const sg_rops *o, char *acc, int64_t n)
{
    for (int64_t j = 0; j < n; j++) memcpy(acc + j * o->asize, o->identity, (size_t)o->asize);
}

typedef struct {
    sg_rsource src;
    const sg_rops *ops;
    int64_t err_code; /* returned when values() flagged an error */
} sg_rkernel;

/* NumPy's pairwise summation of positions i0 .. i0 + n - 1 of a line, step for step: halves
 * (rounded to multiples of 8) down to at most SG_RBLOCK elements. A part the line reader has
 * as one array (an input line read in place, a window of values) goes to ops->reduce, which
 * does the same recursion over it. */
static void sg_rpairwise(sg_rline *L, const sg_rops *o, int64_t i0, int64_t n, char *out)
{
    if (n <= SG_RWINDOW || (L->src->values == NULL && L->s[0] == L->src->vsize)) {
        int64_t got = n; /* all of it */
        o->reduce(sg_rfetch(L, i0, &got), n, out);
        return;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    char right[8] __attribute__((aligned(8)));
    sg_rpairwise(L, o, i0, n2, out);
    sg_rpairwise(L, o, i0 + n2, n - n2, right);
    o->merge(out, right, 1);
}

/* The fold of positions i0 .. i0 + n - 1 of a line (pairwise sums: without the identity). */
static void sg_rline_reduce(sg_rline *L, const sg_rops *o, int64_t i0, int64_t n, char *out)
{
    if (o->pairwise) {
        sg_rpairwise(L, o, i0, n, out);
        return;
    }
    char part[8] __attribute__((aligned(8)));
    sg_rinit(o, out, 1);
    for (int64_t off = 0; off < n;) {
        int64_t len = n - off;
        const char *v = sg_rfetch(L, i0 + off, &len);
        o->reduce(v, len, part);
        o->merge(out, part, 1);
        off += len;
    }
}

/* The same for positions i0 .. i0 + n - 1 of the line of len values at base (operand k's
 * stride st[k * SG_MAXDIM]): straight from memory when it is one input's contiguous elements
 * (ops->reduce gives the same result as the line reader would). */
static void sg_rline_fold(const sg_rkernel *K, sg_rline *L, char *const *base, const int64_t *st, int64_t len,
                          int64_t i0, int64_t n, char *out)
{
    if (K->src.values == NULL && st[0] == K->src.vsize) {
        K->ops->reduce(base[0] + i0 * st[0], n, out);
        return;
    }
    sg_rline_set(L, &K->src, base, st, len);
    sg_rline_reduce(L, K->ops, i0, n, out);
}

/* The sum of one long line: the top 2^depth pieces of the recursion (in parallel when par),
 * then added level by level, left + right: the same operations as the plain recursion (each
 * node split here is longer than SG_RBLOCK, so the recursion splits it the same way). The
 * depth depends on n alone, so the pieces, and where a fused line computes its windows of
 * values, do not depend on threads. */
static void sg_rpairwise_top(const sg_rkernel *K, const sg_rplan *p, char *const *base, int64_t n, int par,
                             char *out, int64_t *err)
{
    const sg_rops *o = K->ops;
    const int64_t *st = p->rst + (p->nr - 1), as = o->asize;
    int64_t depth = 0;
    while (depth < 6 && (n >> (depth + 1)) >= 4096) depth++;
    if (depth == 0) { /* no parallel region at all: most lines are short */
        sg_rline L;
        L.err = 0;
        sg_rline_fold(K, &L, base, st, n, 0, n, out);
        *err |= L.err;
        return;
    }
    const int64_t pieces = (int64_t)1 << depth;
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
    char sum[64 * 8] __attribute__((aligned(64)));
    int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic) reduction(| : e) if (par)
    for (int64_t i = 0; i < pieces; i++) {
        sg_rline L;
        L.err = 0;
        sg_rline_fold(K, &L, base, st, n, start[i], len[i], sum + i * as);
        e |= L.err;
    }
    *err |= e;
    for (int64_t w = pieces / 2; w >= 1; w /= 2)
        for (int64_t j = 0; j < w; j++) {
            memmove(sum + j * as, sum + 2 * j * as, (size_t)as);
            o->merge(sum + j * as, sum + (2 * j + 1) * as, 1);
        }
    memcpy(out, sum, (size_t)as);
}

/* Row mode: each output element is its own reduction, done as a fixed sequence of pieces
 * (a single line longer than SG_RPIECE is cut into stretches of SG_RPIECE elements; several
 * lines are taken in groups of about SG_RPIECE elements), folded in order. The pieces do not
 * depend on the thread count; threads only compute them at the same time. */
static int64_t sg_rnpieces(const sg_rplan *p)
{
    const int64_t n = p->rdim[p->nr - 1], lines = p->nred / n;
    if (lines == 1) return (n + SG_RPIECE - 1) / SG_RPIECE;
    const int64_t group = n >= SG_RPIECE ? 1 : SG_RPIECE / n;
    return (lines + group - 1) / group;
}

static void sg_rpiece(const sg_rkernel *K, const sg_rplan *p, char *const *base, int64_t i, sg_rline *L,
                      char *out)
{
    const sg_rops *o = K->ops;
    const int64_t r = p->nr - 1, n = p->rdim[r], lines = p->nred / n;
    if (lines == 1) {
        const int64_t start = i * SG_RPIECE, len = n - start < SG_RPIECE ? n - start : SG_RPIECE;
        sg_rline_fold(K, L, base, p->rst + r, n, start, len, out);
        return;
    }
    const int64_t group = n >= SG_RPIECE ? 1 : SG_RPIECE / n;
    const int64_t l0 = i * group, l1 = l0 + group < lines ? l0 + group : lines;
    char *ptr[SG_MAXDIM];
    int64_t idx[SG_MAXDIM];
    char part[8] __attribute__((aligned(8)));
    sg_rred_at(p, l0, r, base, ptr, idx);
    sg_rinit(o, out, 1);
    if (r == 1 && K->src.values == NULL && p->rst[r] == K->src.vsize) { /* evenly spaced contiguous lines */
        o->lines(ptr[0], p->rst[0], n, l1 - l0, out, 0);
        return;
    }
    for (int64_t l = l0; l < l1; l++) {
        sg_rline_fold(K, L, ptr, p->rst + r, n, 0, n, part);
        o->merge(out, part, 1);
        sg_rred_next(p, r, ptr, idx);
    }
}

/* One output element (operand pointers at its kept position) into out; par: may use threads. */
static void sg_routput(const sg_rkernel *K, const sg_rplan *p, char *const *base, int par, sg_rline *L,
                       char *out)
{
    const sg_rops *o = K->ops;
    char part[8] __attribute__((aligned(8)));
    sg_rinit(o, out, 1);
    if (o->pairwise && p->nred == p->rdim[p->nr - 1]) {
        sg_rpairwise_top(K, p, base, p->nred, par, part, &L->err);
        o->merge(out, part, 1);
        return;
    }
    const int64_t np = sg_rnpieces(p);
    char *parts = par && np > 1 ? malloc((size_t)(np * o->asize)) : NULL;
    if (parts == NULL) { /* the same pieces, one after the other */
        for (int64_t i = 0; i < np; i++) {
            sg_rpiece(K, p, base, i, L, part);
            o->merge(out, part, 1);
        }
        return;
    }
    int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic) reduction(| : e)
    for (int64_t i = 0; i < np; i++) {
        sg_rline Li;
        Li.err = 0;
        sg_rpiece(K, p, base, i, &Li, parts + i * o->asize);
        e |= Li.err;
    }
    L->err |= e;
    o->merge(out, parts, 1); /* out holds the identity: merged one by one, in order */
    for (int64_t i = 1; i < np; i++) o->merge(out, parts + i * o->asize, 1);
    free(parts);
}

/* Output elements m0 .. m1 - 1 (flat C order); returns the error flags. */
static int64_t sg_rrows(const sg_rkernel *K, const sg_rplan *p, char *const *data, int64_t m0, int64_t m1, int par)
{
    const sg_rops *o = K->ops;
    const int64_t r = p->nr - 1, n = p->rdim[r];
    char *ptr[SG_MAXDIM + 1], part[8] __attribute__((aligned(8)));
    int64_t idx[SG_MAXDIM];
    sg_rline L;
    L.err = 0;
    sg_rkept_at(p, m0, -1, data, ptr, idx);
    /* Outputs that each reduce one short contiguous line (no pieces): what sg_routput does, inline. */
    const int direct = K->src.values == NULL && p->nred == n && p->rst[r] == K->src.vsize && n < 4096;
    if (direct && (p->nk == 0 || (p->nk == 1 && p->kst[p->nin * SG_MAXDIM] == o->asize))) {
        /* evenly spaced lines, consecutive outputs */
        o->lines(ptr[0], p->nk ? p->kst[0] : 0, n, m1 - m0, ptr[p->nin], 1);
        return 0;
    }
    for (int64_t m = m0; m < m1; m++) {
        if (direct) {
            o->reduce(ptr[0], n, part);
            sg_rinit(o, ptr[p->nin], 1);
            o->merge(ptr[p->nin], part, 1);
        } else {
            sg_routput(K, p, ptr, par, &L, ptr[p->nin]);
        }
        sg_rkept_next(p, -1, ptr, idx);
    }
    return L.err;
}

/* Column mode: tmp[j] (j < len) = the fold from the identity of reduced positions
 * b * SG_RCOLBLOCK .. (b + 1) * SG_RCOLBLOCK - 1 for the len outputs along kept axis kin that
 * start at base: ops->fold runs along the outputs, which the compiler vectorizes. */
static int64_t sg_rcol_block(const sg_rkernel *K, const sg_rplan *p, int64_t kin, char *const *base, int64_t len,
                             int64_t b, char *tmp)
{
    const sg_rops *o = K->ops;
    const int64_t c0 = b * SG_RCOLBLOCK;
    const int64_t c1 = p->nred - c0 < SG_RCOLBLOCK ? p->nred : c0 + SG_RCOLBLOCK;
    char *ptr[SG_MAXDIM];
    int64_t idx[SG_MAXDIM];
    sg_rline L;
    L.err = 0;
    sg_rinit(o, tmp, len);
    sg_rred_at(p, c0, p->nr, base, ptr, idx);
    const int direct = K->src.values == NULL && p->kst[kin] == K->src.vsize; /* rows read in place */
    for (int64_t c = c0; c < c1; c++) {
        if (direct) {
            o->fold(tmp, ptr[0], len);
        } else {
            sg_rline_set(&L, &K->src, ptr, p->kst + kin, len);
            for (int64_t j0 = 0; j0 < len;) {
                int64_t n = len - j0;
                const char *v = sg_rfetch(&L, j0, &n);
                o->fold(tmp + j0 * o->asize, v, n);
                j0 += n;
            }
        }
        sg_rred_next(p, p->nr, ptr, idx);
    }
    return L.err;
}

/* Column-mode task t: kept position t / nchunks (over the kept axes but kin), chunk
 * t % nchunks of SG_RCHUNK outputs along kin. Blocks of SG_RCOLBLOCK reduced positions are
 * folded into fresh accumulators, then into the result in order (in parallel when par). */
static int64_t sg_rcol_task(const sg_rkernel *K, const sg_rplan *p, int64_t kin, char *const *data, int64_t t,
                            int par)
{
    const sg_rops *o = K->ops;
    const int64_t as = o->asize, nin = p->nin;
    const int64_t nk = p->kdim[kin], nch = (nk + SG_RCHUNK - 1) / SG_RCHUNK;
    const int64_t j0 = (t % nch) * SG_RCHUNK, len = nk - j0 < SG_RCHUNK ? nk - j0 : SG_RCHUNK;
    char *ptr[SG_MAXDIM + 1];
    int64_t idx[SG_MAXDIM], err = 0;
    sg_rkept_at(p, t / nch, kin, data, ptr, idx);
    for (int64_t k = 0; k <= nin; k++) ptr[k] += j0 * p->kst[k * SG_MAXDIM + kin];
    char acc[SG_RCHUNK * 8] __attribute__((aligned(64))), tmp[SG_RCHUNK * 8] __attribute__((aligned(64)));
    sg_rinit(o, acc, len);
    const int64_t nb = (p->nred + SG_RCOLBLOCK - 1) / SG_RCOLBLOCK;
    char *part = par && nb > 1 ? malloc((size_t)(SG_RSUPER * SG_RCHUNK * as)) : NULL;
    if (part == NULL) {
        for (int64_t b = 0; b < nb; b++) {
            err |= sg_rcol_block(K, p, kin, ptr, len, b, tmp);
            o->merge(acc, tmp, len);
        }
    } else {
        for (int64_t b0 = 0; b0 < nb; b0 += SG_RSUPER) {
            const int64_t count = nb - b0 < SG_RSUPER ? nb - b0 : SG_RSUPER;
            int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic) reduction(| : e)
            for (int64_t i = 0; i < count; i++) e |= sg_rcol_block(K, p, kin, ptr, len, b0 + i, part + i * SG_RCHUNK * as);
            err |= e;
            for (int64_t i = 0; i < count; i++) o->merge(acc, part + i * SG_RCHUNK * as, len);
        }
        free(part);
    }
    const int64_t os = p->kst[nin * SG_MAXDIM + kin];
    for (int64_t j = 0; j < len; j++) memcpy(ptr[nin] + j * os, acc + j * as, (size_t)as);
    return err;
}

static SG_RENTRY int64_t sg_reduce_run(const sg_rkernel *K, int64_t ndim, const int64_t *shape, const unsigned char *red,
                             const int64_t *st, char *const *data, int64_t *meta)
{
    const int64_t nin = K->src.nin;
    int64_t kst[(nin + 1) * SG_MAXDIM], rst[(nin + 1) * SG_MAXDIM];
    sg_rplan p;
    if (sg_rplan_make(&p, ndim, shape, red, nin, st, 1, kst, rst)) SG_FAIL(SG_ERR_OVERFLOW);
    if (p.nout == 0) return 0;
    if (p.nred == 0) {
        sg_rinit(K->ops, data[nin], p.nout);
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
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic) reduction(| : e)
            for (int64_t t = 0; t < tasks; t++) e |= sg_rcol_task(K, &p, kin, data, t, 0);
            err = e;
        } else {
            for (int64_t t = 0; t < tasks; t++) err |= sg_rcol_task(K, &p, kin, data, t, par);
        }
    } else if (par && (p.nout >= 2 * sg_threads || p.nred < 2 * SG_RPIECE)) {
        const int64_t chunks = p.nout < 16 * sg_threads ? p.nout : 16 * sg_threads;
        int64_t e = 0;
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic) reduction(| : e)
        for (int64_t c = 0; c < chunks; c++)
            e |= sg_rrows(K, &p, data, p.nout * c / chunks, p.nout * (c + 1) / chunks, 0);
        err = e;
    } else {
        err = sg_rrows(K, &p, data, 0, p.nout, par);
    }
    return err ? K->err_code : 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
/* endsection */

/* section: ops */
/* @OPS@: @KIND@ of @VT@ values into @AT@ accumulators. */
#define @OPS@_C(a, v) (@COMBINE@)
#define @OPS@_LANE(a, v) (@LANE@)

static const @AT@ @OPS@_identity = @INIT@;

/* The column loop: independent accumulators, vectorized along the outputs. */
static SG_RNARROW void @OPS@_fold(char *restrict accp, const char *restrict vp, int64_t n)
{
    @AT@ *restrict acc = (@AT@ *)accp;
    const @VT@ *restrict v = (const @VT@ *)vp;
#pragma GCC unroll 4
    for (int64_t j = 0; j < n; j++) acc[j] = @OPS@_C(acc[j], v[j]);
}

/* Partial results: one at a time in row mode, 2048 per 1024 positions in column mode. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("O1")
#endif
static void @OPS@_merge(char *restrict accp, const char *restrict srcp, int64_t n)
{
    @AT@ *restrict acc = (@AT@ *)accp;
    const @AT@ *restrict src = (const @AT@ *)srcp;
    for (int64_t j = 0; j < n; j++) acc[j] = @OPS@_C(acc[j], src[j]);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#if @PAIRWISE@
/* NumPy's pairwise summation, step for step, so that sums agree with NumPy's to the bit:
 * halves (rounded to multiples of 8) down to at most SG_RBLOCK elements, which are added with
 * 8 accumulators. Those are 2 chains of 256-bit vectors (SG_RNARROW) rather than 1 chain of
 * 512-bit ones: twice the throughput, the same operations. */
static SG_RNARROW @AT@ @OPS@_pairwise(const @VT@ *v, int64_t n)
{
    if (n > SG_RBLOCK) {
        int64_t n2 = n / 2;
        n2 -= n2 % 8;
        return @OPS@_pairwise(v, n2) + @OPS@_pairwise(v + n2, n - n2);
    }
    @AT@ res;
    if (n < 8) {
        res = -0.0;
        for (int64_t i = 0; i < n; i++) res += v[i];
        return res;
    }
    @AT@ r[8];
    for (int j = 0; j < 8; j++) r[j] = v[j];
    int64_t i = 8;
    for (; i < n - n % 8; i += 8)
        for (int j = 0; j < 8; j++) r[j] += v[i + j];
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += v[i];
    return res;
}

static void @OPS@_reduce(const char *v, int64_t n, char *out) { *(@AT@ *)out = @OPS@_pairwise((const @VT@ *)v, n); }
#else
/* A stretch folded into SG_RLANES accumulators (lane j takes the elements j mod SG_RLANES):
 * independent chains the compiler vectorizes, combined as a tree at the end. Float max/min
 * lanes are plain compare-and-select (one instruction), with NaNs kept in lanes of their own:
 * a stretch that holds one returns its first NaN. */
static void @OPS@_reduce(const char *vp, int64_t n, char *out)
{
    const @VT@ *v = (const @VT@ *)vp;
    if (n < SG_RLANES) { /* short: one accumulator */
        @AT@ acc = @INIT@;
        for (int64_t i = 0; i < n; i++) acc = @OPS@_C(acc, v[i]);
        *(@AT@ *)out = acc;
        return;
    }
    @AT@ lane[SG_RLANES];
#if @NANLANES@
    @VT@ nan[SG_RLANES]; /* a NaN of the lane once there was one */
#endif
    for (int j = 0; j < SG_RLANES; j++) {
        lane[j] = @INIT@;
#if @NANLANES@
        nan[j] = 0;
#endif
    }
    int64_t i = 0;
    for (; i + SG_RLANES <= n; i += SG_RLANES)
        for (int j = 0; j < SG_RLANES; j++) {
            lane[j] = @OPS@_LANE(lane[j], v[i + j]);
#if @NANLANES@
            nan[j] = v[i + j] != v[i + j] ? v[i + j] : nan[j];
#endif
        }
    for (int j = 0; i < n; i++, j++) {
        lane[j] = @OPS@_LANE(lane[j], v[i]);
#if @NANLANES@
        nan[j] = v[i] != v[i] ? v[i] : nan[j];
#endif
    }
    for (int w = SG_RLANES / 2; w >= 1; w /= 2) /* a tree: vectorized too */
        for (int j = 0; j < w; j++) {
            lane[j] = @OPS@_LANE(lane[j], lane[j + w]);
#if @NANLANES@
            nan[j] = nan[j] != nan[j] ? nan[j] : nan[j + w];
#endif
        }
#if @NANLANES@
    if (nan[0] != nan[0])
        for (i = 0; i < n; i++)
            if (v[i] != v[i]) {
                lane[0] = v[i];
                break;
            }
#endif
    *(@AT@ *)out = lane[0];
}
#endif

static void @OPS@_lines(const char *x, int64_t stride, int64_t n, int64_t count, char *outp, int each)
{
    @AT@ *out = (@AT@ *)outp, part;
    for (int64_t m = 0; m < count; m++) {
        @OPS@_reduce(x + m * stride, n, (char *)&part);
        if (each)
            out[m] = @OPS@_C(@INIT@, part);
        else
            out[0] = @OPS@_C(out[0], part);
    }
}

static const sg_rops @OPS@ = { sizeof(@AT@), sizeof(@VT@), @PAIRWISE@, &@OPS@_identity, @OPS@_fold, @OPS@_merge, @OPS@_reduce, @OPS@_lines };
/* endsection */

/* section: values */
/* The values of a fused reduction. Exactly SG_VLEN values: the loop the compiler vectorizes
 * (vector math through libmvec), as in elementwise kernels, so a value is the unfused
 * kernel's to the bit, wherever it sits. Not unrolled: straight-line code would lose the
 * vector math calls. */
static inline int64_t @NAME@_block(@PARAMS@, @VT@ *restrict out)
{
    int64_t sg_err = 0;
#pragma GCC unroll 1
    for (int64_t i = 0; i < SG_VLEN; i++) {
@BODY@
    }
    return sg_err;
}

/* n values of positions p[k] + i * s[k] (bytes): unit-stride inputs read in place, broadcast
 * ones from a block filled once, others gathered per block; the tail padded with its last
 * element. One call site of the block, so the vector loop is emitted once. */
static int64_t @NAME@_values(int64_t n, const char *const *p, const int64_t *s, char *outp)
{
    if (n <= 0) return 0;
    @VT@ *out = (@VT@ *)outp, tout[SG_VLEN];
@DECLS@
    int64_t sg_err = 0;
    for (int64_t i = 0; i < n; i += SG_VLEN) {
        const int64_t m = n - i < SG_VLEN ? n - i : SG_VLEN;
@POINTERS@
        sg_err |= @NAME@_block(@ARGS@, m < SG_VLEN ? tout : out + i);
        for (int64_t j = 0; j < m && m < SG_VLEN; j++) out[i + j] = tout[j];
    }
    return sg_err;
}
/* endsection */

/* section: argengine */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("O1")
#endif
/* Argmax/argmin: the first index of the extreme in the logical C order of the reduced axes
 * (their plan is not sorted, so a flat position is the index). line: the first best of a
 * contiguous stretch (n >= 1) and its index; better(v, b): v replaces the best so far b
 * (strictly better, or the first NaN); col: one reduced position c of the column loop. */
typedef struct {
    int64_t size;
    void (*line)(const char *v, int64_t n, char *best, int64_t *at);
    int (*better)(const char *v, const char *b);
    void (*col)(char *best, int64_t *arg, const char *v, int64_t n, int64_t c);
} sg_rargops;

/* The first best of reduced positions c0 .. c1 - 1 (c0 < c1) of the input at base: its index. */
static int64_t sg_rarg_scan(const sg_rargops *A, const sg_rplan *p, char *base, int64_t c0, int64_t c1, char *best)
{
    const sg_rsource src = { 1, A->size, NULL };
    const int64_t r = p->nr - 1, n = p->rdim[r];
    char *ptr[1], b[8] __attribute__((aligned(8)));
    int64_t idx[SG_MAXDIM], found = -1;
    sg_rline L;
    sg_rred_at(p, c0 / n, r, &base, ptr, idx);
    int64_t i = c0 % n, c = c0;
    while (c < c1) {
        const int64_t stop = n - i <= c1 - c ? n : i + (c1 - c);
        sg_rline_set(&L, &src, ptr, p->rst + r, n);
        for (int64_t j = i; j < stop;) {
            int64_t len = stop - j, at;
            const char *v = p->rst[r] == A->size ? ptr[0] + j * A->size : sg_rfetch(&L, j, &len);
            A->line(v, len, b, &at);
            if (found < 0 || A->better(b, best)) {
                memcpy(best, b, (size_t)A->size);
                found = c + (j - i) + at;
            }
            j += len;
        }
        c += stop - i;
        i = 0;
        sg_rred_next(p, r, ptr, idx);
    }
    return found;
}

/* One output: pieces of SG_RPIECE positions (in parallel when par), the first best wins. */
static int64_t sg_rarg_one(const sg_rargops *A, const sg_rplan *p, char *base, int par)
{
    char best[8] __attribute__((aligned(8)));
    const int64_t np = (p->nred + SG_RPIECE - 1) / SG_RPIECE;
    char *part = par && np > 1 ? malloc((size_t)(np * 16)) : NULL;
    if (part == NULL) return sg_rarg_scan(A, p, base, 0, p->nred, best);
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic)
    for (int64_t i = 0; i < np; i++) {
        const int64_t c1 = p->nred - i * SG_RPIECE < SG_RPIECE ? p->nred : (i + 1) * SG_RPIECE;
        const int64_t at = sg_rarg_scan(A, p, base, i * SG_RPIECE, c1, part + 16 * i + 8);
        memcpy(part + 16 * i, &at, 8);
    }
    int64_t res;
    memcpy(&res, part, 8);
    memcpy(best, part + 8, 8);
    for (int64_t i = 1; i < np; i++)
        if (A->better(part + 16 * i + 8, best)) {
            memcpy(&res, part + 16 * i, 8);
            memcpy(best, part + 16 * i + 8, 8);
        }
    free(part);
    return res;
}

static void sg_rarg_rows(const sg_rargops *A, const sg_rplan *p, char *const *data, int64_t m0, int64_t m1, int par)
{
    char *ptr[2];
    int64_t idx[SG_MAXDIM];
    sg_rkept_at(p, m0, -1, data, ptr, idx);
    for (int64_t m = m0; m < m1; m++) {
        *(int64_t *)ptr[1] = sg_rarg_one(A, p, ptr[0], par);
        sg_rkept_next(p, -1, ptr, idx);
    }
}

/* Column mode: SG_RCHUNK outputs along kept axis kin at once, position by position. */
static void sg_rarg_col_task(const sg_rargops *A, const sg_rplan *p, int64_t kin, char *const *data, int64_t t)
{
    const sg_rsource src = { 1, A->size, NULL };
    const int64_t nk = p->kdim[kin], nch = (nk + SG_RCHUNK - 1) / SG_RCHUNK;
    const int64_t j0 = (t % nch) * SG_RCHUNK, len = nk - j0 < SG_RCHUNK ? nk - j0 : SG_RCHUNK;
    char *ptr[2], *q[1];
    int64_t idx[SG_MAXDIM], ridx[SG_MAXDIM];
    sg_rkept_at(p, t / nch, kin, data, ptr, idx);
    for (int64_t k = 0; k < 2; k++) ptr[k] += j0 * p->kst[k * SG_MAXDIM + kin];
    char best[SG_RCHUNK * 8] __attribute__((aligned(64)));
    int64_t arg[SG_RCHUNK];
    sg_rline L;
    sg_rred_at(p, 0, p->nr, ptr, q, ridx);
    const int direct = p->kst[kin] == A->size; /* rows read in place */
    sg_rline_set(&L, &src, q, p->kst + kin, len);
    for (int64_t j = 0; j < len;) {
        int64_t n = len - j;
        memcpy(best + j * A->size, direct ? q[0] + j * A->size : sg_rfetch(&L, j, &n), (size_t)(n * A->size));
        j += n;
    }
    for (int64_t j = 0; j < len; j++) arg[j] = 0;
    for (int64_t c = 1; c < p->nred; c++) {
        sg_rred_next(p, p->nr, q, ridx);
        if (direct) {
            A->col(best, arg, q[0], len, c);
            continue;
        }
        sg_rline_set(&L, &src, q, p->kst + kin, len);
        for (int64_t j = 0; j < len;) {
            int64_t n = len - j;
            A->col(best + j * A->size, arg + j, sg_rfetch(&L, j, &n), n, c);
            j += n;
        }
    }
    const int64_t os = p->kst[SG_MAXDIM + kin];
    for (int64_t j = 0; j < len; j++) *(int64_t *)(ptr[1] + j * os) = arg[j];
}

static SG_RENTRY int64_t sg_argmax_run(const sg_rargops *A, int64_t ndim, const int64_t *shape, const unsigned char *red,
                             const int64_t *st, char *const *data, int64_t *meta)
{
    int64_t kst[2 * SG_MAXDIM], rst[2 * SG_MAXDIM];
    sg_rplan p;
    if (sg_rplan_make(&p, ndim, shape, red, 1, st, 0, kst, rst)) SG_FAIL(SG_ERR_OVERFLOW);
    if (p.nout == 0 || p.nred == 0) return 0; /* an empty reduced axis was refused before */
    const int par = sg_threads > 1 && p.nout * p.nred >= SG_PARALLEL_MIN;
    const int64_t kin = sg_rplan_column(&p);
    if (kin >= 0) {
        const int64_t tasks = p.nout / p.kdim[kin] * ((p.kdim[kin] + SG_RCHUNK - 1) / SG_RCHUNK);
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic) if (par)
        for (int64_t t = 0; t < tasks; t++) sg_rarg_col_task(A, &p, kin, data, t);
    } else if (par && (p.nout >= 2 * sg_threads || p.nred < 2 * SG_RPIECE)) {
        const int64_t chunks = p.nout < 16 * sg_threads ? p.nout : 16 * sg_threads;
#pragma omp parallel for num_threads(sg_threads) schedule(dynamic)
        for (int64_t c = 0; c < chunks; c++)
            sg_rarg_rows(A, &p, data, p.nout * c / chunks, p.nout * (c + 1) / chunks, 0);
    } else {
        sg_rarg_rows(A, &p, data, 0, p.nout, par);
    }
    return 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
/* endsection */

/* section: argops */
/* @OPS@: @KIND@ of @T@. BETTER(v, b): v replaces the best so far b (strictly better, or the
 * first NaN: NumPy's argmax/argmin stop at a NaN; bitwise, so that it vectorizes). */
#define @OPS@_BETTER(v, b) (@BETTER@)

static int @OPS@_better(const char *v, const char *b) { return @OPS@_BETTER(*(const @T@ *)v, *(const @T@ *)b); }

/* SG_RLANES lanes that each keep their first best and its position (vectorized), then merged:
 * the best value, and of equal ones (or NaNs) the first position. */
static void @OPS@_line(const char *vp, int64_t n, char *bestp, int64_t *at)
{
    const @T@ *v = (const @T@ *)vp;
    @T@ res = v[0];
    int64_t pos = 0, i = 1;
    while (n - i >= 2 * SG_RLANES) {
        const int64_t b = i, e = n - b < ((int64_t)1 << 30) ? n : b + ((int64_t)1 << 30);
        const @T@ *w = v + b; /* positions from b fit in 32 bits */
        @T@ best[SG_RLANES];
        int32_t arg[SG_RLANES];
        for (int j = 0; j < SG_RLANES; j++) {
            best[j] = w[j];
            arg[j] = j;
        }
        int32_t k = SG_RLANES;
        for (; k + SG_RLANES <= e - b; k += SG_RLANES)
            for (int j = 0; j < SG_RLANES; j++) {
                const @T@ x = w[k + j];
                const int take = @OPS@_BETTER(x, best[j]);
                best[j] = take ? x : best[j];
                arg[j] = take ? k + j : arg[j];
            }
        for (int j = 0; j < SG_RLANES; j++) {
            const @T@ x = best[j];
            const int64_t c = b + arg[j];
            const int same = (x == res) | ((x != x) & (res != res));
            if (@OPS@_BETTER(x, res) || (same && c < pos)) {
                res = x;
                pos = c;
            }
        }
        i = b + k;
    }
    for (; i < n; i++)
        if (@OPS@_BETTER(v[i], res)) {
            res = v[i];
            pos = i;
        }
    *(@T@ *)bestp = res;
    *at = pos;
}

static void @OPS@_col(char *bestp, int64_t *restrict arg, const char *vp, int64_t n, int64_t c)
{
    @T@ *restrict best = (@T@ *)bestp;
    const @T@ *restrict v = (const @T@ *)vp;
    for (int64_t j = 0; j < n; j++)
        if (@OPS@_BETTER(v[j], best[j])) { /* rarely taken after the first rows: no stores */
            best[j] = v[j];
            arg[j] = c;
        }
}

static const sg_rargops @OPS@ = { sizeof(@T@), @OPS@_line, @OPS@_better, @OPS@_col };
/* endsection */
