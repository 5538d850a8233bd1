"""Proxy auto-config (PAC): FindProxyForURL evaluated by a small, safe JavaScript-subset interpreter.

Supported: function declarations, var/let/const, if/else, return, blocks, expressions with the usual operators
(including === and ternaries), string and array literals, string methods (toLowerCase, indexOf, substring, ...),
and the PAC helpers (isPlainHostName, dnsDomainIs, localHostOrDomainIs, isResolvable, isInNet, dnsResolve,
myIpAddress, dnsDomainLevels, shExpMatch, weekdayRange, dateRange, timeRange). Anything else (loops, objects,
regexes, eval) is refused with a one-line error naming the line. Evaluation is bounded in steps, depth and
string size; scripts see no Python object. Name lookups go through a resolver the caller provides.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import ipaddress
import math
import re
from collections.abc import Callable
from typing import Any

MAX_SOURCE = 1024 * 1024
MAX_STEPS = 200_000
MAX_DEPTH = 64
MAX_STRING = 1024 * 1024


class PacError(ValueError):
    """A one-line reason a PAC script cannot be used."""


# --- tokens --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)|(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<number>\d+(?:\.\d+)?)|
    (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)|
    (?P<op>===|!==|==|!=|<=|>=|&&|\|\||\+=|[-+*/%<>!=(){}\[\],;.?:])""",
    re.VERBOSE | re.DOTALL,
)
_KEYWORDS = {"function", "var", "let", "const", "if", "else", "return", "true", "false", "null", "undefined",
             "typeof"}  # fmt: skip
_UNSUPPORTED = {"for", "while", "do", "switch", "new", "this", "class", "try", "throw", "eval", "with", "delete",
                "import", "export", "yield", "await", "async"}  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str
    value: str
    line: int


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_SOURCE:
        raise PacError(f"PAC script too large ({len(source)} characters)")
    tokens: list[Token] = []
    position, line = 0, 1
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise PacError(f"line {line}: unexpected character {source[position]!r}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "name" and text in _UNSUPPORTED:
            raise PacError(f"line {line}: '{text}' is not supported in PAC scripts here")
        if kind not in ("ws", "comment"):
            if kind == "name" and text in _KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, text, line))
        line += text.count("\n")
        position = match.end()
    tokens.append(Token("end", "", line))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


# --- parser (to nested tuples) ---------------------------------------------------------------------------------

_BINARY = [("||",), ("&&",), ("==", "!=", "===", "!=="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, value: str | None = None) -> bool:
        token = self.tokens[self.index]
        return token.value == value if value is not None else False

    def next(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, value: str) -> Token:
        token = self.next()
        if token.value != value:
            raise PacError(f"line {token.line}: expected {value!r}, found {token.value or 'end of script'!r}")
        return token

    def program(self) -> list[Any]:
        statements = []
        while self.tokens[self.index].kind != "end":
            statements.append(self.statement())
        return statements

    def block(self) -> list[Any]:
        self.expect("{")
        statements = []
        while not self.peek("}"):
            if self.tokens[self.index].kind == "end":
                raise PacError(f"line {self.tokens[self.index].line}: missing '}}'")
            statements.append(self.statement())
        self.expect("}")
        return statements

    def statement(self) -> Any:
        token = self.tokens[self.index]
        if token.value == "function":
            self.next()
            name = self.next()
            if name.kind != "name":
                raise PacError(f"line {name.line}: a function needs a name")
            params = self.params()
            return ("function", name.value, params, self.block(), token.line)
        if token.value in ("var", "let", "const"):
            self.next()
            declarations = []
            while True:
                name = self.next()
                if name.kind != "name":
                    raise PacError(f"line {name.line}: expected a variable name")
                value = self.expression() if self.peek("=") and self.next() else ("literal", None)
                declarations.append((name.value, value))
                if not self.peek(","):
                    break
                self.next()
            self.semicolon()
            return ("var", declarations, token.line)
        if token.value == "if":
            self.next()
            self.expect("(")
            condition = self.expression()
            self.expect(")")
            then = self.body()
            otherwise = None
            if self.peek("else"):
                self.next()
                otherwise = self.body()
            return ("if", condition, then, otherwise, token.line)
        if token.value == "return":
            self.next()
            value = ("literal", None) if self.peek(";") or self.peek("}") else self.expression()
            self.semicolon()
            return ("return", value, token.line)
        if token.value == "{":
            return ("block", self.block(), token.line)
        if token.value == ";":
            self.next()
            return ("block", [], token.line)
        expression = self.expression()
        self.semicolon()
        return ("expr", expression, token.line)

    def body(self) -> list[Any]:
        return self.block() if self.peek("{") else [self.statement()]

    def semicolon(self) -> None:
        if self.peek(";"):
            self.next()

    def params(self) -> list[str]:
        self.expect("(")
        names: list[str] = []
        while not self.peek(")"):
            token = self.next()
            if token.kind != "name":
                raise PacError(f"line {token.line}: bad parameter {token.value!r}")
            names.append(token.value)
            if self.peek(","):
                self.next()
        self.expect(")")
        return names

    def expression(self) -> Any:
        target = self.ternary()
        if self.peek("=") or self.peek("+="):
            op = self.next()
            if target[0] != "name":
                raise PacError(f"line {op.line}: can only assign to a variable")
            value = self.expression()
            return ("assign", target[1], op.value, value)
        return target

    def ternary(self) -> Any:
        condition = self.binary(0)
        if self.peek("?"):
            self.next()
            then = self.expression()
            self.expect(":")
            return ("ternary", condition, then, self.expression())
        return condition

    def binary(self, level: int) -> Any:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.tokens[self.index].value in _BINARY[level] and self.tokens[self.index].kind == "op":
            op = self.next().value
            left = ("binary", op, left, self.binary(level + 1))
        return left

    def unary(self) -> Any:
        if self.peek("!") or self.peek("-"):
            op = self.next().value
            return ("unary", op, self.unary())
        if self.peek("typeof"):
            self.next()
            return ("typeof", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Any) -> Any:
        while True:
            if self.peek("("):
                self.next()
                args = []
                while not self.peek(")"):
                    args.append(self.expression())
                    if self.peek(","):
                        self.next()
                self.expect(")")
                node = ("call", node, args)
            elif self.peek("."):
                self.next()
                name = self.next()
                if name.kind not in ("name", "keyword"):
                    raise PacError(f"line {name.line}: expected a property name")
                node = ("member", node, ("literal", name.value))
            elif self.peek("["):
                self.next()
                index = self.expression()
                self.expect("]")
                node = ("member", node, index)
            else:
                return node

    def primary(self) -> Any:
        token = self.next()
        if token.kind == "number":
            return ("literal", float(token.value))
        if token.kind == "string":
            return ("literal", _unquote(token.value))
        if token.kind == "keyword" and token.value in ("true", "false"):
            return ("literal", token.value == "true")
        if token.kind == "keyword" and token.value in ("null", "undefined"):
            return ("literal", None)
        if token.kind == "name":
            return ("name", token.value)
        if token.value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.value == "[":
            items = []
            while not self.peek("]"):
                items.append(self.expression())
                if self.peek(","):
                    self.next()
            self.expect("]")
            return ("array", items)
        raise PacError(f"line {token.line}: unexpected {token.value or 'end of script'!r}")


# --- evaluation -------------------------------------------------------------------------------------------------

Resolver = Callable[[str], str | None]


class _Return(Exception):  # control flow for 'return', not an error
    def __init__(self, value: Any) -> None:
        self.value = value


@dataclasses.dataclass
class _Function:
    name: str
    params: list[str]
    body: list[Any]


class PacScript:
    def __init__(self, source: str, origin: str = "PAC") -> None:
        self.origin = origin
        try:
            self.program = _Parser(tokenize(source)).program()
        except PacError as exc:
            raise PacError(f"{origin}: {exc}") from None
        except RecursionError:
            raise PacError(f"{origin}: script nested too deeply") from None
        self.functions = {s[1]: _Function(s[1], s[2], s[3]) for s in self.program if s[0] == "function"}
        if "FindProxyForURL" not in self.functions:
            raise PacError(f"{origin}: no function FindProxyForURL(url, host)")

    def find_proxy(self, url: str, host: str, *, resolver: Resolver, my_ip: str = "127.0.0.1",
                   now: dt.datetime | None = None) -> str:  # fmt: skip
        run = _Run(self.functions, resolver, my_ip, now or dt.datetime.now())
        try:
            scope: dict[str, Any] = {}
            for statement in self.program:
                if statement[0] != "function":
                    run.statement(statement, scope, 0)
            result = run.call(self.functions["FindProxyForURL"], [url, host], 0)
        except PacError as exc:
            raise PacError(f"{self.origin}: {exc}") from None
        except _Return:
            raise PacError(f"{self.origin}: 'return' outside a function") from None
        except RecursionError:
            raise PacError(f"{self.origin}: recursion too deep") from None
        if not isinstance(result, str):
            raise PacError(f"{self.origin}: FindProxyForURL returned {_js_type(result)}, not a string")
        return result


class _Run:
    def __init__(self, functions: dict[str, _Function], resolver: Resolver, my_ip: str, now: dt.datetime) -> None:
        self.functions = functions
        self.resolver = resolver
        self.my_ip = my_ip
        self.now = now
        self.steps = 0
        self.builtins: dict[str, Callable[..., Any]] = {
            "isPlainHostName": lambda h="": "." not in _s(h),
            "dnsDomainIs": lambda h="", d="": _s(h).lower().endswith(_s(d).lower()),
            "localHostOrDomainIs": lambda h="", hd="": (
                _s(h).lower() == _s(hd).lower() or ("." not in _s(h) and _s(hd).lower().startswith(_s(h).lower() + "."))
            ),
            "isResolvable": lambda h="": self.resolve(_s(h)) is not None,
            "dnsResolve": lambda h="": self.resolve(_s(h)),
            "myIpAddress": lambda: self.my_ip,
            "dnsDomainLevels": lambda h="": float(_s(h).count(".")),
            "shExpMatch": lambda s="", p="": fnmatch.fnmatchcase(_s(s), _s(p)),
            "isInNet": self.is_in_net,
            "convert_addr": lambda ip="": float(int(ipaddress.IPv4Address(_s(ip)))) if _is_ipv4(_s(ip)) else 0.0,
            "weekdayRange": self.weekday_range,
            "dateRange": lambda *a: False,  # rarely used for routing; never matching is the conservative choice
            "timeRange": self.time_range,
            "alert": lambda *a: None,
        }

    def resolve(self, host: str) -> str | None:
        if _is_ipv4(host):
            return host
        return self.resolver(host)

    def is_in_net(self, host: Any = "", pattern: Any = "", mask: Any = "") -> bool:
        address = self.resolve(_s(host))
        if address is None or not _is_ipv4(address) or not _is_ipv4(_s(pattern)) or not _is_ipv4(_s(mask)):
            return False
        m = int(ipaddress.IPv4Address(_s(mask)))
        return int(ipaddress.IPv4Address(address)) & m == int(ipaddress.IPv4Address(_s(pattern))) & m

    def weekday_range(self, *args: Any) -> bool:
        days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        names = [_s(a).upper() for a in args if _s(a).upper() in days]
        today = (self.now.weekday() + 1) % 7
        if len(names) == 1:
            return today == days.index(names[0])
        if len(names) >= 2:
            start, end = days.index(names[0]), days.index(names[1])
            return start <= today <= end if start <= end else today >= start or today <= end
        return False

    def time_range(self, *args: Any) -> bool:
        hours = [int(a) for a in args if isinstance(a, float)]
        if len(hours) == 1:
            return self.now.hour == hours[0]
        if len(hours) >= 2:
            return (
                hours[0] <= self.now.hour < hours[1]
                if hours[0] <= hours[1]
                else not hours[1] <= self.now.hour < hours[0]
            )
        return False

    def tick(self, depth: int) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise PacError(f"evaluation exceeded {MAX_STEPS} steps")
        if depth > MAX_DEPTH:
            raise PacError(f"calls nested more than {MAX_DEPTH} deep")

    def call(self, function: _Function, args: list[Any], depth: int) -> Any:
        scope = {name: args[i] if i < len(args) else None for i, name in enumerate(function.params)}
        try:
            for statement in function.body:
                self.statement(statement, scope, depth + 1)
        except _Return as done:
            return done.value
        return None

    def statement(self, node: Any, scope: dict[str, Any], depth: int) -> None:
        self.tick(depth)
        kind = node[0]
        if kind == "var":
            for name, value in node[1]:
                scope[name] = self.eval(value, scope, depth)
        elif kind == "if":
            branch = node[2] if _truthy(self.eval(node[1], scope, depth)) else node[3]
            for statement in branch or []:
                self.statement(statement, scope, depth)
        elif kind == "return":
            raise _Return(self.eval(node[1], scope, depth))
        elif kind == "block":
            for statement in node[1]:
                self.statement(statement, scope, depth)
        elif kind == "expr":
            self.eval(node[1], scope, depth)
        elif kind == "function":
            scope[node[1]] = _Function(node[1], node[2], node[3])

    def eval(self, node: Any, scope: dict[str, Any], depth: int) -> Any:
        self.tick(depth)
        kind = node[0]
        if kind == "literal":
            return node[1]
        if kind == "name":
            name = node[1]
            if name in scope:
                return scope[name]
            if name in self.functions:
                return self.functions[name]
            if name in self.builtins:
                return self.builtins[name]
            raise PacError(f"'{name}' is not defined")
        if kind == "array":
            return [self.eval(item, scope, depth) for item in node[1]]
        if kind == "assign":
            value = self.eval(node[3], scope, depth)
            if node[2] == "+=":
                value = _add(scope.get(node[1]), value)
            scope[node[1]] = value
            return value
        if kind == "ternary":
            return self.eval(node[2] if _truthy(self.eval(node[1], scope, depth)) else node[3], scope, depth)
        if kind == "unary":
            value = self.eval(node[2], scope, depth)
            return (not _truthy(value)) if node[1] == "!" else -_number(value)
        if kind == "typeof":
            return _js_type(self.eval(node[1], scope, depth))
        if kind == "binary":
            op = node[1]
            if op == "&&":
                left = self.eval(node[2], scope, depth)
                return self.eval(node[3], scope, depth) if _truthy(left) else left
            if op == "||":
                left = self.eval(node[2], scope, depth)
                return left if _truthy(left) else self.eval(node[3], scope, depth)
            return _binary(op, self.eval(node[2], scope, depth), self.eval(node[3], scope, depth))
        if kind == "member":
            return _member(self.eval(node[1], scope, depth), self.eval(node[2], scope, depth))
        if kind == "call":
            callee = node[1]
            args = [self.eval(a, scope, depth) for a in node[2]]
            if callee[0] == "member":
                target = self.eval(callee[1], scope, depth)
                method = self.eval(callee[2], scope, depth)
                return _method(target, _s(method), args)
            function = self.eval(callee, scope, depth)
            if isinstance(function, _Function):
                return self.call(function, args, depth)
            if callable(function):
                return function(*args)
            raise PacError(f"{_js_type(function)} is not a function")
        raise PacError(f"unsupported expression {kind}")


def _s(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, list):
        return ",".join(_s(v) for v in value)
    return str(value) if isinstance(value, str) else "[function]"


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    try:
        return float(_s(value))
    except ValueError:
        return float("nan")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, list | _Function) or callable(value):
        return True
    return bool(value)


def _js_type(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _Function) or callable(value):
        return "function"
    return "object"


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str) or isinstance(right, str):
        result = _s(left) + _s(right)
        if len(result) > MAX_STRING:
            raise PacError(f"a string grew past {MAX_STRING} characters")
        return result
    return _number(left) + _number(right)


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        return _add(left, right)
    if op in ("-", "*", "/", "%"):
        a, b = _number(left), _number(right)
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            return float("nan")
        return a / b if op == "/" else a % b
    if op in ("===", "!=="):
        same = type(left) is type(right) and left == right
        return same if op == "===" else not same
    if op in ("==", "!="):
        if (isinstance(left, str) and isinstance(right, str)) or left is None or right is None:
            same = left == right
        else:
            same = _number(left) == _number(right)
        return same if op == "==" else not same
    if isinstance(left, str) and isinstance(right, str):
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    a, b = _number(left), _number(right)
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _member(target: Any, key: Any) -> Any:
    if isinstance(target, str | list):
        if key == "length":
            return float(len(target))
        if isinstance(key, float) and key.is_integer() and 0 <= key < len(target):
            return target[int(key)]
    return None


def _method(target: Any, name: str, args: list[Any]) -> Any:
    if isinstance(target, str):
        text = target
        arg = [_s(a) if not isinstance(a, float) else a for a in args]
        if name == "toLowerCase":
            return text.lower()
        if name == "toUpperCase":
            return text.upper()
        if name in ("indexOf", "lastIndexOf"):
            needle = _s(args[0]) if args else "undefined"
            return float(text.find(needle) if name == "indexOf" else text.rfind(needle))
        if name == "substring":
            start = max(0, min(len(text), int(_number(arg[0])) if arg else 0))
            end = max(0, min(len(text), int(_number(arg[1])))) if len(arg) > 1 else len(text)
            return text[min(start, end) : max(start, end)]
        if name == "substr":
            start = int(_number(arg[0])) if arg else 0
            start = max(0, len(text) + start) if start < 0 else start
            length = int(_number(arg[1])) if len(arg) > 1 else len(text)
            return text[start : start + max(0, length)]
        if name == "charAt":
            index = int(_number(arg[0])) if arg else 0
            return text[index] if 0 <= index < len(text) else ""
        if name == "split":
            separator = _s(args[0]) if args else None
            return list(text.split(separator)) if separator else [text]
        if name in ("startsWith", "endsWith"):
            needle = _s(args[0]) if args else "undefined"
            return text.startswith(needle) if name == "startsWith" else text.endswith(needle)
        if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
            return text.replace(args[0], _s(args[1]), 1)
        if name == "trim":
            return text.strip()
    if isinstance(target, list) and name == "indexOf":
        return float(target.index(args[0])) if args and args[0] in target else -1.0
    if isinstance(target, list) and name == "join":
        return (_s(args[0]) if args else ",").join(_s(v) for v in target)
    raise PacError(f"{_js_type(target)}.{name}() is not supported")


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class PacDecision:
    kind: str  # PROXY | DIRECT | SOCKS | other
    server: str | None
    raw: str


def parse_result(text: str) -> list[PacDecision]:
    """'PROXY a:1; PROXY b:2; DIRECT' → decisions in order (clients try them in turn)."""
    decisions = []
    for part in text.split(";"):
        words = part.strip().split()
        if not words:
            continue
        kind = words[0].upper()
        decisions.append(PacDecision(kind, words[1] if len(words) > 1 else None, part.strip()))
    return decisions
