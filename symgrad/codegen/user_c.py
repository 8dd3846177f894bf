"""C for user ops: a user ``Op`` with Theano-style C hooks runs as an op kernel in mode 'c'.

An op gives its C in one of two forms (docs/custom_ops.md is the guide):

- hooks: ``c_code(node, name, inputs, outputs, sub)`` (the run body), ``c_shape_code(node, name,
  inputs, output_shapes, sub)`` (the shape body), ``c_support_code(node, name)``, ``c_headers()``,
  ``c_compile_args()``, ``c_libraries()``, ``c_lib_dirs()``, ``c_header_dirs()``,
  ``c_code_cache_version()``;
- a template file: ``c_template = "path.c"`` with sections ``support``, ``shape``, ``run`` and
  ``@KEY@`` placeholders, in the convention of ``csrc_templates/`` (symgrad/codegen/templates.py).

Either way the output shapes come from the op's shape code, or from ``c_same_shape = True``
(every input and output has input 0's shape): never guessed, so no kernel exists whose outputs
could differ in shape from what ``perform`` makes. The user's blocks become two static
functions called by the kernel.h wrapper, so a ``return`` in them is safe and their locals
cannot clash with the wrapper's; the wrapper then checks that every output length was written.

The builder is registered for the base class ``Op``: ``op_kernel_for`` uses it for every op
class without a builder of its own, and it returns None (``perform``) for ops without hooks.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symgrad.codegen.kernels import ERR_SHAPE, FIRST_OP_ERROR, OpKernel, c_kernel, check_dtypes, op_kernel
from symgrad.codegen.templates import PLACEHOLDER_RE, SECTION_RE, Section, render
from symgrad.graph.basic import Apply, Op
from symgrad.graph.errors import GraphTypeError, GraphValueError, ShapeError
from symgrad.graph.types import C_TYPES

# The op-specific error codes of every user kernel (kernel.h: op codes start at 64).
FAIL_SHAPE = FIRST_OP_ERROR  # sub["fail"] / @FAIL@ in the shape code; info: the C line
FAIL_RUN = FIRST_OP_ERROR + 1  # sub["fail"] / @FAIL@ in the run code; info: the C line
SHAPE_UNSET = FIRST_OP_ERROR + 2  # an output length left unwritten (or negative); info: k, d, value
TEMPLATE_SECTIONS = ("support", "shape", "run")
GENERATED = '#line 1 "<symgrad/codegen/user_c.py: generated>"'  # after user text: its lines end


class UserSection(Section):
    """A section of a user's template file; ``#line`` and errors name the file's own path."""

    @property
    def display_name(self) -> str:
        return self.filename


@dataclass(frozen=True)
class UserBlocks:
    """The C an op gave, with ``#line`` directives, and where each block came from."""

    support: str
    shape: str | None  # None: c_same_shape
    run: str
    shape_origin: str
    run_origin: str
    flags: tuple[str, ...] = ()


@c_kernel(Op)
def user_op_kernel(node: Apply) -> OpKernel | None:
    """The kernel of a user op from its C hooks or template; None (``perform``) without them,
    for a dtype outside ``C_TYPES``, or when a hook raises NotImplementedError (the op's way
    of saying "no C for this node", as in Theano)."""
    op = node.op
    has_code = callable(getattr(op, "c_code", None))
    template = getattr(op, "c_template", None)
    if not has_code and template is None:
        return None
    if has_code and template is not None:
        raise GraphTypeError(f"{op}: define c_code or c_template, not both")
    if not all(hasattr(v, "dtype") for v in (*node.inputs, *node.outputs)) or not check_dtypes(node, C_TYPES):
        return None
    same_shape = _same_shape(node)
    version = _cache_version(op)
    name = _kernel_prefix(node, version, template)
    blocks = _template_blocks(node, name, template) if template is not None else _hook_blocks(node, name)
    if blocks.shape is None and not same_shape:
        raise GraphTypeError(
            f"{op}: its C gives no output shapes; define c_shape_code (or a 'shape' section), "
            "or set c_same_shape = True when every input and output has input 0's shape"
        )
    if blocks.shape is not None and same_shape:
        raise GraphTypeError(f"{op}: c_same_shape = True and C shape code: keep one of them")
    errors = {
        FAIL_RUN: (
            GraphValueError,
            f"its C code refused the inputs ({_braces(blocks.run_origin)}, line {{0}})",
        ),
        SHAPE_UNSET: (
            GraphValueError,
            "its C shape code left out_shape[{0}][{1}] = {2} (never written, or negative)",
        ),
    }
    if blocks.shape is None:
        shape_fn = ""
        shape_body = _same_shape_body(node)
        errors[ERR_SHAPE] = (ShapeError, "c_same_shape: input {1} differs from input 0 along axis {0}")
    else:
        shape_fn = _function(
            f"static int64_t {name}__sg_shape(const sg_array *in, int64_t **out_shape, int64_t *meta)",
            node,
            blocks.shape,
            "(void)in; (void)out_shape; (void)meta;",
        )
        shape_body = _checked_shape_call(node, name)
        origin = _braces(blocks.shape_origin)
        errors[FAIL_SHAPE] = (GraphValueError, f"its C shape code refused the inputs ({origin}, line {{0}})")
    run_fn = _function(
        f"static int64_t {name}__sg_run(const sg_array *in, const sg_array *out, int64_t *meta)",
        node,
        blocks.run,
        "(void)in; (void)out; (void)meta;",
    )
    stamp = (
        f"/* {type(op).__qualname__}: c_code_cache_version {_comment(repr(version))} */" if version else ""
    )
    headers = [_include(h) for h in _strings(op, "c_headers")]
    support = [blocks.support] if blocks.support.strip() else []
    flags, link_flags = _build_flags(op, blocks.flags)
    return op_kernel(
        node,
        shape_body=shape_body,
        run_body=f"    return {name}__sg_run(in, out, meta);",
        support="\n".join(filter(None, [stamp, shape_fn, run_fn])),
        helpers=[*headers, *support],
        errors=errors,
        flags=flags,
        link_flags=link_flags,
    )


# --- the hooks form -------------------------------------------------------------------------------
def _hook_blocks(node: Apply, name: str) -> UserBlocks:
    op = node.op
    label = _label(type(op))
    inputs = [f"in[{k}]" for k in range(len(node.inputs))]
    outputs = [f"out[{k}]" for k in range(len(node.outputs))]
    run = _text(op, "c_code", op.c_code(node, name, inputs, outputs, _sub(node, FAIL_RUN)))
    shape = None
    if callable(getattr(op, "c_shape_code", None)):
        out_shapes = [f"out_shape[{k}]" for k in range(len(node.outputs))]
        shape = _text(
            op, "c_shape_code", op.c_shape_code(node, name, inputs, out_shapes, _sub(node, FAIL_SHAPE))
        )
    support = ""
    if callable(getattr(op, "c_support_code", None)):
        support = _text(op, "c_support_code", op.c_support_code(node, name))
    return UserBlocks(
        support=_located(support, f"{label}.c_support_code") if support.strip() else "",
        shape=None if shape is None else _located(shape, f"{label}.c_shape_code"),
        run=_located(run, f"{label}.c_code"),
        shape_origin=f"{label}.c_shape_code",
        run_origin=f"{label}.c_code",
    )


def _sub(node: Apply, fail_code: int) -> dict[str, Any]:
    """What ``c_code`` and ``c_shape_code`` get as ``sub`` (docs/custom_ops.md, "The hooks")."""
    return {
        "fail": _fail(fail_code),
        "threads": "sg_threads",
        "parallel_min": "SG_PARALLEL_MIN",
        "in_ctype": [C_TYPES[v.dtype] for v in node.inputs],
        "out_ctype": [C_TYPES[v.dtype] for v in node.outputs],
    }


def _fail(code: int) -> str:
    # A whole statement (Theano's %(fail)s is one too); __LINE__ follows the #line of the user's text.
    return f"{{ SG_FAIL_INFO({code}, __LINE__, 0, 0); }}"


def _text(op: Op, hook: str, value: Any) -> str:
    if not isinstance(value, str):
        raise GraphTypeError(f"{op}: {hook} must return a str of C, got {type(value).__name__}")
    return value


def _located(text: str, origin: str) -> str:
    """``text`` with a ``#line`` naming where it came from, and one after it ending that."""
    return f"{_line(1, origin)}\n{text}\n{GENERATED}"


# --- the template form ----------------------------------------------------------------------------
def _template_blocks(node: Apply, name: str, template: Any) -> UserBlocks:
    op = node.op
    path = _user_path(op, template)
    try:
        text = path.read_text()
    except OSError as exc:
        raise GraphValueError(f"{op}: cannot read its c_template {path}: {exc}") from exc
    found: dict[str, UserSection] = {}
    for match in SECTION_RE.finditer(text):
        section_name = match.group(1)
        first_line = text.count("\n", 0, match.start(2)) + 1
        if section_name not in TEMPLATE_SECTIONS:
            raise GraphValueError(
                f"{path}:{first_line - 1}: unknown section {section_name!r} in the c_template of {op} "
                f"(known: {', '.join(TEMPLATE_SECTIONS)})"
            )
        found[section_name] = UserSection(str(path), section_name, match.group(2), first_line)
    if "run" not in found:
        raise GraphValueError(f"{op}: its c_template {path} has no '/* section: run */'")
    values = _template_values(node, name)
    fails = {"shape": _fail(FAIL_SHAPE), "run": _fail(FAIL_RUN)}

    def rendered(section_name: str) -> str | None:
        sec = found.get(section_name)
        if sec is None:
            return None
        subs = dict(values)
        if section_name in fails:
            subs["FAIL"] = fails[section_name]
        wanted = set(PLACEHOLDER_RE.findall(sec.text))
        try:
            return render(sec, {k: v for k, v in subs.items() if k in wanted}) + GENERATED
        except ValueError as exc:
            raise GraphValueError(
                f"{op}: {exc} (placeholders it may use: {', '.join(sorted(subs))})"
            ) from exc

    return UserBlocks(
        support=rendered("support") or "",
        shape=rendered("shape"),
        run=rendered("run") or "",
        shape_origin=f"{path} section 'shape'",
        run_origin=f"{path} section 'run'",
        flags=(f"-I{path.parent}",),  # #include "x.h" next to the template
    )


def _template_values(node: Apply, name: str) -> dict[str, str]:
    """The placeholders a template may use: names and types, the op's numeric ``__props__``
    (upper-cased), then whatever ``c_template_vars(node, name)`` gives (it wins)."""
    op = node.op
    values = {"NAME": name, "THREADS": "sg_threads", "PARALLEL_MIN": "SG_PARALLEL_MIN"}
    for prefix, variables in (("IN", node.inputs), ("OUT", node.outputs)):
        for k, v in enumerate(variables):
            values[f"{prefix}_CTYPE_{k}"] = C_TYPES[v.dtype]
            values[f"{prefix}_NDIM_{k}"] = str(v.ndim)
    for prop in getattr(op, "__props__", ()):
        literal = _c_literal(getattr(op, prop))
        if literal is not None:
            values[prop.upper()] = literal
    extra = getattr(op, "c_template_vars", None)
    if callable(extra):
        for key, value in dict(extra(node, name)).items():
            if not PLACEHOLDER_RE.fullmatch(f"@{key}@"):
                raise GraphValueError(
                    f"{op}: c_template_vars key {key!r} is not a placeholder name ([A-Z][A-Z0-9_]*)"
                )
            values[key] = str(value)
    return values


def _c_literal(value: Any) -> str | None:
    """A number as a C literal (bools as 1/0, floats as doubles), else None."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value)) if -(2**63) <= int(value) < 2**63 else None
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return "NAN"
        if math.isinf(v):
            return "INFINITY" if v > 0 else "(-INFINITY)"
        return repr(v)
    return None


# --- shapes -------------------------------------------------------------------------------------
def _same_shape(node: Apply) -> bool:
    """``c_same_shape = True``, checked: every input and output has input 0's rank."""
    if not getattr(node.op, "c_same_shape", False):
        return False
    ndims = [v.ndim for v in (*node.inputs, *node.outputs)]
    if not node.inputs or len(set(ndims)) != 1:
        raise GraphTypeError(
            f"{node.op}: c_same_shape = True needs inputs and outputs of one rank, got ranks "
            f"{[v.ndim for v in node.inputs]} -> {[v.ndim for v in node.outputs]}"
        )
    return True


def _same_shape_body(node: Apply) -> str:
    ndim = node.inputs[0].ndim
    lines = [
        "    for (int64_t k = 1; k < NIN; k++)",
        f"        for (int64_t d = 0; d < {ndim}; d++)",
        "            if (in[k].shape[d] != in[0].shape[d]) SG_FAIL_INFO(SG_ERR_SHAPE, d, k, 0);",
    ]
    for j in range(len(node.outputs)):
        lines.append(f"    for (int64_t d = 0; d < {ndim}; d++) out_shape[{j}][d] = in[0].shape[d];")
    return "\n".join(lines)


def _checked_shape_call(node: Apply, name: str) -> str:
    """Call the user's shape code with every length preset to -1, then check each was written
    (a length the code forgot would otherwise be whatever meta held)."""
    total = sum(v.ndim for v in node.outputs)
    lines = [
        f"    for (int64_t i = 0; i < {total}; i++) meta[SG_META_SHAPES + i] = -1;",
        "    {",
        f"        const int64_t code = {name}__sg_shape(in, out_shape, meta);",
        "        if (code) return code;",
        "    }",
    ]
    for k, v in enumerate(node.outputs):
        lines += [
            f"    for (int64_t d = 0; d < {v.ndim}; d++)",
            f"        if (out_shape[{k}][d] < 0) SG_FAIL_INFO({SHAPE_UNSET}, {k}, d, out_shape[{k}][d]);",
            f"    if (sg_shape_size({v.ndim}, out_shape[{k}]) < 0) SG_FAIL(SG_ERR_OVERFLOW);",
        ]
    return "\n".join(lines)


def _function(signature: str, node: Apply, body: str, unused: str) -> str:
    """A static function around a user block; ``NIN``/``NOUT`` are there as in the wrapper."""
    return (
        f"{signature}\n{{\n"
        f"    enum {{ NIN = {len(node.inputs)}, NOUT = {len(node.outputs)} }};\n"
        f"    {unused}\n{body}\n    return 0;\n}}"
    )


# --- names, paths, flags --------------------------------------------------------------------------
def _kernel_prefix(node: Apply, version: Any, template: Any) -> str:
    """The ``name`` the hooks get: a C identifier, stable across processes, distinct for
    different ops, props, dtypes or ranks (so support functions named from it never clash)."""
    cls = type(node.op)
    key = repr(
        (
            cls.__module__,
            cls.__qualname__,
            str(node.op),
            [(v.dtype, v.ndim) for v in node.inputs],
            [(v.dtype, v.ndim) for v in node.outputs],
            version,
            None if template is None else str(template),
        )
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', cls.__name__)}_{digest}"


def _cache_version(op: Op) -> Any:
    hook = getattr(op, "c_code_cache_version", None)
    return hook() if callable(hook) else None


def _label(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _line(line: int, origin: str) -> str:
    escaped = origin.replace("\\", "\\\\").replace('"', '\\"')
    return f'#line {line} "{escaped}"'


def _comment(text: str) -> str:
    return text.replace("*/", "* /")


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _user_path(op: Op, path: Any) -> Path:
    """A path an op names: absolute, or relative to the file that defines the op's class
    (the working directory for a class without a file, one typed at a prompt say)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    try:
        base = Path(inspect.getfile(type(op))).resolve().parent
    except (TypeError, OSError):
        base = Path.cwd()
    return (base / p).resolve()


def _strings(op: Op, hook: str) -> list[str]:
    method: Callable[[], Sequence[str]] | None = getattr(op, hook, None)
    if not callable(method):
        return []
    values = method()
    if isinstance(values, str) or not all(isinstance(v, str | Path) for v in values):
        raise GraphTypeError(f"{op}: {hook}() must return a list of strings")
    return [str(v) for v in values]


def _include(header: str) -> str:
    """Theano's rule: "<x.h>" and '"x.h"' as given, a bare name in quotes."""
    return f"#include {header}" if header.startswith(("<", '"')) else f'#include "{header}"'


def _build_flags(op: Op, extra: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compile flags, link flags): header dirs, the op's own arguments; library dirs (with an
    rpath, so the loader finds a shared library there), libraries."""
    header_dirs = [f"-I{_user_path(op, d)}" for d in _strings(op, "c_header_dirs")]
    lib_dirs = [_user_path(op, d) for d in _strings(op, "c_lib_dirs")]
    flags = (*extra, *header_dirs, *_strings(op, "c_compile_args"))
    link_flags = (
        *(f"-L{d}" for d in lib_dirs),
        *(f"-Wl,-rpath,{d}" for d in lib_dirs),
        *(f"-l{lib}" for lib in _strings(op, "c_libraries")),
    )
    return tuple(dict.fromkeys(flags)), tuple(dict.fromkeys(link_flags))


def template_placeholders(node: Apply, name: str = "NAME") -> Mapping[str, str]:
    """The placeholders a ``c_template`` of ``node``'s op may use and their values (a help for
    writing one; ``@FAIL@`` is there too, in the shape and run sections)."""
    return {**_template_values(node, name), "FAIL": _fail(FAIL_RUN)}


__all__ = ["FAIL_RUN", "FAIL_SHAPE", "SHAPE_UNSET", "template_placeholders", "user_op_kernel"]
