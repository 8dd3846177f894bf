"""sg.function: inputs, outputs, updates, givens, casting, keyword calls, ownership."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad as sg

pytestmark = pytest.mark.both_modes  # every test in mode 'c' and in mode 'py' (tests/conftest.py)


def test_single_and_list_outputs():
    x = sg.vector("x")
    f = sg.function([x], x * 2)
    g = sg.function([x], [x * 2, x + 1])
    np.testing.assert_allclose(f([1.0, 2.0]), [2.0, 4.0])
    a, b = g([1.0, 2.0])
    np.testing.assert_allclose(a, [2.0, 4.0])
    np.testing.assert_allclose(b, [2.0, 3.0])


def test_zero_d_output_is_array():
    x = sg.scalar("x")
    out = sg.function([x], x * 3)(2.0)
    assert isinstance(out, np.ndarray) and out.shape == () and out == 6.0


def test_empty_output_list_with_updates():
    w = sg.shared(np.zeros(2), "w")
    f = sg.function([], [], updates=[(w, w + 1)])
    assert f() == []
    f()
    np.testing.assert_allclose(w.get_value(), [2.0, 2.0])


def test_updates_use_values_from_before_the_call():
    a = sg.shared(np.array(1.0), "a")
    b = sg.shared(np.array(2.0), "b")
    f = sg.function([], a + b, updates={a: b, b: a})
    assert f() == 3.0
    assert a.get_value() == 2.0 and b.get_value() == 1.0


def test_outputs_computed_before_updates():
    w = sg.shared(np.array([1.0, 2.0]), "w")
    f = sg.function([], w * 1, updates={w: w * 10})
    np.testing.assert_allclose(f(), [1.0, 2.0])
    np.testing.assert_allclose(f(), [10.0, 20.0])


def test_givens_substitutes_before_compiling():
    x, y = sg.vector("x"), sg.vector("y")
    out = x * 2
    f = sg.function([y], out, givens={x: y + 1})
    np.testing.assert_allclose(f([1.0, 2.0]), [4.0, 6.0])
    # the original graph is untouched
    np.testing.assert_allclose(sg.function([x], out)([1.0]), [2.0])


def test_keyword_and_positional_calls():
    x, y = sg.scalar("x"), sg.scalar("y")
    f = sg.function([x, y], x - y)
    assert f(5.0, 3.0) == 2.0
    assert f(y=3.0, x=5.0) == 2.0
    assert f(5.0, y=3.0) == 2.0
    with pytest.raises(TypeError, match="missing input 1 \\('y'\\)"):
        f(5.0)
    with pytest.raises(TypeError, match="no input named 'z'"):
        f(1.0, z=2.0)
    with pytest.raises(TypeError, match="takes 2 arguments"):
        f(1.0, 2.0, 3.0)


def test_nested_lists_and_python_numbers_are_accepted():
    m = sg.matrix("m")
    np.testing.assert_allclose(sg.function([m], m.sum())([[1, 2], [3, 4]]), 10.0)


@pytest.mark.parametrize(
    ("dtype", "value", "ok"),
    [
        ("float32", 0.1, True),  # a Python float to float32 is always accepted (rounded)
        ("float32", np.array([0.5, 1.5]), True),  # float64 value representable exactly
        ("float32", np.array([0.1]), False),  # float64 -> float32 would round
        ("int32", np.array([1, 2], dtype=np.int64), True),  # value unchanged
        ("int32", np.array([2**40]), False),  # would overflow
        ("int64", np.array([1.0]), False),  # float -> int is not same_kind
        ("float64", np.array([1, 2], dtype=np.int8), True),  # safe
        ("int8", [1, 2], True),
    ],
)
def test_input_casting_rules(dtype, value, ok):
    x = sg.tensor("x", dtype, (None,) * np.ndim(value))
    f = sg.function([x], x)
    if ok:
        out = f(value)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, np.asarray(value).astype(dtype))
    else:
        with pytest.raises(TypeError, match="input 0 \\('x'\\)"):
            f(value)


def test_allow_input_downcast():
    x = sg.fvector("x")
    f = sg.function([x], x, allow_input_downcast=True)
    assert f(np.array([0.1])).dtype == np.float32


def test_wrong_rank_and_static_shape_are_rejected():
    x = sg.tensor("x", "float64", (None, 3))
    f = sg.function([x], x * 2)
    with pytest.raises(TypeError, match="expected 2-d"):
        f(np.zeros(3))
    with pytest.raises(ValueError, match="static shape"):
        f(np.zeros((2, 4)))


def test_outputs_are_owned_by_the_caller():
    x = sg.vector("x")
    w = sg.shared(np.ones(2), "w")
    f = sg.function([x], [x, x, w, x.dimshuffle(0)], updates={w: w + 1})
    arg = np.array([1.0, 2.0])
    a, b, c, d = f(arg)
    assert not np.shares_memory(a, arg) and not np.shares_memory(a, b)
    assert not np.shares_memory(c, w.get_value(borrow=True))
    a[:] = 99
    np.testing.assert_allclose(arg, [1.0, 2.0])
    first = f(arg)[0]
    second = f(arg)[0]
    first[:] = -1
    np.testing.assert_allclose(second, [1.0, 2.0])


def test_update_value_does_not_alias_an_input():
    x = sg.vector("x")
    w = sg.shared(np.zeros(2), "w")
    f = sg.function([x], [], updates={w: x})
    arg = np.array([1.0, 2.0])
    f(arg)
    arg[:] = 5
    np.testing.assert_allclose(w.get_value(), [1.0, 2.0])


def test_shared_copies_its_value_and_get_value_copies():
    value = np.array([1.0, 2.0])
    w = sg.shared(value)
    value[:] = 0
    np.testing.assert_allclose(w.get_value(), [1.0, 2.0])
    w.get_value()[:] = 7
    np.testing.assert_allclose(w.get_value(), [1.0, 2.0])
    assert w.get_value(borrow=True) is w.get_value(borrow=True)


def test_set_value_rules():
    w = sg.shared(np.zeros(2, dtype=np.float32), "w")
    w.set_value(np.array([1, 2], dtype=np.int8))  # safe cast
    assert w.get_value().dtype == np.float32
    w.set_value(np.zeros(5, dtype=np.float32))  # lengths may change
    with pytest.raises(TypeError):
        w.set_value(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(TypeError):
        w.set_value(np.array([0.1]))  # float64 -> float32 changes the value


def test_update_dtype_cast_when_safe_else_rejected():
    w = sg.shared(np.zeros(2), "w64")
    sg.function([], [], updates={w: sg.constant(np.array([1, 2], dtype=np.int32))})()
    np.testing.assert_allclose(w.get_value(), [1.0, 2.0])
    w32 = sg.shared(np.zeros(2, dtype=np.float32), "w32")
    x64 = sg.dvector("x64")
    with pytest.raises(TypeError, match="'w32'.*float64.*float32"):
        sg.function([x64], [], updates={w32: w32 - x64})
    # a Python float learning rate keeps float32 (weak typing), so this one works
    sg.function([], [], updates={w32: w32 - 0.1 * w32})


def test_update_static_shape_mismatch_rejected():
    w = sg.shared(np.zeros((1, 3)), "w", shape=(1, 3))
    m = sg.matrix("m")
    with pytest.raises(ValueError, match="'w'.*broadcastable"):
        sg.function([m], [], updates={w: m})
    v = sg.tensor("v", "float64", (2, 3))
    with pytest.raises(ValueError, match="'w'.*static shape"):
        sg.function([v], [], updates={w: v})


def test_update_rank_mismatch_rejected():
    w = sg.shared(np.zeros(3), "w")
    with pytest.raises(TypeError, match="'w'.*dims"):
        sg.function([], [], updates={w: w.sum()})


def test_missing_input_names_the_variable():
    x, y = sg.vector("x"), sg.vector("y")
    with pytest.raises(sg.MissingInputError, match="'?y'?.*test_function.py"):
        sg.function([x], x + y)


def test_on_unused_input():
    x, y = sg.vector("x"), sg.vector("y")
    with pytest.raises(ValueError, match="'y'"):
        sg.function([x, y], x)
    with pytest.warns(UserWarning, match="'y'"):
        sg.function([x, y], x, on_unused_input="warn")
    f = sg.function([x, y], x, on_unused_input="ignore")
    np.testing.assert_allclose(f([1.0], [2.0]), [1.0])


def test_bad_inputs_rejected():
    x = sg.vector("x")
    w = sg.shared(np.zeros(2))
    with pytest.raises(TypeError, match="list of variables"):
        sg.function(x, x)
    with pytest.raises(TypeError, match="shared variable"):
        sg.function([w], w)
    with pytest.raises(TypeError, match="computed by"):
        sg.function([x * 2], x)
    with pytest.raises(ValueError, match="appears twice"):
        sg.function([x, x], x)


def test_modes():
    x = sg.vector("x")
    assert sg.function([x], x, mode="py")([1.0]) == 1.0
    assert sg.function([x], x + 1, mode="c")([1.0]) == 2.0
    with pytest.raises(sg.ModeUnavailableError, match="mode='py'"):
        sg.function([x], x, mode="cuda")
    with pytest.raises(ValueError, match="unknown mode"):
        sg.function([x], x, mode="fast")


def test_runtime_error_names_op_shapes_and_user_line():
    a, b = sg.vector("a"), sg.vector("b")
    out = a + b  # the line the message must point at
    f = sg.function([a, b], out)
    with pytest.raises(ValueError, match=r"add \(created at test_function.py:\d+\).*\(2,\).*\(3,\)"):
        f(np.zeros(2), np.zeros(3))


def test_trust_input_skips_checks():
    x = sg.vector("x")
    f = sg.function([x], x * 2, trust_input=True)
    np.testing.assert_allclose(f(np.array([1.0])), [2.0])


def test_profile_records_node_times():
    x = sg.vector("x")
    f = sg.function([x], sg.exp(x).sum(), profile=True)
    for _ in range(3):
        f(np.ones(10))
    prof = f.profile
    assert prof.calls == 3
    text = prof.summary()
    assert "exp" in text and "sum" in text


def test_eval():
    x = sg.vector("x")
    np.testing.assert_allclose((x * 2).eval({x: [1.0, 2.0]}), [2.0, 4.0])
    assert sg.constant(3.0).eval() == 3.0


def test_floatx_switch():
    with sg.config.override(floatX="float32"):
        x = sg.vector("x")
        assert x.dtype == "float32"
        assert sg.constant(1.5).dtype == "float32"
    assert sg.vector().dtype == "float64"
    with pytest.raises(ValueError):
        sg.config.floatX = "float16"
