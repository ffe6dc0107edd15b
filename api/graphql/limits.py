"""What one request may ask for: depth, aliases, tokens (strawberry's built-ins) and cost.

Before any of those, `check_shape` walks the document once, each fragment once (memoised):
strawberry's depth and alias limiters, graphql-core's rules and the cost counter all walk a
fragment again for every spread of it, so a 1 KB document of fragments each spreading the
next twice is 2^20 fields to them. The shape check refuses a document whose fields, fragments
expanded, outnumber the token limit (what an inline document could ask for), a fragment cycle,
more than `MAX_FRAGMENTS` fragments and introspection lists nested `MAX_INTROSPECTION_LISTS`
deep (`{ __schema { types { fields { type { fields { type { fields ...`).

Cost estimates how many values an operation can resolve before it runs: every field counts 1,
and a list multiplies what is below it by its size, taken from a `first`/`last` argument
(its value, its variable or its default) or, for a list without one, `default_list_size`. The
edges of a connection sized by `first` are not multiplied a second time. Introspection
(`__schema`, `__type`, `__typename`) is free, as in the depth limiter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    BREAK,
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    visit,
)
from graphql import parse as graphql_parse
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions import SchemaExtension
from strawberry.extensions import max_aliases as strawberry_aliases
from strawberry.extensions import query_depth_limiter as strawberry_depth
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from api.graphql.edge import bad_text
from api.graphql.errors import BAD_USER_INPUT, PARSE_FAILED
from api.settings import Limits

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
TOO_MANY_FIELDS = "TOO_MANY_FIELDS"
TOO_MANY_FRAGMENTS = "TOO_MANY_FRAGMENTS"
FRAGMENT_CYCLE = "FRAGMENT_CYCLE"
INTROSPECTION_TOO_DEEP = "INTROSPECTION_TOO_DEEP"
MAX_FRAGMENTS = 100
# selection sets nested through fragments (the parser bounds each definition alone); the
# depth limit counts fields only and stops at introspection, this counts every level
MAX_NESTING = 64
# graphql-js's MaxIntrospectionDepthRule: these lists of __Type nested this deep are refused
MAX_INTROSPECTION_LISTS = 3
INTROSPECTION_LISTS = frozenset({"fields", "inputFields", "interfaces", "possibleTypes"})
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# graphql-core's overlapping-fields rule compares same-named fields pairwise, within a budget
# read from this module attribute (its documented knob) when a validation starts. Its
# 500,000 took 150 ms on `{ me { id id id ... } }` under the token limit; the apps' operations
# and GraphiQL's introspection spend under 10 of it.
OVERLAP_BUDGET = 10_000
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = OVERLAP_BUDGET
# only documents this short are kept parsed and validated (a few dozen small operations):
# a long one, comments and all, is parsed again each time rather than held
CACHEABLE_QUERY_CHARS = 16 * 1024
SIZE_ARGUMENTS = ("first", "last")
# distinct documents kept parsed and validated: the apps ship a few dozen operations
DOCUMENT_CACHE_SIZE = 512


class DocumentShape:
    """Fields (fragments expanded), the deepest nesting of introspection lists and of
    selection sets below a selection set, each fragment's counted once. `work` counts the
    selections visited. Nesting through fragments is refused past `MAX_NESTING` as the walk
    goes, so that neither this walk nor the rules after it can exhaust the stack."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.done: dict[str, tuple[int, int, int]] = {}
        self.visiting: set[str] = set()
        self.work = 0

    def selections(
        self, selection_set: SelectionSetNode | None, depth: int = 0
    ) -> tuple[int, int, int]:
        if selection_set is None:
            return 0, 0, 0
        if depth >= MAX_NESTING:
            raise _too_nested()
        fields, lists, nesting = 0, 0, 0
        for selection in selection_set.selections:
            self.work += 1
            if isinstance(selection, FieldNode):
                below, below_lists, below_nesting = self.selections(
                    selection.selection_set, depth + 1
                )
                name = selection.name.value
                if name in INTROSPECTION_LISTS:
                    below_lists += 1
                if name in INTROSPECTION_ROOTS and below_lists >= MAX_INTROSPECTION_LISTS:
                    raise GraphQLError(
                        f"introspection lists ({', '.join(sorted(INTROSPECTION_LISTS))}) "
                        f"nested {below_lists} deep: at most {MAX_INTROSPECTION_LISTS - 1}",
                        [selection],
                        extensions={"code": INTROSPECTION_TOO_DEEP},
                    )
                fields += 1 + below
            elif isinstance(selection, InlineFragmentNode):
                below, below_lists, below_nesting = self.selections(
                    selection.selection_set, depth + 1
                )
                fields += below
            elif isinstance(selection, FragmentSpreadNode):
                below, below_lists, below_nesting = self.fragment(selection, depth)
                fields += below
                below_nesting -= 1  # a spread is its fragment's selections, in place
            else:
                continue
            lists = max(lists, below_lists)
            nesting = max(nesting, 1 + below_nesting)
        if depth + nesting > MAX_NESTING:
            raise _too_nested()
        return fields, lists, nesting

    def fragment(self, spread: FragmentSpreadNode, depth: int = 0) -> tuple[int, int, int]:
        name = spread.name.value
        if name in self.done:
            found = self.done[name]
            if depth + found[2] > MAX_NESTING:
                raise _too_nested()
            return found
        fragment = self.fragments.get(name)
        if fragment is None:
            return 0, 0, 0  # unknown: the validator reports it
        if name in self.visiting:
            raise GraphQLError(
                f"Cannot spread fragment '{name}' within itself.",
                [spread],
                extensions={"code": FRAGMENT_CYCLE},
            )
        self.visiting.add(name)
        self.done[name] = self.selections(fragment.selection_set, depth)
        self.visiting.discard(name)
        return self.done[name]


def _too_nested() -> GraphQLError:
    return GraphQLError(
        f"the document nests selections more than {MAX_NESTING} deep once its fragments are "
        "expanded",
        extensions={"code": QUERY_TOO_DEEP, "maxNesting": MAX_NESTING},
    )


def check_shape(
    document: DocumentNode, *, max_fields: int, shape: DocumentShape | None = None
) -> None:
    """Raises a coded GraphQLError for a document too big once its fragments are expanded
    (see the module's docstring). `shape.work` tells what it cost: at most one visit per
    selection of the document."""
    shape = shape or DocumentShape(document)
    if len(shape.fragments) > MAX_FRAGMENTS:
        raise GraphQLError(
            f"{len(shape.fragments)} fragments found. Allowed: {MAX_FRAGMENTS}",
            extensions={"code": TOO_MANY_FRAGMENTS, "maxFragments": MAX_FRAGMENTS},
        )
    fields = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            fields += shape.selections(definition.selection_set)[0]
        elif isinstance(definition, FragmentDefinitionNode):
            shape.fragment(FragmentSpreadNode(name=definition.name))  # even when unused
        if fields > max_fields:
            raise GraphQLError(
                f"the document asks for more than {max_fields} fields once its fragments are "
                "expanded",
                extensions={"code": TOO_MANY_FIELDS, "maxFields": max_fields},
            )


class _CostCounter:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        default_list_size: int,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.default_list_size = default_list_size
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operation_defaults: dict[str, str] = {}

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        self.operation_defaults = {
            d.variable.name.value: d.default_value.value
            for d in operation.variable_definitions or ()
            if isinstance(d.default_value, IntValueNode)
        }
        return self.selections(operation.selection_set, root, sized=False, seen=frozenset())

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        *,
        sized: bool,
        seen: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, sized=sized, seen=seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += self.selections(selection.selection_set, condition, sized=sized, seen=seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                condition = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(
                    fragment.selection_set, condition, sized=sized, seen=seen | {name}
                )
        return total

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, *, sized: bool, seen: frozenset[str]
    ) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 1
        definition = parent.fields.get(name)
        if definition is None:
            return 1  # unknown: the validator reports it
        size = self.size_argument(node, definition.args)
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        multiplier = 1
        if size is not None:
            multiplier = size
        elif is_list and not sized:
            multiplier = self.default_list_size
        below = self.selections(
            node.selection_set,
            get_named_type(definition.type),
            sized=size is not None,
            seen=seen,
        )
        return 1 + multiplier * below

    def size_argument(self, node: FieldNode, arguments: Mapping[str, Any]) -> int | None:
        for name in SIZE_ARGUMENTS:
            if name not in arguments:
                continue
            value: Any = arguments[name].default_value
            for argument in node.arguments or ():
                if argument.name.value != name:
                    continue
                if isinstance(argument.value, IntValueNode):
                    value = int(argument.value.value)
                elif isinstance(argument.value, VariableNode):
                    variable = argument.value.name.value
                    if variable in self.variables:
                        value = self.variables[variable]
                    else:
                        value = self.operation_defaults.get(variable, value)
                        value = int(value) if isinstance(value, str) else value
            if isinstance(value, int) and not isinstance(value, bool):
                return max(0, value)
            return self.default_list_size
        return None


def cost_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    variables: Mapping[str, Any],
    operation_name: str | None,
    max_cost: int,
    default_list_size: int,
) -> list[GraphQLError]:
    counter = _CostCounter(schema, document, variables, default_list_size)
    errors: list[GraphQLError] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        label = definition.name.value if definition.name else None
        if operation_name is not None and label != operation_name:
            continue
        cost = counter.operation(definition)
        if cost > max_cost:
            errors.append(
                GraphQLError(
                    f"'{label or 'anonymous'}' costs {cost}, more than the maximum "
                    f"cost of {max_cost}: ask for fewer items with first/last",
                    [definition],
                    extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "maxCost": max_cost},
                )
            )
    return errors


class LimitedValidation(SchemaExtension):
    """Validation with the depth and alias limits, then the cost limit.

    A mobile app sends the same few documents over and over, so validating is cached per
    short document (parsed documents are cached too): the rules, the limits among
    them, depend on the document alone. The cost depends on the variables (`first: $first`),
    so it is counted on every request, after a document passed validation.
    """

    def __init__(
        self,
        *,
        rules: tuple[type[ValidationRule], ...],
        validate: Callable[..., list[GraphQLError]],
        max_cost: int,
        default_list_size: int,
    ) -> None:
        self.rules = rules
        self.validate = validate
        self.max_cost = max_cost
        self.default_list_size = default_list_size

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None  # on_validate runs only after a successful parse
        schema = context.schema._schema
        rules = (*context.validation_rules, *self.rules)
        if len(context.query or "") <= CACHEABLE_QUERY_CHARS:
            errors = list(self.validate(schema, document, rules))
        else:
            errors = list(validate_document(schema, document, rules))
        errors = [_coded_abort(e) for e in errors]
        if not errors:
            errors = _unnamed_choice(document, context)
        if not errors:
            errors = cost_errors(
                schema,
                document,
                variables=context.variables or {},
                operation_name=context.operation_name,
                max_cost=self.max_cost,
                default_list_size=self.default_list_size,
            )
        # a list, even empty, tells strawberry validation has been done
        context.pre_execution_errors = errors
        yield


def _unnamed_choice(document: DocumentNode, context: ExecutionContext) -> list[GraphQLError]:
    """A document of several operations needs ``operationName`` to say which one runs (the
    GraphQL spec); strawberry would run the first one."""
    if getattr(context, "_provided_operation_name", None) is not None:
        return []
    names = [
        d.name.value if d.name else "anonymous"
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    if len(names) < 2:  # one operation runs without a name
        return []
    return [
        GraphQLError(
            f"the document has {len(names)} operations ({', '.join(names[:5])}): give "
            "operationName to say which one to run",
            extensions={"code": BAD_USER_INPUT},
        )
    ]


def _coded_abort(error: GraphQLError) -> GraphQLError:
    if error.message != "Validation aborted." or error.extensions:
        return error
    return GraphQLError(
        "the document is too complex to validate: fewer fields of the same name, please",
        extensions={"code": QUERY_TOO_COMPLEX},
    )


def coded(rule: type[ValidationRule], code: str) -> type[ValidationRule]:
    """`rule` with `extensions.code` on what it reports, so clients can tell a limit apart
    from a mistake in their document. (strawberry's limiters check in their constructor.)"""

    class Coded(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            report = context.report_error

            def report_with_code(error: GraphQLError) -> None:
                error.extensions = {**(error.extensions or {}), "code": code}
                report(error)

            context.report_error = report_with_code  # type: ignore[method-assign]
            try:
                super().__init__(context)
            except (KeyError, ValueError):
                # strawberry's depth limiter looks a spread's fragment up and takes max() over
                # a selection's measured parts: a spread of an unknown fragment fails either
                # way. The rule then reports nothing; graphql's own rules name the fragment
                ValidationRule.__init__(self, context)
            finally:
                context.report_error = report  # type: ignore[method-assign]

    return Coded


def parse_within_limits(query: str, *, max_tokens: int) -> DocumentNode:
    """The document of `query`, parsed with the token limit (the parser stops counting past
    it), then its shape checked (`check_shape`), before any rule walks it."""
    try:
        document = graphql_parse(query, max_tokens=max_tokens)
    except GraphQLError as error:
        # graphql-core words it "Document contains more than N tokens. Parsing aborted."
        too_long = f"more than {max_tokens} tokens" in error.message
        error.extensions = {
            **(error.extensions or {}),
            "code": TOO_MANY_TOKENS if too_long else PARSE_FAILED,
        }
        raise
    check_shape(document, max_fields=max_tokens)
    if "\\u" in query:  # only a \u escape makes a NUL or a lone surrogate in a string literal
        check_strings(document)
    return document


class _Unstorable(Visitor):
    """Finds the first string literal PostgreSQL or UTF-8 cannot take, and the argument (and
    input fields) it is given to."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.found: tuple[str, str, StringValueNode] | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        self.names.pop()

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        reason = bad_text(node.value)
        if reason is None:
            return None
        self.found = (".".join(self.names), reason, node)
        return BREAK


def check_strings(document: DocumentNode) -> None:
    """Raises BAD_USER_INPUT, naming the argument, for a string literal of the document that
    holds a NUL character or a lone surrogate (written as a \\u escape): the same rule as the
    request's JSON (`api.graphql.edge`), which sees only the document's text."""
    finder = _Unstorable()
    visit(document, finder)
    if finder.found is not None:
        where, reason, node = finder.found
        raise GraphQLError(
            f"argument {where}: {reason}" if where else f"a string {reason}",
            node,
            extensions={"code": BAD_USER_INPUT, **({"field": where} if where else {})},
        )


class CachedTokenLimitedParse(SchemaExtension):
    """Parsing within the limits (`parse_within_limits`), cached for short query texts only.
    Failures are not cached (lru_cache keeps results only): each is this request's own."""

    def __init__(self, *, max_token_count: int, parse: Callable[[str], DocumentNode]) -> None:
        self.max_token_count = max_token_count
        self.parse = parse

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        if len(query) <= CACHEABLE_QUERY_CHARS:
            context.graphql_document = self.parse(query)
        else:
            context.graphql_document = parse_within_limits(query, max_tokens=self.max_token_count)
        yield


def limit_extensions(limits: Limits) -> list[Callable[[], SchemaExtension]]:
    """Factories: strawberry builds a fresh extension per request from each. The rule classes
    and the caches are built once here, so that cached validation can hit."""
    rules = (
        coded(strawberry_depth.create_validator(limits.max_depth, None, None), QUERY_TOO_DEEP),
        coded(strawberry_aliases.create_validator(limits.max_aliases), TOO_MANY_ALIASES),
    )

    @lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
    def parse(query: str) -> DocumentNode:
        return parse_within_limits(query, max_tokens=limits.max_tokens)

    validate = lru_cache(maxsize=DOCUMENT_CACHE_SIZE)(validate_document)
    return [
        lambda: CachedTokenLimitedParse(max_token_count=limits.max_tokens, parse=parse),
        lambda: LimitedValidation(
            rules=rules,
            validate=validate,
            max_cost=limits.max_cost,
            default_list_size=limits.default_list_size,
        ),
    ]
