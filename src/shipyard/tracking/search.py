"""``search_runs``: a small filter language compiled to one SQL query.

Grammar (keywords are case-insensitive)::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := atom ("and" atom)*
    atom       := "(" or_expr ")" | comparison
    comparison := field op value | field ["not"] "in" "(" value ("," value)* ")"
    field      := ("metrics" | "params" | "tags" | "attributes") "." name
    name       := word | `any text in backticks`
    op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "like" | "ilike"
    value      := number | 'text' | "text"

``metrics.X`` is the latest value of series X (numbers and ordering ops only).
``params.X`` and ``tags.X`` are text; an ordering op with a number compares
numerically. ``attributes`` are ``id``, ``name``, ``status``, ``user``,
``git_commit``, ``start_time`` and ``end_time`` (ISO-8601 text).
Example: ``metrics.auc > 0.9 and params.model = 'lr'``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, cast, exists, false, or_, select

from shipyard.errors import InvalidInput
from shipyard.store.schema.core import Experiment, LatestMetric, Param, Tag
from shipyard.store.schema.core import Run as RunRow
from shipyard.tracking.experiments import resolve_ids
from shipyard.tracking.records import RunRecord, base_query, load_records
from shipyard.workspace import Workspace, current

EXAMPLE = "metrics.auc > 0.9 and params.model = 'lr'"
MAX_RESULTS_LIMIT = 50_000
_OPS = ("!=", "<=", ">=", "==", "=", "<", ">")
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.])
    | (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<field>[A-Za-z_]\w*\.(?:`[^`]+`|[\w.\-]+))
    | (?P<word>[A-Za-z_]\w*)
    | (?P<op>!=|<=|>=|==|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_ENTITIES = {
    "metrics",
    "metric",
    "params",
    "param",
    "tags",
    "tag",
    "attributes",
    "attribute",
    "attr",
}
_ATTRIBUTES = {
    "id": RunRow.id,
    "run_id": RunRow.id,
    "name": RunRow.name,
    "status": RunRow.status,
    "user": RunRow.user,
    "git_commit": RunRow.git_commit,
    "start_time": RunRow.start_time,
    "end_time": RunRow.end_time,
    "experiment": Experiment.name,
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def _error(filter_text: str, pos: int, expected: str, found: str) -> InvalidInput:
    pointer = " " * pos + "^"
    return InvalidInput(
        f"Invalid filter at position {pos}: expected {expected}, found {found}.\n"
        f"  {filter_text}\n  {pointer}\nExample: {EXAMPLE}",
        field="filter",
    )


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise _error(text, start, "a field, operator or value", repr(text[start]))
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the tokens, building a SQL condition directly."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _keyword(self, word: str) -> bool:
        if self.tok.kind == "word" and self.tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def _fail(self, expected: str) -> InvalidInput:
        found = "the end of the filter" if self.tok.kind == "end" else repr(self.tok.text)
        return _error(self.text, self.tok.pos, expected, found)

    def parse(self) -> ColumnElement[bool]:
        condition = self.or_expr()
        if self.tok.kind != "end":
            raise self._fail("'and', 'or' or the end of the filter")
        return condition

    def or_expr(self) -> ColumnElement[bool]:
        parts = [self.and_expr()]
        while self._keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def and_expr(self) -> ColumnElement[bool]:
        parts = [self.atom()]
        while self._keyword("and"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def atom(self) -> ColumnElement[bool]:
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.i += 1
            inner = self.or_expr()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self._fail("')'")
            self.i += 1
            return inner
        return self.comparison()

    def comparison(self) -> ColumnElement[bool]:
        if self.tok.kind != "field":
            raise self._fail(
                "a field such as metrics.auc, params.model, tags.team or attributes.status"
            )
        entity, name = _split_field(self.tok.text)
        field_tok = self.tok
        if entity not in _ENTITIES:
            raise _error(
                self.text, field_tok.pos, "metrics., params., tags. or attributes.", repr(entity)
            )
        self.i += 1
        op = self._operator()
        values = self._values() if op in ("in", "not in") else [self._value()]
        return _condition(self.text, field_tok, entity.rstrip("s"), name, op, values)

    def _operator(self) -> str:
        if self.tok.kind == "op":
            op = "=" if self.tok.text == "==" else self.tok.text
            self.i += 1
            return op
        if self._keyword("like"):
            return "like"
        if self._keyword("ilike"):
            return "ilike"
        if self._keyword("in"):
            return "in"
        if self._keyword("not"):
            if self._keyword("in"):
                return "not in"
            raise self._fail("'in' after 'not'")
        raise self._fail("an operator (=, !=, <, <=, >, >=, like, ilike, in, not in)")

    def _value(self) -> Any:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
        if tok.kind == "str":
            self.i += 1
            quote = tok.text[0]
            return tok.text[1:-1].replace(quote * 2, quote)
        raise self._fail("a number or a quoted string")

    def _values(self) -> list[Any]:
        if not (self.tok.kind == "punct" and self.tok.text == "("):
            raise self._fail("'(' starting a list of values")
        self.i += 1
        values = [self._value()]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.i += 1
            values.append(self._value())
        if not (self.tok.kind == "punct" and self.tok.text == ")"):
            raise self._fail("',' or ')'")
        self.i += 1
        return values


def _split_field(text: str) -> tuple[str, str]:
    entity, name = text.split(".", 1)
    if name.startswith("`") and name.endswith("`"):
        name = name[1:-1]
    return entity.lower(), name


def _compare(column: Any, op: str, values: list[Any]) -> ColumnElement[bool]:
    value = values[0]
    result: ColumnElement[bool]
    if op == "=":
        result = column == value
    elif op == "!=":
        result = column != value
    elif op == "<":
        result = column < value
    elif op == "<=":
        result = column <= value
    elif op == ">":
        result = column > value
    elif op == ">=":
        result = column >= value
    elif op == "like":
        result = column.like(value)
    elif op == "ilike":
        result = column.ilike(value)
    elif op == "in":
        result = column.in_(values)
    else:
        result = column.not_in(values)
    return result


def _condition(
    text: str, tok: Token, entity: str, name: str, op: str, values: list[Any]
) -> ColumnElement[bool]:
    numeric = all(isinstance(v, (int, float)) for v in values)
    if entity == "metric":
        if not numeric or op in ("like", "ilike"):
            raise _error(text, tok.pos, f"a number compared to metrics.{name}", repr(values[0]))
        return exists(
            select(LatestMetric.run_id).where(
                LatestMetric.run_id == RunRow.id,
                LatestMetric.key == name,
                _compare(LatestMetric.value, op, values),
            )
        )
    if entity in ("param", "tag"):
        table: Any = Param if entity == "param" else Tag
        ordering = op in ("<", "<=", ">", ">=")
        column = cast(table.value, Float) if ordering and numeric else table.value
        wanted = values if (ordering and numeric) else [str(v) for v in values]
        return exists(
            select(table.run_id).where(
                table.run_id == RunRow.id, table.key == name, _compare(column, op, wanted)
            )
        )
    return _attribute_condition(text, tok, name, op, values)


def _attribute_condition(
    text: str, tok: Token, name: str, op: str, values: list[Any]
) -> ColumnElement[bool]:
    column = _ATTRIBUTES.get(name.lower())
    if column is None:
        raise _error(text, tok.pos, f"an attribute among {sorted(_ATTRIBUTES)}", repr(name))
    if name.lower() in ("start_time", "end_time"):
        values = [_parse_time(text, tok, v) for v in values]
    elif name.lower() == "status":
        values = [str(v).upper() for v in values]
    else:
        values = [str(v) for v in values]
    return _compare(column, op, values)


def _parse_time(text: str, tok: Token, value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        expected = "an ISO-8601 time such as '2026-01-31T12:00'"
        raise _error(text, tok.pos, expected, repr(value)) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_filter(text: str) -> ColumnElement[bool] | None:
    """The SQL condition for a filter string (None for an empty filter)."""
    if not isinstance(text, str):
        raise InvalidInput(f"filter must be a string, got {type(text).__name__}.", field="filter")
    return _Parser(text).parse() if text.strip() else None


def _order_clause(item: str) -> list[Any]:
    parts = item.strip().split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise InvalidInput(
            f"order_by item {item!r} must look like 'metrics.auc desc' or 'attributes.start_time'.",
            field="order_by",
        )
    if "." not in parts[0]:
        raise InvalidInput(
            f"order_by field {parts[0]!r} needs a prefix such as metrics.", field="order_by"
        )
    descending = len(parts) == 2 and parts[1].lower() == "desc"
    entity, name = _split_field(parts[0])
    return [entity.rstrip("s"), name, descending]


def search_runs(
    experiment: str | Sequence[str] | None = None,
    *,
    filter: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
    workspace: Workspace | None = None,
) -> list[RunRecord]:
    """Runs of the given experiment(s) (all when None) matching ``filter``, in order.

    ``sy.search_runs("churn", filter="metrics.auc > 0.9 and params.model = 'lr'",
    order_by=["metrics.auc desc"], max_results=10)``
    """
    workspace = workspace or current()
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidInput("max_results must be an integer.", field="max_results")
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise InvalidInput(
            f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}.",
            field="max_results",
        )
    query = base_query()
    if experiment is not None:
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        ids = resolve_ids(workspace, names)
        query = query.where(RunRow.experiment_id.in_(list(ids.values())) if ids else false())
    condition = parse_filter(filter)
    if condition is not None:
        query = query.where(condition)
    query = _apply_order(query, order_by or ["attributes.start_time desc"])
    with workspace.store.read() as session:
        rows = session.execute(query.limit(max_results)).all()
    return load_records(workspace, rows)


def _apply_order(query: Any, order_by: Sequence[str]) -> Any:
    from sqlalchemy.orm import aliased

    if isinstance(order_by, str):
        order_by = [order_by]
    for index, item in enumerate(order_by):
        entity, name, descending = _order_clause(item)
        if entity == "metric":
            alias = aliased(LatestMetric, name=f"order_metric_{index}")
            query = query.outerjoin(alias, and_(alias.run_id == RunRow.id, alias.key == name))
            column: Any = alias.value
        elif entity in ("param", "tag"):
            table: Any = aliased(Param if entity == "param" else Tag, name=f"order_kv_{index}")
            query = query.outerjoin(table, and_(table.run_id == RunRow.id, table.key == name))
            column = table.value
        elif entity in ("attribute", "attr") and name.lower() in _ATTRIBUTES:
            column = _ATTRIBUTES[name.lower()]
        else:
            raise InvalidInput(
                f"Cannot order by {item!r}: use metrics.X, params.X, tags.X or one of "
                f"attributes.{{{', '.join(sorted(_ATTRIBUTES))}}}.",
                field="order_by",
            )
        ordered = column.desc() if descending else column.asc()
        query = query.order_by(ordered.nulls_last())
    return query.order_by(RunRow.start_time.desc(), RunRow.id)
