"""A safe evaluator for the expression subset of PLAN_SPEC section 2.

An expression is parsed once, its AST checked against a whitelist, and then translated into
a Python lambda over a tiny set of helpers. Only constructs we emitted ourselves reach
``eval``, so no name, attribute or call outside the whitelist can run. Numbers become
``Decimal`` from their source text (never via float), ordering comparisons and ``in`` are
None-safe as the spec requires, and ``round`` rounds half away from zero.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, Overflow
from typing import Any

from domain.kit.errors import ExpressionError, InvalidInput, quoted
from domain.kit.numbers import PLAN_DECIMALS, PLAN_INTEGER_DIGITS, check_decimal

MAX_EXPRESSION_CHARACTERS = 2000  # a plan's expressions are a line each

# Expressions evaluate over either a transaction's fields (a dict) or a rep context object.
Evaluator = Callable[[Any], Any]


class EvaluationError(Exception):
    """An expression failed at run time (None in arithmetic, division by zero, wrong types).
    ``problem`` says what went wrong in a word a reader's language can say (`PROBLEMS`);
    ``expression`` is the expression that failed, once known (`evaluate_safely`)."""

    def __init__(
        self,
        message: str,
        *,
        problem: str = "wrong_type",
        expression: CompiledExpression | None = None,
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.expression = expression


# what `EvaluationError.problem` may be
PROBLEMS = (
    "division_by_zero",
    "too_large",  # a number too large to calculate with
    "not_a_number",  # a calculation with a number too large or not a number
    "no_result",  # another calculation without a result
    "missing_value",  # None in arithmetic
    "wrong_type",  # a text in arithmetic, round() of a text
    "not_numeric",  # the expression gives a text or a truth value where a number is needed
)


def _lt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a < b


def _le(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a <= b


def _gt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a > b


def _ge(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a >= b


def _in(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a in b


def _not_in(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a not in b


def _round(x: Any, n: Any = 0) -> Decimal:
    if isinstance(x, bool) or not isinstance(x, Decimal | int):
        raise EvaluationError(f"round() needs a number, got {quoted(x)}")
    if isinstance(n, bool) or not isinstance(n, Decimal | int) or int(n) != n:
        raise EvaluationError(f"round() needs a whole number of digits, got {quoted(n)}")
    return Decimal(x).quantize(Decimal(1).scaleb(-int(n)), rounding=ROUND_HALF_UP)


_HELPERS: dict[str, Any] = {
    "__builtins__": {},
    "_lt": _lt,
    "_le": _le,
    "_gt": _gt,
    "_ge": _ge,
    "_in": _in,
    "_not_in": _not_in,
    "_round": _round,
    "_min": min,
    "_max": max,
    "_abs": abs,
}

_PLAIN_FUNCTIONS = {"min": "_min", "max": "_max", "abs": "_abs", "round": "_round"}
_COMPARE_HELPERS: dict[type[ast.cmpop], str] = {
    ast.Lt: "_lt",
    ast.LtE: "_le",
    ast.Gt: "_gt",
    ast.GtE: "_ge",
    ast.In: "_in",
    ast.NotIn: "_not_in",
}
_BINOPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_NAMED_CONSTANTS = {"True", "False", "None"}


@dataclass(frozen=True)
class CompiledExpression:
    source: str
    evaluate: Evaluator
    names: frozenset[str] = frozenset()
    # (function, literal argument) for reference functions such as ("quota", "bookings")
    references: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def __call__(self, env: Any) -> Any:
        return self.evaluate(env)


def compile_expression(
    source: str,
    *,
    where: str,
    allow_names: bool,
    reference_functions: Mapping[str, str] | None = None,
    refuse_constant_failures: bool = False,
) -> CompiledExpression:
    """Validate and compile ``source``.

    ``allow_names``: bare names read fields of a dict (transaction context); otherwise any
    bare name is rejected. ``reference_functions`` maps a function such as ``total`` to the
    attribute of the context object holding a dict keyed by the function's string argument:
    ``total('m')`` compiles to ``env.totals['m']``. ``refuse_constant_failures``: a
    sub-expression that reads no figure and fails (``1/0``) is refused here, as it would fail
    for everyone (definitions checked when they are written, not when read back).
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(
            "an expression must be a non-empty string",
            field=where,
            expression=quoted(source),
            column=1,
        )
    if len(source) > MAX_EXPRESSION_CHARACTERS:
        raise ExpressionError(
            f"is longer than {MAX_EXPRESSION_CHARACTERS} characters (split it into components)",
            field=where,
            expression=source,
            column=1,
        )
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(
            f"syntax error: {exc.msg}", field=where, expression=source, column=exc.offset or 1
        ) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            "expression is nested too deeply", field=where, expression=source, column=1
        ) from None
    translator = _Translator(source.strip(), where, allow_names, reference_functions or {})
    func = _lambda_of(translator, tree.body, source)
    compiled = CompiledExpression(
        source=source,
        evaluate=func,
        names=frozenset(translator.names),
        references=frozenset(translator.references),
    )
    if refuse_constant_failures:
        _refuse_constant_failures(tree.body, source, translator)
    return compiled


def _lambda_of(translator: _Translator, node: ast.AST, source: str) -> Evaluator:
    """``node`` translated and compiled to ``lambda env: ...``. A long flat chain (``1+1+...``)
    is as deep a tree as a nested one: the translator's recursion and Python's own limits on
    nesting (e.g. 200 parentheses) refuse it like too deep nesting, naming the field."""
    try:
        body = translator.visit(node)
        code = f"lambda env: {body}"
        namespace = {**_HELPERS, **translator.constants}
        func: Evaluator = eval(  # noqa: S307 - whitelisted AST
            compile(code, f"<{translator.where}>", "eval"), namespace
        )
    except (SyntaxError, RecursionError, MemoryError):
        raise ExpressionError(
            "expression is too long or nested too deeply (split it into components)",
            field=translator.where,
            expression=source,
            column=1,
        ) from None
    return func


def _refuse_constant_failures(body: ast.AST, source: str, translator: _Translator) -> None:
    """Evaluate each largest sub-expression that reads no name and no reference function
    (``1/0``, ``None + 1``): one that fails fails whatever the figures, so it is refused
    here, naming the field. Sub-expressions that read figures are not tried: ``1 / deals``
    may divide by zero for some people and is fine for others."""
    pending = [body]
    while pending:
        node = pending.pop()
        if _reads_figures(node):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and not _reads_figures(node.right)
                and _is_zero(_lambda_of(_sub(translator), node.right, source))
            ):
                raise translator.fail(node, "always fails: division by zero")
            pending.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
            continue
        if isinstance(node, ast.Constant | ast.Name):
            continue  # a literal cannot fail (numbers are checked when translated)
        reason = _failure_of(_lambda_of(_sub(translator), node, source))
        if reason is not None:
            raise translator.fail(node, f"always fails: {reason}")


def _reads_figures(node: ast.AST) -> bool:
    """Whether ``node`` reads a field or figure: a bare name other than True, False, None or
    a call of min, max, abs or round (a reference function such as ``total`` is a name)."""
    functions = {
        id(call.func)
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in _PLAIN_FUNCTIONS
    }
    return any(
        isinstance(inner, ast.Name)
        and inner.id not in _NAMED_CONSTANTS
        and id(inner) not in functions
        for inner in ast.walk(node)
    )


def _sub(translator: _Translator) -> _Translator:
    return _Translator(translator.source, translator.where, False, translator.reference_functions)


def _is_zero(evaluate: Evaluator) -> bool:
    """Whether an expression that reads nothing is the number zero (``x / 0``, ``x / (1-1)``
    divide by zero whatever ``x`` is)."""
    try:
        value = evaluate(None)
    except (EvaluationError, ArithmeticError, TypeError, ValueError):
        return False  # the divisor's own failure is found when it is tried on its own
    return isinstance(value, Decimal | int) and not isinstance(value, bool) and value == 0


def _failure_of(evaluate: Evaluator) -> str | None:
    """Why evaluating an expression that reads nothing fails, or None if it does not."""
    try:
        evaluate(None)
    except EvaluationError as exc:
        return str(exc)
    except (ArithmeticError, TypeError, ValueError) as exc:
        return _explain_failure(exc)
    return None


class _Translator:
    def __init__(
        self, source: str, where: str, allow_names: bool, references: Mapping[str, str]
    ) -> None:
        self.source = source
        self.where = where
        self.allow_names = allow_names
        self.reference_functions = references
        self.names: set[str] = set()
        self.references: set[tuple[str, str]] = set()
        self._temps = 0
        self.constants: dict[str, Decimal] = {}

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        # ast offsets count UTF-8 bytes; people count characters.
        offset = getattr(node, "col_offset", 0)
        column = len(self.source.encode()[:offset].decode(errors="ignore")) + 1
        return ExpressionError(message, field=self.where, expression=self.source, column=column)

    def temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"

    def visit(self, node: ast.AST) -> str:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, f"{_describe(node)} is not allowed")
        result: str = method(node)
        return result

    def visit_Constant(self, node: ast.Constant) -> str:
        value = node.value
        if value is None or isinstance(value, bool):
            return repr(value)
        if isinstance(value, str):
            return repr(value)
        if isinstance(value, int | float):
            text = ast.get_source_segment(self.source, node) or repr(value)
            text = text.replace("_", "")
            try:
                number = Decimal(text)
                check_decimal(
                    number,
                    field=self.where,
                    integer_digits=PLAN_INTEGER_DIGITS,
                    decimals=PLAN_DECIMALS,
                )
            except ArithmeticError:
                raise self.fail(node, f"bad number {quoted(text)}") from None
            except InvalidInput as exc:
                raise self.fail(node, exc.message) from None
            # Hoisted: the Decimal is built once per plan, not once per evaluation.
            name = f"_n{len(self.constants)}"
            self.constants[name] = number
            return name
        raise self.fail(node, f"constant {quoted(value)} is not allowed")

    def visit_Name(self, node: ast.Name) -> str:
        if node.id in _NAMED_CONSTANTS:
            return node.id
        if node.id.startswith("_"):
            raise self.fail(node, f"name {quoted(node.id)} is not allowed")
        if not self.allow_names:
            raise self.fail(
                node,
                f"unknown name {quoted(node.id)} (fields can only be used in "
                "filter, value and payable_when)",
            )
        self.names.add(node.id)
        return f"env.get({node.id!r})"

    def visit_BinOp(self, node: ast.BinOp) -> str:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(
                node, f"operator {_OPERATOR_NAMES.get(type(node.op), '?')} is not allowed"
            )
        return f"({self.visit(node.left)} {op} {self.visit(node.right)})"

    def visit_UnaryOp(self, node: ast.UnaryOp) -> str:
        if isinstance(node.op, ast.Not):
            return f"(not {self.visit(node.operand)})"
        if isinstance(node.op, ast.USub):
            return f"(-{self.visit(node.operand)})"
        if isinstance(node.op, ast.UAdd):
            return f"(+{self.visit(node.operand)})"
        raise self.fail(node, "operator ~ is not allowed")

    def visit_BoolOp(self, node: ast.BoolOp) -> str:
        op = " and " if isinstance(node.op, ast.And) else " or "
        return "(" + op.join(self.visit(v) for v in node.values) + ")"

    def visit_IfExp(self, node: ast.IfExp) -> str:
        return (
            f"({self.visit(node.body)} if {self.visit(node.test)} else {self.visit(node.orelse)})"
        )

    def visit_Compare(self, node: ast.Compare) -> str:
        operands = [node.left, *node.comparators]
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                raise self.fail(node, "'is' is not allowed (use == None or != None)")
            if isinstance(op, ast.In | ast.NotIn) and not isinstance(right, ast.Tuple | ast.List):
                raise self.fail(right, "'in' needs a tuple or list on its right, like ('a', 'b')")
        if len(node.ops) == 1:
            return self._compare(
                node.ops[0], self.visit(node.left), self.visit(node.comparators[0])
            )
        # A chain evaluates each middle operand once, like Python: bind them to temporaries.
        parts: list[str] = []
        left_text = self.visit(operands[0])
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            name = self.temp()
            right_text = f"({name} := {self.visit(right_node)})"
            parts.append(self._compare(op, left_text, right_text))
            left_text = name
        return "(" + " and ".join(parts) + ")"

    def _compare(self, op: ast.cmpop, left: str, right: str) -> str:
        if isinstance(op, ast.Eq):
            return f"({left} == {right})"
        if isinstance(op, ast.NotEq):
            return f"({left} != {right})"
        return f"{_COMPARE_HELPERS[type(op)]}({left}, {right})"

    def visit_Tuple(self, node: ast.Tuple) -> str:
        items = ", ".join(self.visit(e) for e in node.elts)
        return f"({items},)" if node.elts else "()"

    def visit_List(self, node: ast.List) -> str:
        return self.visit_Tuple(ast.Tuple(elts=node.elts))

    def visit_Call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name):
            raise self.fail(
                node, "only calls of min, max, abs, round and the plan functions are allowed"
            )
        name = node.func.id
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "* arguments are not allowed")
        if name in self.reference_functions:
            if len(node.args) != 1 or not (
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):
                raise self.fail(node, f"{name}() takes one quoted id, like {name}('bookings')")
            key = node.args[0].value
            self.references.add((name, key))
            return f"env.{self.reference_functions[name]}[{key!r}]"
        if name in _PLAIN_FUNCTIONS:
            args = [self.visit(a) for a in node.args]
            if name == "abs" and len(args) != 1:
                raise self.fail(node, "abs() takes one argument")
            if name == "round" and len(args) not in (1, 2):
                raise self.fail(node, "round() takes one or two arguments")
            if name in ("min", "max") and len(args) < 2:
                raise self.fail(node, f"{name}() takes at least two arguments")
            return f"{_PLAIN_FUNCTIONS[name]}({', '.join(args)})"
        allowed = sorted([*_PLAIN_FUNCTIONS, *self.reference_functions])
        raise self.fail(node, f"unknown function {quoted(name)} (allowed: {', '.join(allowed)})")


_OPERATOR_NAMES: dict[type[ast.operator], str] = {
    ast.Pow: "**",
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}

_NODE_NAMES = {
    "Attribute": "attribute access",
    "Subscript": "subscript",
    "Lambda": "lambda",
    "ListComp": "comprehension",
    "SetComp": "comprehension",
    "DictComp": "comprehension",
    "GeneratorExp": "comprehension",
    "Dict": "dict display",
    "Set": "set display",
    "NamedExpr": "assignment (:=)",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield",
    "JoinedStr": "f-string",
    "Starred": "starred expression",
    "Slice": "slice",
}


def _describe(node: ast.AST) -> str:
    return _NODE_NAMES.get(type(node).__name__, type(node).__name__)


def evaluate_safely(expr: CompiledExpression, env: Any) -> Any:
    """Evaluate, turning run-time failures into EvaluationError with the expression named."""
    try:
        return expr.evaluate(env)
    except EvaluationError as exc:
        raise EvaluationError(
            f"{exc} in {quoted(expr.source)}", problem=exc.problem, expression=expr
        ) from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise EvaluationError(
            f"{_explain_failure(exc)} in {quoted(expr.source)}",
            problem=problem_of(exc),
            expression=expr,
        ) from None


def problem_of(exc: BaseException) -> str:
    """What went wrong, as `EvaluationError.problem` says it (`PROBLEMS`)."""
    if isinstance(exc, EvaluationError):
        return exc.problem
    if isinstance(exc, ZeroDivisionError) or "Division" in repr(exc):
        return "division_by_zero"
    if isinstance(exc, Overflow):
        return "too_large"
    if isinstance(exc, InvalidOperation):
        return "not_a_number"
    if isinstance(exc, ArithmeticError):
        return "no_result"
    if "NoneType" in str(exc):
        return "missing_value"
    return "wrong_type"


def _explain_failure(exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError) or "Division" in repr(exc):
        return "division by zero"  # DivisionByZero, or DivisionUndefined for 0/0
    if isinstance(exc, Overflow):
        return "a number too large to calculate with"
    if isinstance(exc, InvalidOperation):  # str() of it is "[<class 'decimal.InvalidOperation'>]"
        return "a calculation with a number too large or not a number"
    if isinstance(exc, ArithmeticError):
        return "a calculation that has no result"
    text = quoted(str(exc))[1:-1]
    if "NoneType" in text:
        return f"a missing value (None) was used in arithmetic ({text})"
    return text or type(exc).__name__
