"""A light SQL scanner: what a statement is, which tables it touches, which columns it filters on.

Query-cache invalidation needs the tables every statement reads or writes (raw SQL
included, quoted or not), and the profiler's index advice needs the columns of the
WHERE/ON/ORDER BY clauses. This is not a parser: it tokenizes (so string literals and
comments never count), tracks parenthesis depth, and reads table names after FROM,
JOIN, INTO, UPDATE and TABLE, plus comma-separated FROM lists. It errs on the side of
naming too many tables, never too few, for the statements the ORM and its users write.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Optional

_TOKEN = re.compile(r"""
    (?P<skip>\s+|--[^\n]*|/\*.*?(?:\*/|$))
  | (?P<str>'(?:[^']|'')*'?)
  | (?P<qid>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)
  | (?P<word>[A-Za-z_][\w$]*)
  | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  | (?P<param>\?\d*|[:@$][A-Za-z_]\w*|%\(\w+\)s|%s)
  | (?P<op>.)
""", re.S | re.X)

# Statement kinds.
READ, WRITE, BEGIN, END, SCHEMA_SWITCH, OTHER = "read", "write", "begin", "end", "switch", "other"

_WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT", "MERGE", "DROP",
                          "ALTER", "TRUNCATE", "CREATE", "COPY"})
_READ_VERBS = frozenset({"SELECT", "VALUES", "EXPLAIN", "TABLE", "SHOW", "PRAGMA"})

# Words after which a FROM list ends (at the same parenthesis depth).
_FROM_ENDS = frozenset({"WHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "UNION", "INTERSECT",
                        "EXCEPT", "WINDOW", "RETURNING", "SET", "VALUES", "SELECT", "OFFSET",
                        "FETCH", "FOR", "DEFAULT"})
# Words that are never table names or aliases right after a table position.
_NOT_NAMES = frozenset({"SELECT", "LATERAL", "ONLY", "IF", "NOT", "EXISTS", "OR", "ROLLBACK",
                        "ABORT", "REPLACE", "FAIL", "IGNORE", "WHERE", "GROUP", "ORDER", "LIMIT",
                        "HAVING", "UNION", "INTERSECT", "EXCEPT", "WINDOW", "RETURNING", "SET",
                        "VALUES", "DEFAULT", "ON", "USING", "JOIN", "INNER", "LEFT", "RIGHT",
                        "FULL", "CROSS", "NATURAL", "OUTER", "AS", "INDEXED", "FROM", "OFFSET",
                        "FETCH", "FOR", "TABLE", "INTO", "WITH"})
# Keywords inside expressions: never column names.
_EXPR_WORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "GLOB", "REGEXP", "MATCH",
                         "BETWEEN", "ESCAPE", "CASE", "WHEN", "THEN", "ELSE", "END", "ASC", "DESC",
                         "COLLATE", "NOCASE", "RTRIM", "BINARY", "EXISTS", "TRUE", "FALSE", "CAST",
                         "AS", "DISTINCT", "NULLS", "FIRST", "LAST", "ALL", "ANY", "SOME", "SELECT",
                         "FROM", "WHERE", "ON", "USING", "BY", "GROUP", "ORDER", "LIMIT", "OFFSET",
                         "HAVING", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "OUTER",
                         "NATURAL", "UNION", "INTERSECT", "EXCEPT", "WINDOW", "RETURNING",
                         "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "ISNULL", "NOTNULL",
                         "FILTER", "OVER", "PARTITION", "ROWS", "RANGE", "INTEGER", "TEXT", "REAL",
                         "ILIKE", "SIMILAR", "TO", "ESCAPE", "INTERVAL"})
# Clause keywords whose expressions name the columns an index could serve.
_COLUMN_CLAUSES = {"WHERE": "filter", "ON": "filter", "ORDER": "order", "GROUP": "order"}
_CLAUSE_ENDS = frozenset({"WHERE", "ON", "ORDER", "GROUP", "LIMIT", "HAVING", "UNION", "INTERSECT",
                          "EXCEPT", "WINDOW", "RETURNING", "JOIN", "FROM", "SELECT", "OFFSET",
                          "SET", "USING", "VALUES"}) | _COLUMN_CLAUSES.keys()


class Token(NamedTuple):
    kind: str   # "word", "name" (quoted identifier), "op", "str", "num", "param"
    text: str   # upper-cased for words; the unquoted identifier for names
    raw: str = ""  # a word as written


def _is(token: Token, kind: str, text: str) -> bool:
    return token.kind == kind and token.text == text


def tokenize(sql: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind == "skip":
            continue
        if kind == "word":
            tokens.append(Token("word", text.upper(), text))
        elif kind == "qid":
            tokens.append(Token("name", _unquote(text), _unquote(text)))
        else:
            tokens.append(Token(kind, text, text))  # type: ignore[arg-type]
    return tokens


def _unquote(text: str) -> str:
    if text[0] == "[":
        return text[1:-1] if text.endswith("]") else text[1:]
    quote = text[0]
    inner = text[1:-1] if len(text) > 1 and text.endswith(quote) else text[1:]
    return inner.replace(quote * 2, quote)


class Statement(NamedTuple):
    kind: str                 # READ / WRITE / BEGIN / END / SCHEMA_SWITCH / OTHER
    verb: str                 # the statement's main keyword: SELECT, INSERT, COMMIT...
    tables: frozenset         # every table named (lower-case, schema dropped)
    written: frozenset        # tables a write changes (targets and everything it names)
    aliases: dict             # alias or table (lower) -> table (lower)
    spelling: dict            # table (lower) -> as written in the SQL


_memo: dict[str, Statement] = {}
_MEMO_LIMIT = 4096


def scan(sql: str) -> Statement:
    """Classify a statement; memoized, since the ORM repeats the same SQL text."""
    found = _memo.get(sql)
    if found is None:
        found = _scan(tokenize(sql))
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[sql] = found
    return found


def _main_verb(tokens: list[Token]) -> str:
    first = next((t.text for t in tokens if t.kind == "word"), "")
    if first != "WITH":
        return first
    depth = 0
    for token in tokens[1:]:
        if token.kind == "op":
            depth += token.text == "("
            depth -= token.text == ")"
        elif depth == 0 and token.kind == "word" and (token.text in _WRITE_VERBS
                                                      or token.text in ("SELECT", "VALUES")):
            return token.text
    return "SELECT"


def _kind(verb: str, tokens: list[Token]) -> str:
    if verb in _READ_VERBS:
        return READ
    if verb in _WRITE_VERBS:
        return WRITE
    if verb in ("BEGIN", "START"):
        return BEGIN
    if verb in ("COMMIT", "END"):
        return END
    if verb == "ROLLBACK":
        words = [t.text for t in tokens if t.kind == "word"]
        return OTHER if "TO" in words else END
    if verb in ("ATTACH", "DETACH"):
        return SCHEMA_SWITCH
    return OTHER


def _name_at(tokens: list[Token], i: int, spelling: dict) -> tuple[Optional[str], int]:
    """A possibly schema-qualified table name starting at ``i``: (last part, next index)."""
    n = len(tokens)
    while i < n and tokens[i].kind == "word" and tokens[i].text in ("ONLY", "LATERAL"):
        i += 1
    if i >= n or not _is_name(tokens[i]):
        return None, i
    name = tokens[i].raw
    i += 1
    while i + 1 < n and _is(tokens[i], "op", ".") and _is_name(tokens[i + 1]):
        name = tokens[i + 1].raw
        i += 2
    spelling.setdefault(name.lower(), name)
    return name.lower(), i


def _is_name(token: Token) -> bool:
    return token.kind == "name" or (token.kind == "word" and token.text not in _NOT_NAMES)


def _scan(tokens: list[Token]) -> Statement:
    verb = _main_verb(tokens)
    kind = _kind(verb, tokens)
    tables: set[str] = set()
    aliases: dict[str, str] = {}
    spelling: dict[str, str] = {}
    targets: set[str] = set()
    in_from = [False]          # per parenthesis depth: inside a FROM list?
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        if token.kind == "op":
            if token.text == "(":
                in_from.append(False)
            elif token.text == ")" and len(in_from) > 1:
                in_from.pop()
            elif token.text == "," and in_from[-1]:
                i = _take_table(tokens, i + 1, tables, aliases, spelling)
                continue
            i += 1
            continue
        if token.kind != "word":
            i += 1
            continue
        word = token.text
        if word in ("FROM", "JOIN"):
            in_from[-1] = True
            i = _take_table(tokens, i + 1, tables, aliases, spelling)
            continue
        if word in _FROM_ENDS:
            in_from[-1] = False
        if kind == WRITE and word in ("INTO", "UPDATE", "TABLE", "TRUNCATE", "VIEW", "TRIGGER"):
            j = i + 1
            while j < n and tokens[j].kind == "word" and tokens[j].text in (
                    "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL", "IGNORE", "IF", "NOT", "EXISTS",
                    "TABLE", "ONLY"):
                j += 1
            name, after = _name_at(tokens, j, spelling)
            if name is not None:
                targets.add(name)
                tables.add(name)
                aliases.setdefault(name, name)
                i = after
                continue
        i += 1
    written = frozenset(tables) if kind == WRITE else frozenset()
    return Statement(kind, verb, frozenset(tables), written, aliases, spelling)


def _take_table(tokens: list[Token], i: int, tables: set, aliases: dict, spelling: dict) -> int:
    name, i = _name_at(tokens, i, spelling)
    if name is None:
        return i
    if i < len(tokens) and _is(tokens[i], "op", "("):
        return i  # a table-valued function, not a table
    tables.add(name)
    aliases.setdefault(name, name)
    if i < len(tokens) and _is(tokens[i], "word", "AS"):
        i += 1
    if i < len(tokens) and _is_name(tokens[i]):
        aliases[tokens[i].text.lower()] = name
        i += 1
    return i


def filter_columns(sql: str) -> list[tuple[str, Optional[str], str]]:
    """Columns named in WHERE/ON (``'filter'``) and ORDER BY/GROUP BY (``'order'``) clauses.

    Returns ``(role, qualifier or None, column)`` in order of appearance; qualifiers
    lower-cased, columns as written.
    """
    tokens = tokenize(sql)
    out: list[tuple[str, Optional[str], str]] = []
    seen = set()
    role: list[Optional[str]] = [None]   # per parenthesis depth
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        if token.kind == "op":
            if token.text == "(":
                role.append(role[-1])
            elif token.text == ")" and len(role) > 1:
                role.pop()
            i += 1
            continue
        if token.kind == "word" and token.text in _CLAUSE_ENDS:
            role[-1] = _COLUMN_CLAUSES.get(token.text)
            i += 1
            continue
        current = role[-1]
        if current is None or not (token.kind == "name" or (
                token.kind == "word" and token.text not in _EXPR_WORDS)):
            i += 1
            continue
        parts = [token.raw]
        j = i + 1
        while j + 1 < n and _is(tokens[j], "op", ".") and (
                tokens[j + 1].kind == "name" or tokens[j + 1].kind == "word"):
            parts.append(tokens[j + 1].raw)
            j += 2
        if j < n and _is(tokens[j], "op", "("):
            i = j  # a function call
            continue
        qualifier = parts[-2].lower() if len(parts) > 1 else None
        key = (current, qualifier, parts[-1].lower())
        if key not in seen:
            seen.add(key)
            out.append((current, qualifier, parts[-1]))
        i = j
    return out
