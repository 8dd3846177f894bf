/* scalar_math.h: per-dtype scalar helpers with NumPy's semantics, for generated kernels.
 *
 * The code generator (symgrad/codegen/elemwise_c.py) pastes the sections below into every
 * kernel source (there is no #include: a kernel is one self-contained C file).
 * Suffixes name the dtype: b (bool), i8, i16, i32, i64, u8, f32, f64.
 *
 * Rules the helpers keep:
 * - integer arithmetic wraps like NumPy (done in unsigned types: signed overflow is UB in C);
 * - integer floor_divide/mod follow Python's sign rules; division by zero gives 0 (NumPy);
 *   MIN // -1 wraps to MIN and MIN % -1 is 0 (no hardware trap);
 * - float floor_divide/mod are NumPy's npy_divmod, line for line;
 * - maximum/minimum propagate NaN (np.maximum), unlike fmax/fmin;
 * - sigmoid and softplus are the stable forms symgrad's NumPy rows use.
 */

/* section: header */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define SG_MAXDIM 64
/* Bookkeeping code that runs once per row or block (axis merging, gathers, thread set-up):
 * gcc -O3 spends ~0.15 s on it for nothing measurable, so it is built at -O1 (gcc only). */
#if defined(__GNUC__) && !defined(__clang__)
#define SG_LIGHT_OPT __attribute__((optimize("O1")))
#else
#define SG_LIGHT_OPT
#endif
#define SG_BLOCK 512
#define SG_VLEN 16 /* elements per vectorized block: a multiple of every vector width */
#define SG_ERR_NEG_INT_POW 1
#define SG_ERR_NDIM 2
/* endsection */

/* section: libmvec */
/* Vector variants from glibc's libmvec (link with -lmvec). GCC only calls them when the
 * declarations carry the simd attribute, which glibc's math.h adds only under -ffast-math;
 * declaring them here vectorizes the loops while NaN/inf handling stays IEEE. */
#if defined(__x86_64__) && defined(__GLIBC__)
#define SG_SIMD __attribute__((__simd__("notinbranch")))
#define SG_VEC1(name) SG_SIMD double name(double); SG_SIMD float name##f(float);
#define SG_VEC2(name) SG_SIMD double name(double, double); SG_SIMD float name##f(float, float);
SG_VEC1(exp) SG_VEC1(log) SG_VEC1(sin) SG_VEC1(cos) SG_VEC2(pow)
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35)
SG_VEC1(exp2) SG_VEC1(expm1) SG_VEC1(log2) SG_VEC1(log10) SG_VEC1(log1p)
SG_VEC1(tan) SG_VEC1(asin) SG_VEC1(acos) SG_VEC1(atan) SG_VEC2(atan2)
SG_VEC1(sinh) SG_VEC1(cosh) SG_VEC1(tanh) SG_VEC1(erf)
#endif
#endif
/* endsection */

/* section: helpers */
/* Wrapping arithmetic for integers (W: the unsigned type the math is done in). */
#define SG_WRAP_OPS(sfx, T, W)                                                          \
    static inline T sg_add_##sfx(T a, T b) { return (T)((W)a + (W)b); }                 \
    static inline T sg_sub_##sfx(T a, T b) { return (T)((W)a - (W)b); }                 \
    static inline T sg_mul_##sfx(T a, T b) { return (T)((W)a * (W)b); }                 \
    static inline T sg_neg_##sfx(T a) { return (T)((W)0 - (W)a); }                      \
    static inline T sg_max_##sfx(T a, T b) { return a > b ? a : b; }                    \
    static inline T sg_min_##sfx(T a, T b) { return a < b ? a : b; }                    \
    static inline T sg_pow_##sfx(T a, T b) /* b < 0 is reported by the caller */       \
    {                                                                                   \
        uint64_t base = (uint64_t)a, out = 1, e = (int64_t)b < 0 ? 0 : (uint64_t)b;     \
        while (e) {                                                                     \
            if (e & 1) out *= base;                                                     \
            base *= base;                                                               \
            e >>= 1;                                                                    \
        }                                                                               \
        return (T)out;                                                                  \
    }

#define SG_SIGNED_OPS(sfx, T, W, RECIP_ZERO)                                            \
    SG_WRAP_OPS(sfx, T, W)                                                              \
    static inline T sg_floor_div_##sfx(T a, T b)                                        \
    {                                                                                   \
        if (b == 0) return 0;                                                           \
        if (b == -1) return sg_neg_##sfx(a);                                            \
        T q = (T)(a / b);                                                               \
        return (a % b != 0 && ((a < 0) != (b < 0))) ? (T)(q - 1) : q;                   \
    }                                                                                   \
    static inline T sg_mod_##sfx(T a, T b)                                              \
    {                                                                                   \
        if (b == 0 || b == -1) return 0;                                                \
        T r = (T)(a % b);                                                               \
        return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;                       \
    }                                                                                   \
    static inline T sg_abs_##sfx(T a) { return a < 0 ? sg_neg_##sfx(a) : a; }           \
    static inline T sg_sign_##sfx(T a) { return (T)((a > 0) - (a < 0)); }               \
    static inline T sg_reciprocal_##sfx(T a) /* NumPy: (T)(1.0 / a) */                  \
    {                                                                                   \
        return a == 1 ? 1 : a == -1 ? -1 : a == 0 ? (T)(RECIP_ZERO) : 0;                \
    }

#define SG_UNSIGNED_OPS(sfx, T, W)                                                      \
    SG_WRAP_OPS(sfx, T, W)                                                              \
    static inline T sg_floor_div_##sfx(T a, T b) { return b == 0 ? 0 : (T)(a / b); }    \
    static inline T sg_mod_##sfx(T a, T b) { return b == 0 ? 0 : (T)(a % b); }          \
    static inline T sg_abs_##sfx(T a) { return a; }                                     \
    static inline T sg_sign_##sfx(T a) { return (T)(a > 0); }                           \
    static inline T sg_reciprocal_##sfx(T a) { return a == 1 ? 1 : 0; }

SG_SIGNED_OPS(i8, int8_t, uint32_t, 0)
SG_SIGNED_OPS(i16, int16_t, uint32_t, 0)
SG_SIGNED_OPS(i32, int32_t, uint32_t, INT32_MIN)
SG_SIGNED_OPS(i64, int64_t, uint64_t, INT64_MIN)
SG_UNSIGNED_OPS(u8, uint8_t, uint32_t)

/* Floats. F: the type, S: the libm suffix ("" or f). */
#define SG_FLOAT_OPS(sfx, F, S)                                                         \
    static inline F sg_max_##sfx(F a, F b) { return (a > b || a != a) ? a : b; }        \
    static inline F sg_min_##sfx(F a, F b) { return (a < b || a != a) ? a : b; }        \
    static inline F sg_sign_##sfx(F a)                                                  \
    {                                                                                   \
        return a > 0 ? (F)1 : a < 0 ? (F)-1 : a == 0 ? (F)0 : a;                        \
    }                                                                                   \
    static inline F sg_divmod_##sfx(F a, F b, F *modulus) /* NumPy's npy_divmod */      \
    {                                                                                   \
        F mod = fmod##S(a, b);                                                          \
        if (!b) {                                                                       \
            *modulus = mod;                                                             \
            return a / b;                                                               \
        }                                                                               \
        F div = (a - mod) / b;                                                          \
        if (mod) {                                                                      \
            if (isless(b, 0) != isless(mod, 0)) {                                       \
                mod += b;                                                               \
                div -= (F)1;                                                            \
            }                                                                           \
        } else {                                                                        \
            mod = copysign##S(0, b);                                                    \
        }                                                                               \
        F floordiv;                                                                     \
        if (div) {                                                                      \
            floordiv = floor##S(div);                                                   \
            if (isgreater(div - floordiv, (F)0.5)) floordiv += (F)1;                    \
        } else {                                                                        \
            floordiv = copysign##S(0, a / b);                                           \
        }                                                                               \
        *modulus = mod;                                                                 \
        return floordiv;                                                                \
    }                                                                                   \
    static inline F sg_floor_div_##sfx(F a, F b)                                        \
    {                                                                                   \
        F mod;                                                                          \
        return b ? sg_divmod_##sfx(a, b, &mod) : a / b;                                 \
    }                                                                                   \
    static inline F sg_mod_##sfx(F a, F b)                                              \
    {                                                                                   \
        F mod;                                                                          \
        if (!b) return fmod##S(a, b);                                                   \
        sg_divmod_##sfx(a, b, &mod);                                                    \
        return mod;                                                                     \
    }                                                                                   \
    static inline F sg_sigmoid_##sfx(F x) /* exp of -|x| never overflows */             \
    {                                                                                   \
        F e = exp##S(-fabs##S(x));                                                      \
        return x >= 0 ? (F)1 / ((F)1 + e) : e / ((F)1 + e);                            \
    }                                                                                   \
    static inline F sg_softplus_##sfx(F x) /* np.logaddexp(0, x) */                     \
    {                                                                                   \
        return (x > 0 ? x : (F)0) + log1p##S(exp##S(-fabs##S(x)));                      \
    }

SG_FLOAT_OPS(f32, float, f)
SG_FLOAT_OPS(f64, double, )

/* float32 erf through double: as accurate as NumPy's row (math.erf, then rounded). */
static inline float sg_erf_f32(float x) { return (float)erf((double)x); }
static inline double sg_erf_f64(double x) { return erf(x); }
/* endsection */
