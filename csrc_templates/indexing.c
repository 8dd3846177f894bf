/* indexing.c: the C of the indexing ops (Subtensor, IncSubtensor, LastWriteMask) and of the
 * shape ops that move data (Reshape, Split, Alloc, ARange), for symgrad/codegen/indexing_c.py.
 *
 * An index is compiled to a table of items (sg_ix_item), one per entry of the op's spec in
 * the spec's order, with the ellipsis and the axes left after the last entry spelt out as
 * "whole axis" items. Python decides where each output axis comes from (NumPy's rules, see
 * symgrad/ops/subtensor.py `layout`); C evaluates the index on the actual arrays:
 *
 *   sg_ix_prepare  checks the index as NumPy does, in NumPy's order (integers, slice steps and
 *                  masks entry by entry, then the broadcast of the index arrays, then their
 *                  values, only when the advanced result is not empty) and computes the region:
 *                  its shape, the byte offset and strides of its basic axes;
 *   sg_ix_table    the byte offset that the advanced indices (arrays, masks) add for each
 *                  position of their broadcast shape;
 *   gather/scatter move data between the region and a dense array: out[pre, adv, post] is
 *                  target[offset + pre . stride + table[adv] + post . stride].
 *
 * The region's axes are pre (before the advanced block), adv (the broadcast index shape) and
 * post; without index arrays the first axis is the "pre" part (the loop that threads split).
 * Scatter loops run the advanced positions in C order inside one thread, so repeated indices
 * accumulate (np.add.at) or the last write wins (NumPy's order), whatever the thread count.
 */

/* section: runtime */
enum { SG_IX_INT, SG_IX_SLICE, SG_IX_NEW, SG_IX_WHOLE, SG_IX_ARRAY, SG_IX_MASK };

#define SG_IX_MAXITEMS 128
#define SG_IX_ERR_STEP 64      /* slice step zero */
#define SG_IX_ERR_MASK 65      /* info: axis, size of axis, size of the mask's axis */
#define SG_IX_ERR_BROADCAST 66 /* info: axis of the index shape, the two lengths */
#define SG_IX_ERR_VALUE 67     /* the value does not broadcast to the region: info: axis, value, region */

/* An integer of the index: a constant (operand < 0) or a scalar input; given = 0: None. */
typedef struct {
    int64_t given, operand, code, value;
} sg_ix_scalar;

typedef struct {
    int64_t kind;      /* SG_IX_* */
    int64_t axis;      /* the first axis of the target that the item consumes */
    int64_t width;     /* how many (a mask's rank; 0 for a new axis) */
    int64_t out;       /* the region axis it makes (slice, new axis, whole axis), else -1 */
    int64_t operand;   /* index array or mask: its input number */
    int64_t code;      /* index array: its dtype (sg_ix_int) */
    sg_ix_scalar v[3]; /* integer: v[0]; slice: start, stop, step */
} sg_ix_item;

typedef struct {
    int64_t nitems, ndim, adv_first, adv_rank; /* ndim: the region's rank */
    const sg_ix_item *items;
} sg_ix_spec;

typedef struct {
    int64_t ndim, adv_first, adv_rank, adv_size, offset, zero;
    int64_t shape[SG_MAXDIM];  /* the region's shape */
    int64_t stride[SG_MAXDIM]; /* byte strides in the target of its basic axes (0 on adv axes) */
    int64_t count[SG_IX_MAXITEMS]; /* mask items: their number of true entries */
} sg_ix_plan;

/* An integer of dtype code 0 bool, 1 int8, 2 int16, 3 int32, 4 int64, 5 uint8. */
static inline int64_t sg_ix_int(const char *p, int64_t code)
{
    switch (code) {
    case 0: return *(const _Bool *)p;
    case 1: return *(const int8_t *)p;
    case 2: return *(const int16_t *)p;
    case 3: return *(const int32_t *)p;
    case 5: return *(const uint8_t *)p;
    default: return *(const int64_t *)p;
    }
}

static inline int64_t sg_ix_value(const sg_ix_scalar *s, const sg_array *in)
{
    return s->operand < 0 ? s->value : sg_ix_int(in[s->operand].data, s->code);
}

/* Moves `idx` (a C-order position in `shape`) one step on, and *ptr with it. */
static inline void sg_ix_step(int64_t nd, const int64_t *shape, const int64_t *strides, int64_t *idx,
                              const char **ptr)
{
    for (int64_t d = nd - 1; d >= 0; d--) {
        *ptr += strides[d];
        if (++idx[d] < shape[d]) return;
        *ptr -= strides[d] * shape[d];
        idx[d] = 0;
    }
}

/* Python's slice.indices(n) and the slice's length. */
static void sg_ix_slice(const sg_ix_scalar *v, const sg_array *in, int64_t n, int64_t *start,
                        int64_t *step, int64_t *len)
{
    const int64_t limit = (int64_t)1 << 62; /* longer steps than any axis act the same */
    int64_t s = v[2].given ? sg_ix_value(&v[2], in) : 1;
    s = s > limit ? limit : s < -limit ? -limit : s;
    const int64_t lower = s > 0 ? 0 : -1, upper = s > 0 ? n : n - 1;
    int64_t b[2];
    for (int k = 0; k < 2; k++) {
        if (!v[k].given) {
            b[k] = (s > 0) == (k == 0) ? lower : upper;
            continue;
        }
        int64_t x = sg_ix_value(&v[k], in);
        if (x < 0) x = x < -limit ? lower : x + n < lower ? lower : x + n;
        else if (x > upper) x = upper;
        b[k] = x;
    }
    *start = b[0];
    *step = s;
    if (s > 0) *len = b[0] < b[1] ? (b[1] - b[0] - 1) / s + 1 : 0;
    else *len = b[1] < b[0] ? (b[0] - b[1] - 1) / (-s) + 1 : 0;
}

/* The true entries of a mask, a row (its last axis) at a time. */
static int64_t sg_ix_count(const sg_array *m)
{
    if (m->ndim == 0) return *(const _Bool *)m->data;
    const int64_t n = sg_size(m), last = m->ndim - 1, len = m->shape[last], s = m->strides[last];
    if (n <= 0) return 0;
    int64_t idx[SG_MAXDIM], count = 0;
    const char *p = m->data;
    for (int64_t d = 0; d < last; d++) idx[d] = 0;
    for (int64_t r = 0, rows = n / len; r < rows; r++) {
        int64_t c = 0;
        if (s == 1)
            for (int64_t i = 0; i < len; i++) c += ((const uint8_t *)p)[i];
        else
            for (int64_t i = 0; i < len; i++) c += *(const uint8_t *)(p + i * s);
        count += c;
        sg_ix_step(last, m->shape, m->strides, idx, &p);
    }
    return count;
}

/* The byte offsets in the target (axes from `axis` on, strides `tst`) of a mask's true
 * entries, in C order; `list` holds as many as sg_ix_count found. */
static void sg_ix_mask_offsets(const sg_array *m, const int64_t *tst, int64_t *list)
{
    if (m->ndim == 0) {
        if (*(const _Bool *)m->data) list[0] = 0;
        return;
    }
    const int64_t n = sg_size(m), last = m->ndim - 1, len = m->shape[last], s = m->strides[last];
    if (n <= 0) return;
    int64_t idx[SG_MAXDIM], found = 0;
    const char *p = m->data;
    for (int64_t d = 0; d < last; d++) idx[d] = 0;
    for (int64_t r = 0, rows = n / len; r < rows; r++) {
        int64_t off = 0;
        for (int64_t d = 0; d < last; d++) off += idx[d] * tst[d];
        for (int64_t i = 0; i < len; i++)
            if (*(const uint8_t *)(p + i * s)) list[found++] = off + i * tst[last];
        sg_ix_step(last, m->shape, m->strides, idx, &p);
    }
}

/* Checks the index against the target `t` and fills in the plan (shape, offset, strides); with
 * `check` also the index arrays' values (the shape function checks; the run trusts them). */
static int64_t sg_ix_prepare(const sg_ix_spec *s, const sg_array *t, const sg_array *in, sg_ix_plan *p,
                             int64_t *meta, int check)
{
    p->ndim = s->ndim;
    p->adv_first = s->adv_first;
    p->adv_rank = s->adv_rank;
    p->offset = 0;
    p->zero = 0;
    for (int64_t d = 0; d < s->ndim; d++) {
        p->shape[d] = 1; /* the advanced axes broadcast from 1 */
        p->stride[d] = 0;
    }
    for (int64_t k = 0; k < s->nitems; k++) {
        const sg_ix_item *it = &s->items[k];
        const int64_t n = it->width ? t->shape[it->axis] : 1, st = it->width ? t->strides[it->axis] : 0;
        switch (it->kind) {
        case SG_IX_INT: {
            int64_t v = sg_ix_value(&it->v[0], in);
            if (v < -n || v >= n) SG_FAIL_INFO(SG_ERR_INDEX, v, it->axis, n);
            p->offset += (v < 0 ? v + n : v) * st;
            break;
        }
        case SG_IX_SLICE: {
            if (it->v[2].given && sg_ix_value(&it->v[2], in) == 0) SG_FAIL(SG_IX_ERR_STEP);
            int64_t start, step, len;
            sg_ix_slice(it->v, in, n, &start, &step, &len);
            p->shape[it->out] = len;
            p->stride[it->out] = len > 1 ? step * st : st; /* |step| < n when it is used */
            if (len > 0) p->offset += start * st;
            break;
        }
        case SG_IX_NEW: break; /* length 1, stride 0 */
        case SG_IX_WHOLE:
            p->shape[it->out] = n;
            p->stride[it->out] = st;
            break;
        case SG_IX_MASK: {
            const sg_array *m = &in[it->operand];
            for (int64_t d = 0; d < it->width; d++) {
                const int64_t want = t->shape[it->axis + d];
                if (m->shape[d] != want && m->shape[d] != 0) /* NumPy lets empty mask axes pass */
                    SG_FAIL_INFO(SG_IX_ERR_MASK, it->axis + d, want, m->shape[d]);
            }
            p->count[k] = sg_ix_count(m);
            break;
        }
        default: break;
        }
    }
    /* the broadcast shape of the index arrays (a mask: a vector of its true entries) */
    int64_t *adv = p->shape + p->adv_first;
    const int64_t r = p->adv_rank;
    for (int64_t k = 0; k < s->nitems; k++) {
        const sg_ix_item *it = &s->items[k];
        if (it->kind != SG_IX_ARRAY && it->kind != SG_IX_MASK) continue;
        const int64_t nd = it->kind == SG_IX_ARRAY ? in[it->operand].ndim : 1;
        for (int64_t j = 0; j < nd; j++) {
            const int64_t d = r - nd + j;
            const int64_t a = it->kind == SG_IX_ARRAY ? in[it->operand].shape[j] : p->count[k];
            if (a == 1 || a == adv[d]) continue;
            if (adv[d] != 1) SG_FAIL_INFO(SG_IX_ERR_BROADCAST, d, adv[d], a);
            adv[d] = a;
        }
    }
    p->adv_size = sg_shape_size(r, adv);
    if (p->adv_size < 0 || sg_shape_size(p->ndim, p->shape) < 0) SG_FAIL(SG_ERR_OVERFLOW);
    if (!check || p->adv_size == 0) return 0; /* NumPy checks the values only then */
    for (int64_t k = 0; k < s->nitems; k++) {
        const sg_ix_item *it = &s->items[k];
        if (it->kind != SG_IX_ARRAY) continue;
        const sg_array *a = &in[it->operand];
        const int64_t size = sg_size(a), n = t->shape[it->axis];
        int64_t idx[SG_MAXDIM];
        const char *ptr = a->data;
        for (int64_t d = 0; d < a->ndim; d++) idx[d] = 0;
        for (int64_t i = 0; i < size; i++) {
            const int64_t v = sg_ix_int(ptr, it->code);
            if (v < -n || v >= n) SG_FAIL_INFO(SG_ERR_INDEX, v, it->axis, n);
            sg_ix_step(a->ndim, a->shape, a->strides, idx, &ptr);
        }
    }
    return 0;
}

/* *table: for each position of the broadcast index shape, the byte offset the advanced
 * items add (one zero without them); release with sg_ix_release. */
static int64_t sg_ix_table(const sg_ix_spec *s, const sg_array *t, const sg_array *in, sg_ix_plan *p,
                           int64_t **table, int64_t *meta)
{
    *table = &p->zero;
    if (p->adv_rank == 0) return 0;
    const int64_t A = p->adv_size, r = p->adv_rank, *adv = p->shape + p->adv_first;
    int64_t *tab = malloc((size_t)(A > 0 ? A : 1) * sizeof(int64_t));
    if (!tab) SG_FAIL_INFO(SG_ERR_NOMEM, A * (int64_t)sizeof(int64_t), 0, 0);
    for (int64_t q = 0; q < A; q++) tab[q] = 0;
    for (int64_t k = 0; k < s->nitems && A > 0; k++) {
        const sg_ix_item *it = &s->items[k];
        if (it->kind == SG_IX_ARRAY) {
            const sg_array *a = &in[it->operand];
            const int64_t n = t->shape[it->axis], st = t->strides[it->axis];
            int64_t bst[SG_MAXDIM], idx[SG_MAXDIM];
            for (int64_t d = 0; d < r; d++) bst[d] = idx[d] = 0;
            for (int64_t j = 0; j < a->ndim; j++)
                bst[r - a->ndim + j] = a->shape[j] == 1 ? 0 : a->strides[j];
            const char *ptr = a->data;
            for (int64_t q = 0; q < A; q++) {
                const int64_t v = sg_ix_int(ptr, it->code);
                tab[q] += (v < 0 ? v + n : v) * st;
                sg_ix_step(r, adv, bst, idx, &ptr);
            }
        } else if (it->kind == SG_IX_MASK) {
            const sg_array *m = &in[it->operand];
            const int64_t count = p->count[k], last = adv[r - 1];
            int64_t *list = malloc((size_t)(count > 0 ? count : 1) * sizeof(int64_t));
            if (!list) {
                free(tab);
                SG_FAIL_INFO(SG_ERR_NOMEM, count * (int64_t)sizeof(int64_t), 0, 0);
            }
            sg_ix_mask_offsets(m, t->strides + it->axis, list);
            if (count == 1 || r == 1)
                for (int64_t q = 0; q < A; q++) tab[q] += list[count == 1 ? 0 : q];
            else
                for (int64_t q = 0; q < A; q++) tab[q] += list[q % last];
            free(list);
        }
    }
    *table = tab;
    return 0;
}

static inline void sg_ix_release(const sg_ix_plan *p, int64_t *table)
{
    if (table != &p->zero) free(table);
}

/* Byte offset of row `pi` of the pre axes (a C-order index over them). */
static inline int64_t sg_ix_pre(int64_t first, const int64_t *shape, const int64_t *stride, int64_t pi)
{
    if (first == 1) return pi * stride[0];
    int64_t off = 0;
    for (int64_t d = first - 1; d >= 0; d--) {
        off += (pi % shape[d]) * stride[d];
        pi /= shape[d];
    }
    return off;
}

/* The value `v` broadcast into the region: its byte strides per region axis (0 where it
 * broadcasts), or SG_IX_ERR_VALUE when it does not fit (NumPy: the value's lengths must be
 * 1 or the region's, right-aligned). */
static int64_t sg_ix_value_strides(const sg_ix_plan *p, const sg_array *v, int64_t *vst, int64_t *meta)
{
    const int64_t lead = p->ndim - v->ndim;
    for (int64_t d = 0; d < p->ndim; d++) {
        if (d < lead) {
            vst[d] = 0;
            continue;
        }
        const int64_t n = v->shape[d - lead];
        if (n != 1 && n != p->shape[d]) SG_FAIL_INFO(SG_IX_ERR_VALUE, d - lead, n, p->shape[d]);
        vst[d] = n == 1 ? 0 : v->strides[d - lead];
    }
    return 0;
}

typedef void (*sg_ix_copy_fn)(int64_t, const int64_t *, const char *, const int64_t *, char *, const int64_t *);

/* A strided copy (an SG_DEFINE_COPY function) cut into one chunk per thread along axis 0. */
static void sg_ix_copy_par(sg_ix_copy_fn copy, int64_t nd, const int64_t *shape, const char *src,
                           const int64_t *sst, char *dst, const int64_t *dst_st)
{
    const int64_t n = sg_shape_size(nd, shape);
    if (n <= 0) return;
    if (nd == 0 || n < SG_PARALLEL_MIN || sg_threads < 2 || shape[0] < 2) {
        copy(nd, shape, src, sst, dst, dst_st);
        return;
    }
    const int64_t chunks = shape[0] < sg_threads ? shape[0] : sg_threads;
    const int64_t base = shape[0] / chunks, extra = shape[0] % chunks;
#pragma omp parallel for num_threads(sg_threads) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t lo = c * base + (c < extra ? c : extra);
        int64_t sub[SG_MAXDIM];
        for (int64_t d = 0; d < nd; d++) sub[d] = shape[d];
        sub[0] = base + (c < extra);
        copy(nd, sub, src + lo * sst[0], sst, dst + lo * dst_st[0], dst_st);
    }
}

/* C-contiguous byte strides of a shape. */
static inline void sg_ix_c_strides(int64_t nd, const int64_t *shape, int64_t itemsize, int64_t *st)
{
    for (int64_t d = nd - 1; d >= 0; d--) {
        st[d] = itemsize;
        itemsize *= shape[d] > 1 ? shape[d] : 1;
    }
}

/* Reads the integer scalar inputs in[first .. first + n) (dtype codes as sg_ix_int) into v. */
static inline void sg_ix_read(const sg_array *in, int64_t first, int64_t n, const int64_t *codes, int64_t *v)
{
    for (int64_t k = 0; k < n; k++) v[k] = sg_ix_int(in[first + k].data, codes[k]);
}

/* A Python number, as ARange's perform sees its inputs (.item()): an int (exact) or a float. */
typedef struct {
    int64_t is_int, i;
    double f;
} sg_ix_num;

#define SG_IX_ERR_NAN_LENGTH 68 /* arange: (stop - start) / step is NaN */
#define SG_IX_ERR_BIG_LENGTH 69 /* arange: the length does not fit */
#define SG_IX_ERR_INT_RANGE 70  /* a Python integer out of bounds for the dtype: info = it */

static inline double sg_ix_float(sg_ix_num a) { return a.is_int ? (double)a.i : a.f; }

/* np.arange's length, ceil((stop - start) / step) at least 0, in Python's arithmetic: ints
 * exact, int / int correctly rounded (exactly so while |stop - start| and |step| <= 2**53;
 * beyond, through long double), an int meeting a float converted to it. */
static int64_t sg_ix_arange_length(sg_ix_num start, sg_ix_num stop, sg_ix_num step, int64_t *len,
                                   int64_t *meta)
{
    if (step.is_int ? step.i == 0 : step.f == 0) SG_FAIL(SG_IX_ERR_STEP);
    double q;
    if (start.is_int && stop.is_int) {
        const __int128 diff = (__int128)stop.i - start.i, big = (__int128)1 << 53;
        if (step.is_int && (diff > big || diff < -big || step.i > big || step.i < -big))
            q = (double)((long double)diff / (long double)step.i);
        else
            q = (double)diff / (step.is_int ? (double)step.i : step.f);
    } else {
        q = (sg_ix_float(stop) - sg_ix_float(start)) / sg_ix_float(step);
    }
    if (isnan(q)) SG_FAIL(SG_IX_ERR_NAN_LENGTH);
    const double c = ceil(q);
    if (!(c >= -9223372036854775808.0 && c < 9223372036854775808.0)) SG_FAIL(SG_IX_ERR_BIG_LENGTH);
    *len = c > 0 ? (int64_t)c : 0;
    return 0;
}

/* start + step as Python adds them: exactly for ints, else a float. */
static inline __int128 sg_ix_next_int(sg_ix_num start, sg_ix_num step) { return (__int128)start.i + step.i; }
static inline double sg_ix_next_float(sg_ix_num start, sg_ix_num step)
{
    if (start.is_int && step.is_int) return (double)sg_ix_next_int(start, step);
    return sg_ix_float(start) + sg_ix_float(step);
}

static inline int64_t sg_ix_clamp64(__int128 v) { return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v; }

/* Is the Python integer v in [lo, hi]? Else SG_IX_ERR_INT_RANGE (NumPy's OverflowError). */
#define SG_IX_CHECK_RANGE(v, lo, hi)                                                    \
    do {                                                                                \
        const __int128 v_ = (v);                                                        \
        if (v_ < (__int128)(lo) || v_ > (__int128)(hi))                                 \
            SG_FAIL_INFO(SG_IX_ERR_INT_RANGE, sg_ix_clamp64(v_), 0, 0);                 \
    } while (0)
/* endsection */

/* section: gather */
/* One row of the gather: the post axes' block at `src` into dst (C order). */
static inline void sg_ix_row_@SFX@(int64_t npost, const int64_t *shape, const int64_t *st, int64_t E,
                                   const char *src, @T@ *dst)
{
    const int64_t last = npost - 1, len = shape[last], s = st[last];
    int64_t idx[SG_MAXDIM];
    for (int64_t d = 0; d < last; d++) idx[d] = 0;
    for (int64_t r = 0, nrows = E / len; r < nrows; r++) {
        if (s == (int64_t)sizeof(@T@))
            for (int64_t i = 0; i < len; i++) dst[i] = ((const @T@ *)src)[i];
        else
            for (int64_t i = 0; i < len; i++) dst[i] = *(const @T@ *)(src + i * s);
        dst += len;
        sg_ix_step(last, shape, st, idx, &src);
    }
}

/* out (C order) = the region of `base` that the plan describes, elements of type @T@: for
 * each row of the pre axes, each advanced position, the post block. Threads split the pre
 * rows, or the advanced positions when there is one pre row. */
static void sg_ix_gather_@SFX@(const sg_ix_plan *p, const char *base, const int64_t *table, char *out)
{
    const int64_t first = p->adv_first, post = first + p->adv_rank, npost = p->ndim - post;
    const int64_t A = p->adv_size, P = sg_shape_size(first, p->shape);
    const int64_t E = sg_shape_size(npost, p->shape + post);
    if (P <= 0 || A <= 0 || E <= 0) return;
    const int64_t *shape = p->shape + post, *st = p->stride + post, work = P * A * E;
    base += p->offset;
    if (P == 1) {
        @T@ *dst = (@T@ *)out;
        if (npost == 0) {
#pragma omp parallel for num_threads(sg_threads) if(work >= SG_PARALLEL_MIN) schedule(static)
            for (int64_t t = 0; t < A; t++) dst[t] = *(const @T@ *)(base + table[t]);
        } else {
#pragma omp parallel for num_threads(sg_threads) if(work >= SG_PARALLEL_MIN) schedule(static)
            for (int64_t t = 0; t < A; t++) sg_ix_row_@SFX@(npost, shape, st, E, base + table[t], dst + t * E);
        }
        return;
    }
#pragma omp parallel for num_threads(sg_threads) if(work >= SG_PARALLEL_MIN) schedule(static)
    for (int64_t pi = 0; pi < P; pi++) {
        const char *row = base + sg_ix_pre(first, p->shape, p->stride, pi);
        @T@ *dst = (@T@ *)out + pi * A * E;
        if (npost == 0)
            for (int64_t t = 0; t < A; t++) dst[t] = *(const @T@ *)(row + table[t]);
        else
            for (int64_t t = 0; t < A; t++) sg_ix_row_@SFX@(npost, shape, st, E, row + table[t], dst + t * E);
    }
}
/* endsection */

/* section: scatter */
/* target[region] = @COMBINE@ with a = the target's element, b = the value's (broadcast):
 * rows of the pre axes go to threads, the advanced positions run in order inside one. */
static void sg_ix_@MODE@_@SFX@(const sg_ix_plan *p, char *base, const int64_t *table, const sg_array *v,
                               const int64_t *vst)
{
    const int64_t first = p->adv_first, post = first + p->adv_rank, npost = p->ndim - post;
    const int64_t A = p->adv_size, P = sg_shape_size(first, p->shape);
    const int64_t E = sg_shape_size(npost, p->shape + post);
    if (P <= 0 || A <= 0 || E <= 0) return;
    const int64_t *shape = p->shape + post, *st = p->stride + post, *vpost = vst + post;
    const int64_t last = npost - 1, len = npost ? shape[last] : 1;
    const int64_t s = npost ? st[last] : 0, vs = npost ? vpost[last] : 0;
    base += p->offset;
#pragma omp parallel for num_threads(sg_threads) if(P * A * E >= SG_PARALLEL_MIN && P > 1) schedule(static)
    for (int64_t pi = 0; pi < P; pi++) {
        char *row = base + (first ? sg_ix_pre(first, p->shape, p->stride, pi) : 0);
        const char *vrow = v->data + (first ? sg_ix_pre(first, p->shape, vst, pi) : 0);
        for (int64_t t = 0; t < A; t++) {
            char *dst = row + table[t];
            const char *src = vrow;
            for (int64_t d = post - 1, rest = t; d >= first; d--) {
                src += (rest % p->shape[d]) * vst[d];
                rest /= p->shape[d];
            }
            if (npost == 0) {
                const @T@ a = *(@T@ *)dst, b = *(const @T@ *)src;
                (void)a;
                *(@T@ *)dst = @COMBINE@;
                continue;
            }
            int64_t idx[SG_MAXDIM];
            const char *vsrc = src;
            for (int64_t d = 0; d < last; d++) idx[d] = 0;
            for (int64_t r = 0, nrows = E / len; r < nrows; r++) {
                for (int64_t i = 0; i < len; i++) {
                    @T@ *out = (@T@ *)(dst + i * s);
                    const @T@ a = *out, b = *(const @T@ *)(vsrc + i * vs);
                    (void)a;
                    *out = @COMBINE@;
                }
                for (int64_t d = last - 1; d >= 0; d--) { /* both odometers move together */
                    dst += st[d];
                    vsrc += vpost[d];
                    if (++idx[d] < shape[d]) break;
                    dst -= st[d] * shape[d];
                    vsrc -= vpost[d] * shape[d];
                    idx[d] = 0;
                }
            }
        }
    }
}
/* endsection */

/* section: arange */
/* np.arange's fill: the first two values as given, then start + i * (second - first), in @T@. */
static void sg_ix_arange_@SFX@(@T@ *out, int64_t len, @T@ first, @T@ second)
{
    if (len > 0) out[0] = first;
    if (len > 1) out[1] = second;
    const @T@ start = first, delta = @DELTA@;
#pragma omp parallel for num_threads(sg_threads) if(len >= SG_PARALLEL_MIN) schedule(static)
    for (int64_t i = 2; i < len; i++) out[i] = @FILL@;
}
/* endsection */
