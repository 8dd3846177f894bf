"""``sg.function``: check the graph, pick a backend, and make a callable that checks its
arguments, runs the graph, applies updates and hands the caller outputs it owns."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.compile.modes import available_mode, make_vm
from symgrad.compile.updates import normalize_updates
from symgrad.compile.vm import PyVM
from symgrad.config import config
from symgrad.graph.basic import Constant, SharedVariable, Variable, as_tensor_variable
from symgrad.graph.errors import (
    GraphTypeError,
    GraphValueError,
    MissingInputError,
    SymgradError,
    UnusedInputError,
)
from symgrad.graph.fgraph import FunctionGraph
from symgrad.graph.gcpause import gc_paused
from symgrad.graph.traversal import clone_replace, graph_inputs, toposort
from symgrad.ops.elemwise import cast
from symgrad.rewrite.passes import rewrite_graph
from symgrad.tensor.variable import set_evaluator


class ModeUnavailableError(SymgradError, NotImplementedError):
    """The requested backend is not available in this build or on this machine."""


_UNUSED_CHOICES = ("raise", "warn", "ignore")


class Function:
    """A compiled graph. Call it with positional or keyword arguments (by input name)."""

    def __init__(self, inputs: Sequence[Variable], outputs: Any, **options: Any) -> None:
        self._args = dict(inputs=inputs, outputs=outputs, **options)
        opts = {**_DEFAULTS, **options}
        mode, givens = opts["mode"], opts["givens"]
        self.mode = _resolve_mode(mode)
        self.name = opts["name"]
        self.inputs = _check_inputs(inputs)
        self.single_output = not isinstance(outputs, (list, tuple))
        out_list = [outputs] if self.single_output else list(outputs)
        self.outputs = [as_tensor_variable(o) for o in out_list]
        self.updates = normalize_updates(opts["updates"])
        computed = self.outputs + [v for _, v in self.updates]
        computed = _apply_givens(computed, givens)
        roots = _check_roots(self.inputs, computed, opts["on_unused_input"])
        self.shared = [r for r in roots if isinstance(r, SharedVariable)]
        self.fgraph = FunctionGraph(roots, computed)
        exclude = tuple(opts["exclude"] or ()) + config.rewrite_exclude
        self.rewrites = rewrite_graph(self.fgraph, exclude).counts
        self.maker_outputs = self.fgraph.outputs
        self.allow_input_downcast = opts["allow_input_downcast"]
        self.trust_input = opts["trust_input"]
        self.profile_enabled = opts["profile"]
        self._positions = {v.name: k for k, v in enumerate(self.inputs) if v.name}
        self._labels = [
            f"input {k} ({v.name!r})" if v.name else f"input {k}" for k, v in enumerate(self.inputs)
        ]
        filters = None if self.trust_input else [self._input_filter(k) for k in range(len(self.inputs))]
        self.vm = make_vm(self.mode, self.inputs + self.shared, self.fgraph.outputs, self.name, filters)
        # Mode 'c' runs one generated program that checks the arguments itself (the fast path
        # of ``__call__``); functions with state, and mode 'py', take ``_call``.
        self._program = getattr(self.vm, "call_program", None)
        self._fast_call = self._program is not None and not (
            self.shared or self.updates or self.profile_enabled
        )
        self._fresh = getattr(self.vm, "fresh_outputs", False)
        # The C runner returns a function's one fresh output itself instead of a list.
        self._unwrapped = getattr(self.vm, "unwrapped", False)
        self._direct = self._unwrapped and self.single_output
        self._n_in = len(self.inputs)
        self._n_out = len(self.outputs)
        # Per input, what a value needs to skip ``filter``: exactly this dtype object and rank,
        # on an input without static lengths (those need the shape check of ``filter``).
        self._fast = tuple(
            (v.type.numpy_dtype, v.ndim) if all(n is None for n in v.type.shape) else (None, -1)
            for v in self.inputs
        )

    def _input_filter(self, k: int) -> tuple[Any, bool]:
        """(the check of input k's values, whether every value needs it: static lengths)."""
        var = self.inputs[k]
        label, downcast = self._labels[k], self.allow_input_downcast

        def check(value: Any) -> np.ndarray:
            return var.type.filter(value, name=label, allow_downcast=downcast)

        return check, any(n is not None for n in var.type.shape)

    # -- calling ---------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or not self._fast_call or len(args) != self._n_in:
            return self._call(args, kwargs)
        if self._direct:
            return self._program(args)
        results = self._program(args)
        if self._unwrapped:
            return [results]
        if self._fresh:
            return results[0] if self.single_output else results
        if self.single_output:
            out = results[0]
            if out.base is None:
                for value in args:
                    if value is out:
                        break
                else:
                    return out
        return self._finish(results, args, [])

    def _call(self, args: tuple, kwargs: dict) -> Any:
        """Any call: keyword arguments, shared variables and updates, profiling, mode 'py'."""
        values = self._bind(args, kwargs) if kwargs or len(args) != len(self._fast) else list(args)
        if not self.trust_input:
            for k, (value, (dtype, ndim)) in enumerate(zip(values, self._fast)):
                if type(value) is not np.ndarray or value.dtype is not dtype or value.ndim != ndim:
                    values[k] = self.inputs[k].type.filter(
                        value, name=self._labels[k], allow_downcast=self.allow_input_downcast
                    )
        if not self.shared and not self.updates and not self.profile_enabled:
            results = self.vm.run(values)
            if self.single_output:
                out = results[0]
                if out.base is None and not any(out is v for v in values):
                    return out
            return self._finish(results, values, [])
        shared_values = [s._value for s in self.shared]
        results = self.vm.run(values + shared_values, profile=self.profile_enabled)
        return self._finish(results, values, shared_values)

    def _finish(self, results: list, values: list, shared_values: list) -> Any:
        """Outputs the caller owns (copies where they share memory), and the updates."""
        outputs = _owned(results[: self._n_out], values, shared_values, results[self._n_out :])
        for (shared, _), value in zip(self.updates, results[self._n_out :]):
            if value.base is not None or any(value is v for v in values):
                value = value.copy()
            shared._value = _checked_update(shared, value)
        if self.single_output:
            return outputs[0]
        return outputs

    def _bind(self, args: tuple, kwargs: dict) -> list:
        if len(args) > len(self.inputs):
            raise GraphTypeError(f"{self._label()} takes {len(self.inputs)} arguments, got {len(args)}")
        values = list(args) + [_MISSING] * (len(self.inputs) - len(args))
        for key, value in kwargs.items():
            k = self._positions.get(key)
            if k is None:
                raise GraphTypeError(f"{self._label()} has no input named {key!r}")
            if values[k] is not _MISSING:
                raise GraphTypeError(f"{self._label()} got input {key!r} twice")
            values[k] = value
        missing = [self._labels[k] for k, v in enumerate(values) if v is _MISSING]
        if missing:
            raise GraphTypeError(f"{self._label()} is missing {', '.join(missing)}")
        return values

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    # -- looking inside ----------------------------------------------------------------------
    @property
    def profile(self) -> Profile:
        return Profile(self.vm)

    @property
    def nodes(self) -> list:
        """The apply nodes in the order they run."""
        return list(self.vm.nodes)

    def __reduce__(self):
        return (_rebuild_function, (self._args,))


def _rebuild_function(args: dict) -> Function:
    return Function(**args)


class _Missing:
    pass


_MISSING = _Missing()


class Profile:
    """Time spent per node over the calls made with ``profile=True``."""

    def __init__(self, vm: PyVM) -> None:
        self.calls = vm.node_calls
        self.rows = sorted(zip(vm.node_times, vm.nodes), key=lambda r: -r[0])

    def summary(self, top: int = 20) -> str:
        total = sum(t for t, _ in self.rows) or 1.0
        lines = [f"{self.calls} calls, {sum(t for t, _ in self.rows) * 1e3:.3f} ms in nodes"]
        for t, node in self.rows[:top]:
            lines.append(f"{100 * t / total:6.1f}%  {t * 1e3:9.3f} ms  {node.op}  ({node.location})")
        return "\n".join(lines)

    __str__ = summary


def _resolve_mode(mode: str | None) -> str:
    """The backend to build: 'c' becomes 'py' (with one warning) when there is no C compiler."""
    mode = config.mode if mode is None else mode
    if mode == "cuda":
        raise ModeUnavailableError(
            "mode 'cuda' is not available yet: this version of symgrad has the NumPy reference "
            "backend (mode='py') and the C backend (mode='c')."
        )
    if mode not in ("py", "c"):
        raise GraphValueError(f"unknown mode {mode!r}; choose 'py', 'c' or 'cuda'")
    return available_mode(mode)


def _check_inputs(inputs: Any) -> list[Variable]:
    if isinstance(inputs, Variable) or not isinstance(inputs, (list, tuple)):
        raise GraphTypeError("function inputs must be a list of variables, e.g. sg.function([x], y)")
    seen: set[int] = set()
    for k, v in enumerate(inputs):
        if not isinstance(v, Variable):
            raise GraphTypeError(f"function input {k} is a {type(v).__name__}, not a symbolic variable")
        if isinstance(v, SharedVariable):
            raise GraphTypeError(
                f"function input {k} ({v.name!r}) is a shared variable; it is an implicit input"
            )
        if isinstance(v, Constant):
            raise GraphTypeError(f"function input {k} is a constant, not a symbolic input")
        if v.owner is not None:
            raise GraphTypeError(
                f"function input {k} ({v}) is computed by {v.owner.op}; inputs must be root variables "
                "(use givens to substitute an expression)"
            )
        if id(v) in seen:
            raise GraphValueError(f"function input {k} ({v.name!r}) appears twice")
        seen.add(id(v))
    return list(inputs)


def _apply_givens(outputs: list[Variable], givens: Any) -> list[Variable]:
    if not givens:
        return outputs
    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
    replace = {}
    for old, new in pairs:
        new = as_tensor_variable(new)
        if new.ndim != old.ndim:
            raise GraphTypeError(f"givens: {old.describe()} cannot be replaced by {new.describe()}")
        if new.dtype != old.dtype:
            if not np.can_cast(new.dtype, old.dtype, "safe"):
                raise GraphTypeError(f"givens: {old.describe()} cannot be replaced by {new.describe()}")
            new = cast(new, old.dtype)
        replace[old] = new
    return clone_replace(outputs, replace)


def _check_roots(inputs: list[Variable], outputs: list[Variable], on_unused_input: str) -> list[Variable]:
    if on_unused_input not in _UNUSED_CHOICES:
        raise GraphValueError(f"on_unused_input must be one of {_UNUSED_CHOICES}")
    input_ids = {id(v) for v in inputs}
    roots = graph_inputs(outputs)
    for r in roots:
        if id(r) not in input_ids and not isinstance(r, (Constant, SharedVariable)):
            raise MissingInputError(
                f"the outputs depend on {r.describe()}, which is not an input{_used_at(r, outputs)}"
            )
    root_ids = {id(r) for r in roots}
    for k, v in enumerate(inputs):
        if id(v) not in root_ids and on_unused_input != "ignore":
            message = (
                f"function input {k} ({v.name!r}) is not used to compute the outputs; "
                "pass on_unused_input='ignore' to allow it"
            )
            if on_unused_input == "raise":
                raise UnusedInputError(message)
            warnings.warn(message, stacklevel=4)
    return roots


def _used_at(var: Variable, outputs: list[Variable]) -> str:
    for node in toposort(outputs):
        if any(i is var for i in node.inputs):
            return f" (used by {node.op} created at {node.location})"
    return ""


def _owned(outputs: list, inputs: list, shared: list, updates: list) -> list:
    """Copy any output that shares memory with an input, shared state or another output."""
    protected = {id(a) for a in (*inputs, *shared, *updates)}
    result = []
    for out in outputs:
        if out.base is not None or id(out) in protected:
            out = out.copy()
        protected.add(id(out))
        result.append(out)
    return result


def _checked_update(shared: SharedVariable, value: np.ndarray) -> np.ndarray:
    if not shared.type.compatible_shape(value.shape):
        raise GraphValueError(
            f"the update of shared variable {shared.name!r} computed shape {value.shape}, "
            f"which does not fit its static shape {shared.type}"
        )
    return value


def function(
    inputs: Sequence[Variable],
    outputs: Any,
    updates: Any = None,
    givens: Any = None,
    mode: str | None = None,
    name: str | None = None,
    on_unused_input: str = "raise",
    allow_input_downcast: bool | None = None,
    profile: bool = False,
    trust_input: bool = False,
    exclude: Sequence[str] | None = None,
) -> Function:
    """Compile ``outputs`` as a function of ``inputs`` (see API.md "Compiling").

    ``exclude`` names rewrites to skip (``["all"]`` runs the graph exactly as written);
    ``trust_input`` skips argument checking for callers that validate themselves.
    """
    options = dict(locals())
    del options["inputs"], options["outputs"]
    with gc_paused():
        return Function(inputs, outputs, **options)


_DEFAULTS = dict(
    updates=None,
    givens=None,
    mode=None,
    name=None,
    on_unused_input="raise",
    allow_input_downcast=None,
    profile=False,
    trust_input=False,
    exclude=None,
)


def _eval(var: Variable, inputs: dict | None) -> np.ndarray:
    inputs = inputs or {}
    key = tuple(id(k) for k in inputs)
    cache = var.__dict__.setdefault("_eval_cache", {})
    fn = cache.get(key)
    if fn is None:
        fn = cache[key] = function(list(inputs), var, on_unused_input="ignore")
    return fn(*inputs.values())


set_evaluator(_eval)
