/* The C runner of mode 'c': one CPython entry point that runs a compiled function's whole
 * schedule (symgrad/compile/runner.py builds it once per machine into the compile cache).
 *
 * A `Program` is made from a plain description of the schedule (runner.py, `describe`):
 * the roots with their dtypes and ranks, the constants, and one record per step:
 *   ELEMWISE  an elementwise kernel's general entry point, called on the broadcast shape
 *             with the operands' own strides (no copy, whatever the layout);
 *   KERNEL    an op kernel's `_shape` and `_run` entry points (csrc_templates/kernel.h),
 *             with the outputs allocated here from the shapes `_shape` wrote;
 *   CALL      a Python callable (a view, a user op's `perform`), for everything else.
 * Calling the program with the sequence of root values checks each root (an exact ndarray
 * of the root's dtype object and rank, aligned; anything else goes through the Python
 * `check_root`), runs the steps over a local array of cells, releases every cell after its
 * last reader, and returns the output cells as a list (or the one output itself).
 *
 * Nothing here trusts a cell: every array a kernel reads is checked for type, dtype and
 * rank first; a step whose operands the fast path does not take (shapes that do not
 * broadcast, say) is handed to its Python step, which raises the error mode 'py' raises.
 * Kernels check their own shapes and bounds and return an error code; the code goes to the
 * Python step's `fail`, which raises with the op, the shapes and the user's file:line.
 *
 * Intermediates that die within the call may go into the previous call's arrays (`pool`
 * slots, chosen in symgrad/compile/program.py `reusable_steps`); one call at a time does so,
 * a concurrent or re-entrant call allocates (`busy`). Kernels run with the GIL released
 * when the work is large enough to be worth it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stddef.h>
#include <stdint.h>
#include <structmember.h>
#include <string.h>

typedef int64_t (*sg_elemwise_entry)(int64_t, const int64_t *, char *const *, const int64_t *);
typedef int64_t (*sg_op_entry)(char *const *, const int64_t *, const int64_t *, int64_t *);

enum { STEP_ELEMWISE = 0, STEP_KERNEL = 1, STEP_CALL = 2 };
enum { MAX_DIMS = 64, SMALL_CELLS = 64, SMALL_WORDS = 512 };
/* Elements from which an elementwise kernel runs without the GIL (releasing it costs about
 * as much as 1,000 elements of `x + 1`). */
#define GIL_FREE_ELEMENTS 16384

_Static_assert(sizeof(npy_intp) == sizeof(int64_t), "the kernels take 64-bit sizes");

typedef struct {
    int kind;
    Py_ssize_t nin, nout, nfrees;
    Py_ssize_t *ins, *outs, *frees;
    int *in_types;             /* per input: the NumPy type number its kernel reads */
    PyObject *call;            /* the Python step's `call` (CALL: the callable itself) */
    PyObject *fail;            /* the Python step's error path: fail(args, code[, meta]) */
    int single;                /* CALL: returns one array instead of a sequence */
    sg_elemwise_entry elemwise;
    sg_op_entry shape_fn, run_fn;
    int ndim;                  /* ELEMWISE: the output's rank */
    Py_ssize_t inplace;        /* ELEMWISE: the input whose array may be the output, or -1 */
    PyArray_Descr **out_descr; /* per output */
    Py_ssize_t *out_range;     /* KERNEL: per output, [start, end) of its shape in meta */
    Py_ssize_t meta_size;      /* KERNEL */
    Py_ssize_t pool;           /* first pool slot of the outputs, or -1 */
} Step;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *spec;            /* the description: owns every object the steps point to */
    PyObject *check_root;
    Py_ssize_t n_cells, n_roots, n_constants, n_steps, n_outputs, n_pool;
    Py_ssize_t *root_cells;
    PyArray_Descr **root_descr;
    int *root_ndim, *root_always;
    Py_ssize_t *const_cells;
    PyObject **const_values;
    Step *steps;
    Py_ssize_t *outputs;
    PyObject **pool;
    int busy, unwrap;
    PyObject *times;           /* a float64 array of n_steps: seconds per step are added (profiling) */
    void **allocations;        /* every PyMem block above, freed with the program */
    Py_ssize_t n_allocations, cap_allocations;
} Program;

/* --- building a program from its description ------------------------------------------- */

static void *program_alloc(Program *self, size_t bytes)
{
    if (self->n_allocations == self->cap_allocations) {
        Py_ssize_t cap = self->cap_allocations ? 2 * self->cap_allocations : 16;
        void **grown = PyMem_Realloc(self->allocations, cap * sizeof(void *));
        if (!grown) {
            PyErr_NoMemory();
            return NULL;
        }
        self->allocations = grown;
        self->cap_allocations = cap;
    }
    void *block = PyMem_Calloc(1, bytes ? bytes : 1);
    if (!block) {
        PyErr_NoMemory();
        return NULL;
    }
    self->allocations[self->n_allocations++] = block;
    return block;
}

static int describe_error(const char *what)
{
    PyErr_Format(PyExc_ValueError, "symgrad C runner: malformed program description (%s)", what);
    return -1;
}

/* A tuple of cell indices, each in [0, n_cells). */
static Py_ssize_t *cell_array(Program *self, PyObject *obj, Py_ssize_t *n)
{
    if (!PyTuple_Check(obj)) {
        describe_error("a cell list is not a tuple");
        return NULL;
    }
    *n = PyTuple_GET_SIZE(obj);
    Py_ssize_t *cells = program_alloc(self, *n * sizeof(Py_ssize_t));
    if (!cells) return NULL;
    for (Py_ssize_t k = 0; k < *n; k++) {
        Py_ssize_t c = PyLong_AsSsize_t(PyTuple_GET_ITEM(obj, k));
        if (c == -1 && PyErr_Occurred()) return NULL;
        if (c < 0 || c >= self->n_cells) {
            describe_error("a cell index is out of range");
            return NULL;
        }
        cells[k] = c;
    }
    return cells;
}

static int int_item(PyObject *tuple, Py_ssize_t k, Py_ssize_t *value)
{
    *value = PyLong_AsSsize_t(PyTuple_GET_ITEM(tuple, k));
    return *value == -1 && PyErr_Occurred() ? -1 : 0;
}

static void *address_item(PyObject *tuple, Py_ssize_t k)
{
    void *p = PyLong_AsVoidPtr(PyTuple_GET_ITEM(tuple, k));
    if (!p && !PyErr_Occurred()) describe_error("a null kernel address");
    return p;
}

static int descr_item(PyObject *obj, PyArray_Descr **descr)
{
    if (!PyArray_DescrCheck(obj)) return describe_error("a dtype is not a numpy.dtype");
    *descr = (PyArray_Descr *)obj;
    return 0;
}

static int type_list(Program *self, PyObject *obj, Step *s)
{
    if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != s->nin) return describe_error("input dtypes");
    s->in_types = program_alloc(self, s->nin * sizeof(int));
    if (!s->in_types) return -1;
    for (Py_ssize_t j = 0; j < s->nin; j++) {
        PyArray_Descr *d;
        if (descr_item(PyTuple_GET_ITEM(obj, j), &d) < 0) return -1;
        s->in_types[j] = d->type_num;
    }
    return 0;
}

/* (ELEMWISE, call, fail, entry, ins, in_dtypes, out, out_dtype, ndim, inplace, pool, frees) */
static int parse_elemwise(Program *self, PyObject *t, Step *s)
{
    if (PyTuple_GET_SIZE(t) != 12) return describe_error("an elementwise step has 12 fields");
    s->call = PyTuple_GET_ITEM(t, 1);
    s->fail = PyTuple_GET_ITEM(t, 2);
    if (!(s->elemwise = (sg_elemwise_entry)address_item(t, 3))) return -1;
    if (!(s->ins = cell_array(self, PyTuple_GET_ITEM(t, 4), &s->nin))) return -1;
    if (type_list(self, PyTuple_GET_ITEM(t, 5), s) < 0) return -1;
    PyObject *out = PyTuple_Pack(1, PyTuple_GET_ITEM(t, 6));
    if (!out) return -1;
    s->outs = cell_array(self, out, &s->nout);
    Py_DECREF(out);
    if (!s->outs) return -1;
    s->out_descr = program_alloc(self, sizeof(PyArray_Descr *));
    if (!s->out_descr || descr_item(PyTuple_GET_ITEM(t, 7), &s->out_descr[0]) < 0) return -1;
    Py_ssize_t ndim;
    if (int_item(t, 8, &ndim) < 0 || int_item(t, 9, &s->inplace) < 0 || int_item(t, 10, &s->pool) < 0)
        return -1;
    if (ndim < 0 || ndim > MAX_DIMS) return describe_error("an elementwise rank");
    if (s->inplace >= s->nin || s->nin == 0 || s->nin >= SMALL_WORDS / 4) return describe_error("elementwise inputs");
    s->ndim = (int)ndim;
    return (s->frees = cell_array(self, PyTuple_GET_ITEM(t, 11), &s->nfrees)) ? 0 : -1;
}

/* (KERNEL, call, fail, shape_entry, run_entry, ins, in_dtypes, outs, out_specs, meta_size, pool,
 *  frees) with out_specs = ((start, end, dtype), ...) */
static int parse_kernel(Program *self, PyObject *t, Step *s)
{
    if (PyTuple_GET_SIZE(t) != 12) return describe_error("a kernel step has 12 fields");
    s->call = PyTuple_GET_ITEM(t, 1);
    s->fail = PyTuple_GET_ITEM(t, 2);
    if (!(s->shape_fn = (sg_op_entry)address_item(t, 3))) return -1;
    if (!(s->run_fn = (sg_op_entry)address_item(t, 4))) return -1;
    if (!(s->ins = cell_array(self, PyTuple_GET_ITEM(t, 5), &s->nin))) return -1;
    if (type_list(self, PyTuple_GET_ITEM(t, 6), s) < 0) return -1;
    if (!(s->outs = cell_array(self, PyTuple_GET_ITEM(t, 7), &s->nout))) return -1;
    if (int_item(t, 9, &s->meta_size) < 0 || int_item(t, 10, &s->pool) < 0) return -1;
    if (s->meta_size < 0) return describe_error("a kernel's meta size");
    PyObject *specs = PyTuple_GET_ITEM(t, 8);
    if (!PyTuple_Check(specs) || PyTuple_GET_SIZE(specs) != s->nout) return describe_error("kernel outputs");
    s->out_descr = program_alloc(self, s->nout * sizeof(PyArray_Descr *));
    s->out_range = program_alloc(self, 2 * s->nout * sizeof(Py_ssize_t));
    if (!s->out_descr || !s->out_range) return -1;
    for (Py_ssize_t j = 0; j < s->nout; j++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, j);
        if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 3) return describe_error("a kernel output");
        Py_ssize_t start, end;
        if (int_item(spec, 0, &start) < 0 || int_item(spec, 1, &end) < 0) return -1;
        if (start < 0 || end < start || end > s->meta_size || end - start > MAX_DIMS)
            return describe_error("a kernel output's shape range");
        s->out_range[2 * j] = start;
        s->out_range[2 * j + 1] = end;
        if (descr_item(PyTuple_GET_ITEM(spec, 2), &s->out_descr[j]) < 0) return -1;
    }
    if (s->nin + s->nout > SMALL_WORDS / 4) return describe_error("too many kernel operands");
    return (s->frees = cell_array(self, PyTuple_GET_ITEM(t, 11), &s->nfrees)) ? 0 : -1;
}

/* (CALL, callable, ins, outs, single, frees) */
static int parse_call(Program *self, PyObject *t, Step *s)
{
    if (PyTuple_GET_SIZE(t) != 6) return describe_error("a call step has 6 fields");
    s->call = PyTuple_GET_ITEM(t, 1);
    if (!(s->ins = cell_array(self, PyTuple_GET_ITEM(t, 2), &s->nin))) return -1;
    if (!(s->outs = cell_array(self, PyTuple_GET_ITEM(t, 3), &s->nout))) return -1;
    s->single = PyObject_IsTrue(PyTuple_GET_ITEM(t, 4));
    if (s->single < 0) return -1;
    if (s->single && s->nout != 1) return describe_error("a single-output call with several outputs");
    s->pool = -1;
    return (s->frees = cell_array(self, PyTuple_GET_ITEM(t, 5), &s->nfrees)) ? 0 : -1;
}

static int parse_roots(Program *self, PyObject *roots)
{
    self->n_roots = PyTuple_GET_SIZE(roots);
    self->root_cells = program_alloc(self, self->n_roots * sizeof(Py_ssize_t));
    self->root_descr = program_alloc(self, self->n_roots * sizeof(PyArray_Descr *));
    self->root_ndim = program_alloc(self, self->n_roots * sizeof(int));
    self->root_always = program_alloc(self, self->n_roots * sizeof(int));
    if (!self->root_cells || !self->root_descr || !self->root_ndim || !self->root_always) return -1;
    for (Py_ssize_t r = 0; r < self->n_roots; r++) {
        PyObject *t = PyTuple_GET_ITEM(roots, r);
        Py_ssize_t cell, ndim;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4) return describe_error("a root has 4 fields");
        if (int_item(t, 0, &cell) < 0 || int_item(t, 2, &ndim) < 0) return -1;
        if (cell < 0 || cell >= self->n_cells || ndim < 0 || ndim > MAX_DIMS) return describe_error("a root");
        if (descr_item(PyTuple_GET_ITEM(t, 1), &self->root_descr[r]) < 0) return -1;
        int always = PyObject_IsTrue(PyTuple_GET_ITEM(t, 3));
        if (always < 0) return -1;
        self->root_cells[r] = cell;
        self->root_ndim[r] = (int)ndim;
        self->root_always[r] = always;
    }
    return 0;
}

static int parse_constants(Program *self, PyObject *constants)
{
    self->n_constants = PyTuple_GET_SIZE(constants);
    self->const_cells = program_alloc(self, self->n_constants * sizeof(Py_ssize_t));
    self->const_values = program_alloc(self, self->n_constants * sizeof(PyObject *));
    if (!self->const_cells || !self->const_values) return -1;
    for (Py_ssize_t k = 0; k < self->n_constants; k++) {
        PyObject *t = PyTuple_GET_ITEM(constants, k);
        Py_ssize_t cell;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) return describe_error("a constant has 2 fields");
        if (int_item(t, 0, &cell) < 0) return -1;
        if (cell < 0 || cell >= self->n_cells) return describe_error("a constant's cell");
        self->const_cells[k] = cell;
        self->const_values[k] = PyTuple_GET_ITEM(t, 1);
    }
    return 0;
}

static int parse_steps(Program *self, PyObject *steps)
{
    self->n_steps = PyTuple_GET_SIZE(steps);
    self->steps = program_alloc(self, self->n_steps * sizeof(Step));
    if (!self->steps) return -1;
    Py_ssize_t pool_end = 0;
    for (Py_ssize_t k = 0; k < self->n_steps; k++) {
        PyObject *t = PyTuple_GET_ITEM(steps, k);
        Step *s = &self->steps[k];
        Py_ssize_t kind;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 1) return describe_error("a step is not a tuple");
        if (int_item(t, 0, &kind) < 0) return -1;
        s->kind = (int)kind;
        int ok = kind == STEP_ELEMWISE ? parse_elemwise(self, t, s)
                 : kind == STEP_KERNEL ? parse_kernel(self, t, s)
                 : kind == STEP_CALL   ? parse_call(self, t, s)
                                       : describe_error("an unknown step kind");
        if (ok < 0) return -1;
        if (s->pool < -1 || (s->pool >= 0 && s->pool != pool_end)) return describe_error("pool slots");
        if (s->pool >= 0) pool_end += s->nout;
    }
    self->n_pool = pool_end;
    self->pool = program_alloc(self, (pool_end ? pool_end : 1) * sizeof(PyObject *));
    return self->pool ? 0 : -1;
}

static PyObject *program_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames);

static PyObject *program_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t n_cells;
    PyObject *roots, *constants, *steps, *outputs, *check_root;
    int unwrap;
    static char *names[] = {"n_cells", "roots", "constants", "steps", "outputs", "check_root", "unwrap", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nO!O!O!O!Op", names, &n_cells, &PyTuple_Type, &roots,
                                     &PyTuple_Type, &constants, &PyTuple_Type, &steps, &PyTuple_Type,
                                     &outputs, &check_root, &unwrap))
        return NULL;
    if (n_cells < 0) return describe_error("n_cells"), NULL;
    Program *self = (Program *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->vectorcall = program_vectorcall;
    self->n_cells = n_cells;
    self->unwrap = unwrap;
    self->spec = PyTuple_Pack(4, roots, constants, steps, outputs);
    Py_INCREF(check_root);
    self->check_root = check_root;
    if (!self->spec || parse_roots(self, roots) < 0 || parse_constants(self, constants) < 0 ||
        parse_steps(self, steps) < 0 || !(self->outputs = cell_array(self, outputs, &self->n_outputs))) {
        Py_DECREF(self);
        return NULL;
    }
    if (unwrap && self->n_outputs != 1) {
        Py_DECREF(self);
        return describe_error("unwrap needs exactly one output"), NULL;
    }
    return (PyObject *)self;
}

static int program_traverse(Program *self, visitproc visit, void *arg)
{
    Py_VISIT(self->spec);
    Py_VISIT(self->check_root);
    Py_VISIT(self->times);
    for (Py_ssize_t k = 0; self->pool && k < self->n_pool; k++) Py_VISIT(self->pool[k]);
    return 0;
}

static int program_clear(Program *self)
{
    for (Py_ssize_t k = 0; self->pool && k < self->n_pool; k++) Py_CLEAR(self->pool[k]);
    Py_CLEAR(self->check_root);
    Py_CLEAR(self->times);
    /* The steps keep borrowed pointers into the description: a cleared program refuses calls. */
    self->n_steps = 0;
    self->n_roots = self->n_constants = self->n_outputs = 0;
    Py_CLEAR(self->spec);
    return 0;
}

static void program_dealloc(Program *self)
{
    PyObject_GC_UnTrack(self);
    program_clear(self);
    for (Py_ssize_t k = 0; k < self->n_allocations; k++) PyMem_Free(self->allocations[k]);
    PyMem_Free(self->allocations);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* --- running ----------------------------------------------------------------------------- */

/* The ndarray in cell c, checked to be what a kernel reading it as `type_num` needs. */
static PyArrayObject *array_in(PyObject *value, int type_num)
{
    if (!value || !PyArray_Check(value)) return NULL;
    PyArrayObject *a = (PyArrayObject *)value;
    if (PyArray_DESCR(a)->type_num != type_num || !PyArray_ISNOTSWAPPED(a) || !PyArray_ISALIGNED(a)) return NULL;
    return a;
}

/* Cells are filled only by checked roots, constants and steps that make arrays of their
 * declared dtype: this is a bug in symgrad, refused before a kernel reads the memory. */
static int bad_cell(Step *s, Py_ssize_t j)
{
    PyErr_Format(PyExc_TypeError,
                 "symgrad C runner: input %zd of a step is not an aligned, native array of the dtype its "
                 "kernel reads (a bug in symgrad; SYMGRAD_RUNNER=py avoids the C runner)", j);
    return -1;
}

static int same_shape(PyArrayObject *a, int nd, const npy_intp *dims)
{
    if (PyArray_NDIM(a) != nd) return 0;
    const npy_intp *have = PyArray_DIMS(a);
    for (int d = 0; d < nd; d++)
        if (have[d] != dims[d]) return 0;
    return 1;
}

/* A C-ordered array of `descr` and shape `dims`: the pool's array from the last call when it
 * has that shape, else a new one (kept in the pool for the next call when `reuse`). */
static PyArrayObject *output_array(Program *self, Py_ssize_t slot, int reuse, PyArray_Descr *descr, int nd,
                                   const npy_intp *dims)
{
    if (slot >= 0 && reuse) {
        PyArrayObject *kept = (PyArrayObject *)self->pool[slot];
        if (kept && same_shape(kept, nd, dims)) {
            Py_INCREF(kept);
            return kept;
        }
    }
    Py_INCREF(descr); /* stolen */
    PyObject *out = PyArray_NewFromDescr(&PyArray_Type, descr, nd, (npy_intp *)dims, NULL, NULL, 0, NULL);
    if (out && slot >= 0 && reuse) {
        Py_INCREF(out);
        Py_XSETREF(self->pool[slot], out);
    }
    return (PyArrayObject *)out;
}

static PyObject *inputs_tuple(Step *s, PyObject **cells)
{
    PyObject *t = PyTuple_New(s->nin);
    if (!t) return NULL;
    for (Py_ssize_t j = 0; j < s->nin; j++) {
        PyObject *v = cells[s->ins[j]] ? cells[s->ins[j]] : Py_None;
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, j, v);
    }
    return t;
}

/* The Python step's `call` on the inputs: what the fast path does not take. */
static int call_python(Step *s, PyObject **cells, PyObject *call, int single)
{
    PyObject *small[16], **argv = small;
    if (s->nin > 16 && !(argv = PyMem_Malloc(s->nin * sizeof(PyObject *)))) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t j = 0; j < s->nin; j++) argv[j] = cells[s->ins[j]] ? cells[s->ins[j]] : Py_None;
    PyObject *result = PyObject_Vectorcall(call, argv, s->nin, NULL);
    if (argv != small) PyMem_Free(argv);
    if (!result) return -1;
    if (single) {
        Py_XSETREF(cells[s->outs[0]], result);
        return 0;
    }
    PyObject *seq = PySequence_Fast(result, "a step returns a sequence of outputs");
    Py_DECREF(result);
    if (!seq) return -1;
    if (PySequence_Fast_GET_SIZE(seq) != s->nout) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_RuntimeError, "symgrad C runner: a step returned the wrong number of outputs");
        return -1;
    }
    for (Py_ssize_t j = 0; j < s->nout; j++) {
        PyObject *v = PySequence_Fast_GET_ITEM(seq, j);
        Py_INCREF(v);
        Py_XSETREF(cells[s->outs[j]], v);
    }
    Py_DECREF(seq);
    return 0;
}

/* A kernel's error code: the Python step raises (its op, the shapes, the user's line). */
static int kernel_failed(Step *s, PyObject **cells, int64_t code, PyObject *meta)
{
    PyObject *inputs = inputs_tuple(s, cells);
    if (!inputs) return -1;
    PyObject *result = meta ? PyObject_CallFunction(s->fail, "OLO", inputs, (long long)code, meta)
                            : PyObject_CallFunction(s->fail, "OL", inputs, (long long)code);
    Py_DECREF(inputs);
    if (result) {
        Py_DECREF(result);
        PyErr_Format(PyExc_RuntimeError, "symgrad C runner: a kernel failed with code %lld", (long long)code);
    }
    return -1;
}

static int run_elemwise(Program *self, Step *s, PyObject **cells, int reuse)
{
    const int nd = s->ndim;
    const Py_ssize_t nin = s->nin, nops = nin + 1;
    npy_intp shape[MAX_DIMS];
    int64_t strides[SMALL_WORDS];
    char *data[SMALL_WORDS / 4];
    PyArrayObject *in[SMALL_WORDS / 4];
    if (nops * nd > SMALL_WORDS) return call_python(s, cells, s->call, 1);
    for (int d = 0; d < nd; d++) shape[d] = 1;
    for (Py_ssize_t j = 0; j < nin; j++) { /* NumPy broadcasting of the actual shapes */
        PyArrayObject *a = in[j] = array_in(cells[s->ins[j]], s->in_types[j]);
        if (!a || PyArray_NDIM(a) > nd) return bad_cell(s, j);
        const int off = nd - PyArray_NDIM(a);
        const npy_intp *dims = PyArray_DIMS(a);
        for (int d = 0; d < PyArray_NDIM(a); d++) {
            const npy_intp have = shape[off + d];
            if (dims[d] != have) {
                if (have != 1 && dims[d] != 1) return call_python(s, cells, s->call, 1); /* it raises */
                if (have == 1) shape[off + d] = dims[d];
            }
        }
    }
    for (Py_ssize_t j = 0; j < nin; j++) {
        const int off = nd - PyArray_NDIM(in[j]);
        const npy_intp *dims = PyArray_DIMS(in[j]), *st = PyArray_STRIDES(in[j]);
        for (int d = 0; d < off; d++) strides[j * nd + d] = 0;
        for (int d = off; d < nd; d++) strides[j * nd + d] = dims[d - off] == 1 ? 0 : st[d - off];
        data[j] = PyArray_BYTES(in[j]);
    }
    PyArrayObject *out = NULL;
    if (s->inplace >= 0) { /* the marked input's buffer when dtype and shape fit (Elemwise.perform) */
        PyArrayObject *buf = in[s->inplace];
        if (PyArray_DESCR(buf) == s->out_descr[0] && same_shape(buf, nd, shape) && PyArray_ISWRITEABLE(buf)) {
            Py_INCREF(buf);
            out = buf;
        }
    }
    if (!out && !(out = output_array(self, s->pool, reuse, s->out_descr[0], nd, shape))) return -1;
    const npy_intp *ost = PyArray_STRIDES(out);
    for (int d = 0; d < nd; d++) strides[nin * nd + d] = ost[d];
    data[nin] = PyArray_BYTES(out);
    int64_t code;
    if (PyArray_SIZE(out) >= GIL_FREE_ELEMENTS) {
        Py_BEGIN_ALLOW_THREADS
        code = s->elemwise(nd, (const int64_t *)shape, data, strides);
        Py_END_ALLOW_THREADS
    } else {
        code = s->elemwise(nd, (const int64_t *)shape, data, strides);
    }
    if (code) {
        Py_DECREF(out);
        return kernel_failed(s, cells, code, NULL);
    }
    Py_XSETREF(cells[s->outs[0]], (PyObject *)out);
    return 0;
}

static int run_kernel(Program *self, Step *s, PyObject **cells, int reuse)
{
    const Py_ssize_t nin = s->nin;
    char *data[SMALL_WORDS / 4];
    int64_t shapes_small[SMALL_WORDS], strides_small[SMALL_WORDS], meta_small[SMALL_WORDS];
    int64_t *shapes = shapes_small, *strides = strides_small, *meta = meta_small;
    PyArrayObject *outs[SMALL_WORDS / 4];
    Py_ssize_t words = 0, n_made = 0;
    int status = -1;
    for (Py_ssize_t j = 0; j < nin; j++) {
        PyArrayObject *a = array_in(cells[s->ins[j]], s->in_types[j]);
        if (!a) return bad_cell(s, j);
        words += PyArray_NDIM(a);
    }
    for (Py_ssize_t j = 0; j < s->nout; j++) words += s->out_range[2 * j + 1] - s->out_range[2 * j];
    if (words > SMALL_WORDS) {
        shapes = PyMem_Malloc(words * sizeof(int64_t));
        strides = PyMem_Malloc(words * sizeof(int64_t));
    }
    if (s->meta_size > SMALL_WORDS) meta = PyMem_Malloc(s->meta_size * sizeof(int64_t));
    if (!shapes || !strides || !meta) {
        PyErr_NoMemory();
        goto done;
    }
    memset(meta, 0, s->meta_size * sizeof(int64_t));
    Py_ssize_t w = 0;
    for (Py_ssize_t j = 0; j < nin; j++) {
        PyArrayObject *a = (PyArrayObject *)cells[s->ins[j]];
        data[j] = PyArray_BYTES(a);
        for (int d = 0; d < PyArray_NDIM(a); d++, w++) {
            shapes[w] = PyArray_DIMS(a)[d];
            strides[w] = PyArray_STRIDES(a)[d];
        }
    }
    int64_t code = s->shape_fn(data, shapes, strides, meta);
    if (!code) {
        for (Py_ssize_t j = 0; j < s->nout; j++) {
            const Py_ssize_t start = s->out_range[2 * j], nd = s->out_range[2 * j + 1] - start;
            for (Py_ssize_t d = 0; d < nd; d++)
                if (meta[start + d] < 0) {
                    PyErr_Format(PyExc_RuntimeError, "symgrad C runner: a kernel gave a negative length");
                    goto done;
                }
            const Py_ssize_t slot = s->pool >= 0 ? s->pool + j : -1;
            outs[j] = output_array(self, slot, reuse, s->out_descr[j], (int)nd, (const npy_intp *)(meta + start));
            if (!outs[j]) goto done;
            n_made++;
            data[nin + j] = PyArray_BYTES(outs[j]);
            for (Py_ssize_t d = 0; d < nd; d++, w++) {
                shapes[w] = PyArray_DIMS(outs[j])[d];
                strides[w] = PyArray_STRIDES(outs[j])[d];
            }
        }
        Py_BEGIN_ALLOW_THREADS
        code = s->run_fn(data, shapes, strides, meta);
        Py_END_ALLOW_THREADS
    }
    if (code) {
        npy_intp n = s->meta_size;
        PyObject *copy = PyArray_SimpleNew(1, &n, NPY_INT64);
        if (copy) {
            memcpy(PyArray_DATA((PyArrayObject *)copy), meta, n * sizeof(int64_t));
            kernel_failed(s, cells, code, copy);
            Py_DECREF(copy);
        }
        goto done;
    }
    for (Py_ssize_t j = 0; j < s->nout; j++) Py_XSETREF(cells[s->outs[j]], (PyObject *)outs[j]);
    n_made = 0;
    status = 0;
done:
    for (Py_ssize_t j = 0; j < n_made; j++) Py_DECREF(outs[j]);
    if (shapes != shapes_small) PyMem_Free(shapes);
    if (strides != strides_small) PyMem_Free(strides);
    if (meta != meta_small) PyMem_Free(meta);
    return status;
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static PyObject *program_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Program *self = (Program *)callable;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a compiled program takes one argument: the sequence of root values");
        return NULL;
    }
    if (!self->spec) {
        PyErr_SetString(PyExc_RuntimeError, "symgrad C runner: this program was cleared");
        return NULL;
    }
    PyObject *roots = PySequence_Fast(args[0], "a compiled program takes a sequence of root values");
    if (!roots) return NULL;
    if (PySequence_Fast_GET_SIZE(roots) != self->n_roots) {
        PyErr_Format(PyExc_TypeError, "a compiled program takes %zd root values, got %zd", self->n_roots,
                     PySequence_Fast_GET_SIZE(roots));
        Py_DECREF(roots);
        return NULL;
    }
    PyObject *small[SMALL_CELLS] = {NULL}, **cells = small, *result = NULL;
    if (self->n_cells > SMALL_CELLS && !(cells = PyMem_Calloc(self->n_cells, sizeof(PyObject *)))) {
        Py_DECREF(roots);
        return PyErr_NoMemory();
    }
    int reuse = 0;
    if (self->n_pool && !self->busy) self->busy = reuse = 1;
    Py_INCREF(self); /* a step's Python code may drop the last other reference */
    for (Py_ssize_t k = 0; k < self->n_constants; k++) {
        Py_INCREF(self->const_values[k]);
        Py_XSETREF(cells[self->const_cells[k]], self->const_values[k]);
    }
    PyObject *const *values = PySequence_Fast_ITEMS(roots);
    for (Py_ssize_t r = 0; r < self->n_roots; r++) {
        PyObject *v = values[r];
        PyArrayObject *a = (PyArrayObject *)v;
        if (self->root_always[r] || !PyArray_CheckExact(v) || PyArray_DESCR(a) != self->root_descr[r] ||
            PyArray_NDIM(a) != self->root_ndim[r] || !PyArray_ISALIGNED(a)) {
            v = PyObject_CallFunction(self->check_root, "nO", self->root_cells[r], v);
            if (!v) goto done;
        } else {
            Py_INCREF(v);
        }
        Py_XSETREF(cells[self->root_cells[r]], v);
    }
    double *times = self->times ? (double *)PyArray_DATA((PyArrayObject *)self->times) : NULL;
    for (Py_ssize_t k = 0; k < self->n_steps; k++) {
        Step *s = &self->steps[k];
        const double start = times ? seconds_now() : 0.0;
        int status = s->kind == STEP_ELEMWISE ? run_elemwise(self, s, cells, reuse)
                     : s->kind == STEP_KERNEL ? run_kernel(self, s, cells, reuse)
                                              : call_python(s, cells, s->call, s->single);
        if (times) times[k] += seconds_now() - start;
        if (status < 0) goto done;
        for (Py_ssize_t f = 0; f < s->nfrees; f++) Py_CLEAR(cells[s->frees[f]]);
    }
    if (self->unwrap) {
        result = cells[self->outputs[0]];
        Py_XINCREF(result);
    } else if ((result = PyList_New(self->n_outputs))) {
        for (Py_ssize_t k = 0; k < self->n_outputs; k++) {
            PyObject *v = cells[self->outputs[k]] ? cells[self->outputs[k]] : Py_None;
            Py_INCREF(v);
            PyList_SET_ITEM(result, k, v);
        }
    }
    if (!result && !PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "symgrad C runner: an output is missing");
done:
    for (Py_ssize_t c = 0; c < self->n_cells; c++) Py_CLEAR(cells[c]);
    if (cells != small) PyMem_Free(cells);
    if (reuse) self->busy = 0;
    Py_DECREF(roots);
    Py_DECREF(self);
    return result;
}

static PyObject *program_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return PyVectorcall_Call(self, args, kwargs);
}

/* profile_into(array or None): add each step's seconds into array[k] on every later call. */
static PyObject *program_profile_into(Program *self, PyObject *array)
{
    if (array != Py_None) {
        if (!PyArray_Check(array) || PyArray_TYPE((PyArrayObject *)array) != NPY_FLOAT64 ||
            PyArray_NDIM((PyArrayObject *)array) != 1 || PyArray_DIM((PyArrayObject *)array, 0) < self->n_steps ||
            !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)array) || !PyArray_ISWRITEABLE((PyArrayObject *)array)) {
            PyErr_SetString(PyExc_TypeError, "profile_into takes a writeable float64 vector of one entry per step");
            return NULL;
        }
        Py_INCREF(array);
        Py_XSETREF(self->times, array);
    } else {
        Py_CLEAR(self->times);
    }
    Py_RETURN_NONE;
}

static PyMethodDef program_methods[] = {
    {"profile_into", (PyCFunction)program_profile_into, METH_O,
     "Add each step's seconds into array[k] on every later call (None: stop)."},
    {NULL},
};

static PyMemberDef program_members[] = {
    {"n_cells", T_PYSSIZET, offsetof(Program, n_cells), READONLY, "cells of the schedule"},
    {"n_pool", T_PYSSIZET, offsetof(Program, n_pool), READONLY, "arrays reused across calls"},
    {NULL},
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_symgrad_runner.Program",
    .tp_basicsize = sizeof(Program),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A compiled function's schedule, run in C: Program(n_cells, roots, constants, steps, "
              "outputs, check_root, unwrap)(root_values).",
    .tp_new = program_new,
    .tp_dealloc = (destructor)program_dealloc,
    .tp_traverse = (traverseproc)program_traverse,
    .tp_clear = (inquiry)program_clear,
    .tp_vectorcall_offset = offsetof(Program, vectorcall),
    .tp_call = program_call,
    .tp_members = program_members,
    .tp_methods = program_methods,
};

static struct PyModuleDef runner_module = {
    PyModuleDef_HEAD_INIT, "_symgrad_runner", "symgrad's C runner (csrc_templates/runner.c).", -1, NULL,
};

PyMODINIT_FUNC PyInit__symgrad_runner(void)
{
    import_array();
    if (PyType_Ready(&ProgramType) < 0) return NULL;
    PyObject *m = PyModule_Create(&runner_module);
    if (!m) return NULL;
    Py_INCREF(&ProgramType);
    if (PyModule_AddObject(m, "Program", (PyObject *)&ProgramType) < 0 ||
        PyModule_AddIntConstant(m, "STEP_ELEMWISE", STEP_ELEMWISE) < 0 ||
        PyModule_AddIntConstant(m, "STEP_KERNEL", STEP_KERNEL) < 0 ||
        PyModule_AddIntConstant(m, "STEP_CALL", STEP_CALL) < 0) {
        Py_DECREF(&ProgramType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
