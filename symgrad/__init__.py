"""symgrad: a symbolic expression compiler for NumPy-style tensor code.

Build a graph with NumPy-style expressions, differentiate it with ``grad``, compile it
with ``function``. The stages are described in docs/architecture.md.
"""

from symgrad.config import config
from symgrad.graph.basic import Apply, Constant, Op, SharedVariable, Variable, as_tensor_variable
from symgrad.graph.errors import (
    DisconnectedInputError,
    GraphTypeError,
    GraphValueError,
    IndexingError,
    MissingInputError,
    ShapeError,
    SymgradError,
    UnusedInputError,
)
from symgrad.graph.types import TensorType
from symgrad.tensor.variable import TensorConstant, TensorSharedVariable, TensorVariable
from symgrad.tensor.constructors import TYPED as _TYPED
from symgrad.tensor.constructors import constant, matrix, scalar, shared, tensor, tensor3, tensor4, vector
from symgrad.tensor.math import (
    abs,
    add,
    all,
    any,
    arccos,
    arcsin,
    arctan,
    arctan2,
    argmax,
    argmin,
    cast,
    ceil,
    clip,
    cos,
    cosh,
    divide,
    eq,
    erf,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    ge,
    gt,
    isinf,
    isnan,
    le,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    lt,
    max,
    maximum,
    mean,
    min,
    minimum,
    mod,
    mul,
    neg,
    neq,
    pow,
    prod,
    reciprocal,
    round,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    std,
    stop_gradient,
    sub,
    sum,
    tan,
    tanh,
    true_divide,
    var,
    where,
)
from symgrad.tensor.shape import (
    arange,
    broadcast_to,
    concatenate,
    dimshuffle,
    expand_dims,
    flatten,
    full,
    full_like,
    ones,
    ones_like,
    reshape,
    squeeze,
    stack,
    transpose,
    zeros,
    zeros_like,
)
from symgrad.tensor.indexing import inc_subtensor, set_subtensor, take
from symgrad.tensor.linalg import dot, matmul, outer, tensordot
from symgrad.tensor.sympy_ops import elemwise_op
from symgrad import nn
from symgrad.gradient.grad import grad
from symgrad.gradient.derivatives import Lop, Rop, hessian, jacobian
from symgrad.gradient.verify import verify_grad
from symgrad.compile.function import Function, ModeUnavailableError, function
from symgrad.printing import debugprint, render_graph, to_dot

globals().update(_TYPED)

__version__ = "0.1.0"
