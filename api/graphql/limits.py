"""What one request may ask for: depth, aliases, tokens (strawberry's built-ins) and cost.

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
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from graphql import parse as graphql_parse
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.extensions import max_aliases as strawberry_aliases
from strawberry.extensions import query_depth_limiter as strawberry_depth
from strawberry.schema.schema import validate_document

from api.settings import Limits

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
SIZE_ARGUMENTS = ("first", "last")
# distinct documents kept parsed and validated: the apps ship a few dozen operations
DOCUMENT_CACHE_SIZE = 512


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
    document (parsed documents are cached too): the rules, the limits among
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
        errors = list(self.validate(schema, document, (*context.validation_rules, *self.rules)))
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
            finally:
                context.report_error = report  # type: ignore[method-assign]

    return Coded


class CachedTokenLimitedParse(MaxTokensLimiter):
    """Parsing with strawberry's token limit (the parser stops counting past it), cached per
    query text, its error coded. graphql-core words it "Document contains more than N tokens.
    Parsing aborted."."""

    def __init__(self, *, max_token_count: int, parse: Callable[..., DocumentNode]) -> None:
        super().__init__(max_token_count=max_token_count)
        self.parse = parse

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            # failures are not cached (lru_cache keeps results only), so the error is this
            # request's own to code
            context.graphql_document = self.parse(context.query, **context.parse_options)
        except GraphQLError as error:
            if f"more than {self.max_token_count} tokens" in error.message:
                error.extensions = {**(error.extensions or {}), "code": TOO_MANY_TOKENS}
            raise
        yield


def limit_extensions(limits: Limits) -> list[Callable[[], SchemaExtension]]:
    """Factories: strawberry builds a fresh extension per request from each. The rule classes
    and the caches are built once here, so that cached validation can hit."""
    rules = (
        coded(strawberry_depth.create_validator(limits.max_depth, None, None), QUERY_TOO_DEEP),
        coded(strawberry_aliases.create_validator(limits.max_aliases), TOO_MANY_ALIASES),
    )
    parse = lru_cache(maxsize=DOCUMENT_CACHE_SIZE)(graphql_parse)
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
