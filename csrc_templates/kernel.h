/* kernel.h: the runtime of op kernels (every compiled op that is not elementwise).
 *
 * Filled in by symgrad/codegen/kernels.py. An op kernel is two exported functions with flat
 * arguments (cheap to pass from Python, easy to call from a generated graph program):
 *
 *     int64_t <name>_shape(char *const *data, const int64_t *shapes, const int64_t *strides, int64_t *meta)
 *     int64_t <name>_run(char *const *data, const int64_t *shapes, const int64_t *strides, int64_t *meta)
 *
 * data/shapes/strides hold the operands in order: the inputs, then (for _run) the outputs.
 * Every operand's rank is fixed when the kernel is generated, so shapes[] and strides[] are
 * the operands' shape and byte-stride tuples laid end to end. _shape checks the inputs and
 * writes the outputs' shapes to meta + SG_META_SHAPES (end to end); _run gets outputs that are
 * fresh C-contiguous arrays of exactly those shapes (no overlap with any input). Both return
 * 0 or an SG_ERR_* code, with up to SG_META_INFO integers of detail in meta[0..] that the
 * Python side formats into the error message of that code.
 *
 * The op's own code (the @SHAPE_BODY@ and @RUN_BODY@ blocks) sees `const sg_array *in` and
 * `const sg_array *out` (in[k].data, .ndim, .shape, .strides), `int64_t *out_shape[]` in the
 * shape body, and fails with SG_FAIL(code, detail...) or SG_FAIL_SHAPE()/SG_CHECK_SIZE(...).
 */

/* section: runtime */
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define SG_META_INFO 8
#define SG_META_SHAPES 8
/* Errors every kernel may raise (the Python side knows their messages). Bits 1 and 2 are the
 * elementwise kernels' own codes; op kernels use these and codes from 64 up. */
#define SG_ERR_SHAPE 16    /* input shapes do not fit together: info = the axis, or -1 */
#define SG_ERR_INDEX 17    /* info: index, axis, size */
#define SG_ERR_VALUE 18    /* a value the op refuses: info = the value */
#define SG_ERR_NOMEM 19    /* malloc failed: info = bytes */
#define SG_ERR_OVERFLOW 20 /* a size does not fit in 64 bits */

typedef struct {
    char *data;
    int64_t ndim;
    const int64_t *shape;
    const int64_t *strides; /* in bytes; 0 on broadcast axes; may be negative */
} sg_array;

/* The thread count, set once per library by sg_set_num_threads. A library may be compiled as
 * several translation units in parallel (symgrad/codegen/library.py): the first defines the
 * count and its setter, the others (SG_SECONDARY_UNIT) refer to it. Hidden: each library has
 * its own. */
/* symgrad's own GEMM (csrc_templates/gemm.c, a library built once per machine): Python hands
 * its entry points over with sg_set_own_gemm where it is wanted (blas_c.own_gemm_wanted);
 * NULL, the default, leaves the float products to CBLAS. */
typedef int64_t (*sg_dgemm_fn)(int64_t, int64_t, int64_t, double, const double *, int, int64_t,
                               const double *, int, int64_t, double, double *, int64_t, int,
                               const double *, int64_t, int64_t);
typedef int64_t (*sg_sgemm_fn)(int64_t, int64_t, int64_t, float, const float *, int, int64_t,
                               const float *, int, int64_t, float, float *, int64_t, int,
                               const float *, int64_t, int64_t);
#ifndef SG_SECONDARY_UNIT
__attribute__((visibility("hidden"))) int sg_threads = 1;
__attribute__((visibility("hidden"))) sg_dgemm_fn sg_own_dgemm = 0;
__attribute__((visibility("hidden"))) sg_sgemm_fn sg_own_sgemm = 0;

int64_t sg_set_num_threads(int64_t n)
{
    sg_threads = n < 1 ? 1 : (int)n;
    return sg_threads;
}

void sg_set_own_gemm(void *dgemm, void *sgemm)
{
    sg_own_dgemm = (sg_dgemm_fn)dgemm;
    sg_own_sgemm = (sg_sgemm_fn)sgemm;
}
#else
extern __attribute__((visibility("hidden"))) int sg_threads;
extern __attribute__((visibility("hidden"))) sg_dgemm_fn sg_own_dgemm;
extern __attribute__((visibility("hidden"))) sg_sgemm_fn sg_own_sgemm;
#endif

/* Threads only pay off past this much work (elements touched); below it a loop stays on one.
 * Waking sleeping OpenMP threads (OMP_WAIT_POLICY=PASSIVE) took 30-40 us on the 2-vCPU VM: a
 * row sum of 262,144 doubles took 21 us on one thread and 32 on two, of 524,288 43 and 50; a
 * row softmax (an exp per element) breaks even near 100,000 (`_MATH`). */
#define SG_PARALLEL_MIN (1 << 19)
#define SG_PARALLEL_MIN_MATH (1 << 17)

#define SG_FAIL_INFO(code, a, b, c)                                                     \
    do {                                                                                \
        meta[0] = (int64_t)(a);                                                         \
        meta[1] = (int64_t)(b);                                                         \
        meta[2] = (int64_t)(c);                                                         \
        return (code);                                                                  \
    } while (0)
#define SG_FAIL(code) SG_FAIL_INFO(code, -1, 0, 0)

/* *out = a * b, or SG_ERR_OVERFLOW from the enclosing function. */
#define SG_MUL_SIZE(out, a, b)                                                          \
    do {                                                                                \
        if (__builtin_mul_overflow((int64_t)(a), (int64_t)(b), (out)))                   \
            SG_FAIL_INFO(SG_ERR_OVERFLOW, (a), (b), 0);                                 \
    } while (0)

/* Number of elements of a shape, overflow-checked; -1 when it does not fit in 64 bits. */
static inline int64_t sg_shape_size(int64_t ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int64_t d = 0; d < ndim; d++)
        if (shape[d] < 0 || __builtin_mul_overflow(n, shape[d], &n)) return -1;
    return n;
}

static inline int64_t sg_size(const sg_array *a) { return sg_shape_size(a->ndim, a->shape); }

/* Is the array C-contiguous with elements of `itemsize` bytes (length-1 axes ignored)? */
static inline int sg_is_c_contiguous(const sg_array *a, int64_t itemsize)
{
    int64_t expect = itemsize;
    for (int64_t d = a->ndim - 1; d >= 0; d--) {
        if (a->shape[d] == 1) continue;
        if (a->strides[d] != expect) return 0;
        expect *= a->shape[d];
    }
    return 1;
}

/* The address of element `index` (a flat C-order index) of a strided array. */
static inline char *sg_element(const sg_array *a, int64_t index)
{
    char *p = a->data;
    for (int64_t d = a->ndim - 1; d >= 0; d--) {
        const int64_t n = a->shape[d];
        p += (index % n) * a->strides[d];
        index /= n;
    }
    return p;
}

/* A strided copy converting S to D, over an odometer of the outer axes (byte strides). */
#define SG_DEFINE_COPY(NAME, S, D)                                                      \
    static void NAME(int64_t ndim, const int64_t *shape, const char *src,               \
                     const int64_t *sst, char *dst, const int64_t *dst_st)               \
    {                                                                                   \
        if (ndim == 0) {                                                                \
            *(D *)dst = (D) * (const S *)src;                                           \
            return;                                                                     \
        }                                                                               \
        const int64_t n = sg_shape_size(ndim, shape), last = ndim - 1;                  \
        if (n <= 0) return;                                                             \
        const int64_t len = shape[last], ss = sst[last], ds = dst_st[last];             \
        int64_t idx[SG_MAXDIM] = { 0 };                                                 \
        for (int64_t r = 0, rows = n / len; r < rows; r++) {                            \
            if (ss == (int64_t)sizeof(S) && ds == (int64_t)sizeof(D))                   \
                for (int64_t i = 0; i < len; i++) ((D *)dst)[i] = (D)((const S *)src)[i]; \
            else                                                                        \
                for (int64_t i = 0; i < len; i++)                                       \
                    *(D *)(dst + i * ds) = (D) * (const S *)(src + i * ss);             \
            for (int64_t d = last - 1; d >= 0; d--) {                                   \
                src += sst[d];                                                          \
                dst += dst_st[d];                                                       \
                if (++idx[d] < shape[d]) break;                                         \
                src -= sst[d] * shape[d];                                               \
                dst -= dst_st[d] * shape[d];                                            \
                idx[d] = 0;                                                             \
            }                                                                           \
        }                                                                               \
    }
/* endsection */

/* section: wrapper */
@SUPPORT@

int64_t @NAME@_shape(char *const *data, const int64_t *shapes, const int64_t *strides, int64_t *meta)
{
    enum { NIN = @NIN@ };
    static const int64_t ndims[NIN + 1] = { @IN_NDIMS@ };
    static const int64_t out_offsets[@NOUT@ + 1] = { @OUT_OFFSETS@ };
    sg_array in[NIN + 1];
    int64_t *out_shape[@NOUT@ + 1];
    for (int64_t k = 0, off = 0; k < NIN; off += ndims[k], k++)
        in[k] = (sg_array){ data[k], ndims[k], shapes + off, strides + off };
    for (int64_t k = 0; k < @NOUT@; k++) out_shape[k] = meta + SG_META_SHAPES + out_offsets[k];
    (void)in; (void)out_shape;
@SHAPE_BODY@
    return 0;
}

int64_t @NAME@_run(char *const *data, const int64_t *shapes, const int64_t *strides, int64_t *meta)
{
    enum { NIN = @NIN@, NOPS = @NIN@ + @NOUT@ };
    static const int64_t ndims[NOPS + 1] = { @ALL_NDIMS@ };
    sg_array ops[NOPS + 1];
    for (int64_t k = 0, off = 0; k < NOPS; off += ndims[k], k++)
        ops[k] = (sg_array){ data[k], ndims[k], shapes + off, strides + off };
    const sg_array *in = ops, *out = ops + NIN;
    (void)in; (void)out; (void)meta;
@RUN_BODY@
    return 0;
}
/* endsection */
