"""Static checks for the PowerShell scripts the app ships (no PowerShell needed).

PowerShell cannot run on the build machine, so the guest scripts are held to rules a small lexer can
verify: a version marker on the first line, strict mode, no dynamic code (nothing that turns a string
into a command), no script parameter inside an expandable string, validated parameters, and one
compressed JSON object as the last output. `check_script()` returns the problems it finds; an empty
list means the script passes. It is deliberately conservative: a false alarm costs a rewrite, a miss
could let a tag value become code on a cluster node (DESIGN.md rule 11).

The lexer understands comments (`#`, `<# #>`), single-quoted and expandable strings (with the
typographic quotes PowerShell also accepts), here-strings, backtick escapes and `$( )` subexpressions
inside expandable strings, whose code is checked like any other code.

A script that waits (the runbook polls the app) must wait a bounded time: `loops()` and `functions()` give the
tests each loop's condition and body and each function's body, and the `unbounded-loop` rule refuses a loop whose
condition is constant (`while ($true)`, `for (;;)`, `do { } until ($false)`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

MARKER = re.compile(r"# asr-s2d:[a-z0-9-]+ v[0-9]+")

_DOUBLE_QUOTES = "\"\u201c\u201d\u201e"
_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_COMMENT_STARTS_AFTER = " \t\r\n;|(){}"

_CODE, _STRING, _COMMENT = "C", "S", "M"

_WORD = r"(?<![\w$:-]){}(?![\w-])"

# label -> pattern, matched case-insensitively against code only (strings and comments blanked).
FORBIDDEN: dict[str, str] = {
    "Invoke-Expression": _WORD.format("Invoke-Expression"),
    "iex": _WORD.format("iex"),
    "[scriptblock]::Create": r"ScriptBlock\s*\]\s*::\s*Create",
    "Add-Type": _WORD.format("Add-Type"),
    "& $": r"(?<![&\w])&\s*[$(]",
    ". $": r"(?:^|(?<=[\s;|({]))\.\s+[$(]",
    "Start-Process": _WORD.format("Start-Process"),
    "saps": _WORD.format("saps"),
    "System.Diagnostics.Process": r"Diagnostics\.Process\b",
    "DownloadString": r"\bDownloadString\b",
    "DownloadFile": r"\bDownloadFile\b",
    "Net.WebClient": r"\bNet\.WebClient\b",
    "Invoke-WebRequest": _WORD.format("Invoke-WebRequest"),
    "iwr": _WORD.format("iwr"),
    "curl": _WORD.format("curl"),
    "wget": _WORD.format("wget"),
    "Invoke-RestMethod": _WORD.format("Invoke-RestMethod"),
    "irm": _WORD.format("irm"),
    "Invoke-Command": _WORD.format("Invoke-Command"),
    "icm": _WORD.format("icm"),
    "$ExecutionContext": r"\$ExecutionContext\b",
    "AddScript": r"\bAddScript\b",
    "cmd.exe": _WORD.format(r"cmd(?:\.exe)?"),
    "powershell.exe": _WORD.format(r"(?:powershell|pwsh)(?:\.exe)?"),
}

# Variables that carry bound parameter values without naming them.
_PARAMETER_CARRIERS = ("PSBoundParameters", "args", "input", "MyInvocation")


@dataclass
class _Lexed:
    text: str
    mask: list[str]
    expandable: list[tuple[int, int]] = field(default_factory=list)  # outermost "..." / @"..."@ spans

    def code_view(self) -> str:
        """The text with string contents and comments blanked (newlines kept, so lines still count)."""
        pairs = zip(self.text, self.mask, strict=True)
        return "".join(ch if kind == _CODE or ch == "\n" else " " for ch, kind in pairs)

    def line_of(self, index: int) -> int:
        return self.text.count("\n", 0, index) + 1


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.mask = [_CODE] * len(text)
        self.expandable: list[tuple[int, int]] = []
        self._string_depth = 0

    def run(self) -> _Lexed:
        self._code(0, until_paren=False)
        return _Lexed(self.text, self.mask, self.expandable)

    def _mark(self, start: int, end: int, kind: str) -> None:
        for i in range(start, min(end, len(self.text))):
            self.mask[i] = kind

    def _code(self, i: int, *, until_paren: bool) -> int:
        text, n, depth = self.text, len(self.text), 0
        while i < n:
            ch = text[i]
            if ch == "`":
                i += 2
            elif text.startswith("<#", i):
                end = text.find("#>", i + 2)
                end = n if end < 0 else end + 2
                self._mark(i, end, _COMMENT)
                i = end
            elif ch == "#" and (i == 0 or text[i - 1] in _COMMENT_STARTS_AFTER):
                end = text.find("\n", i)
                end = n if end < 0 else end
                self._mark(i, end, _COMMENT)
                i = end
            elif text.startswith("${", i):
                end = text.find("}", i)
                i = n if end < 0 else end + 1
            elif ch == "@" and i + 1 < n and text[i + 1] in _DOUBLE_QUOTES + _SINGLE_QUOTES and self._here_opens(i):
                i = self._here_string(i)
            elif ch in _SINGLE_QUOTES:
                i = self._single(i)
            elif ch in _DOUBLE_QUOTES:
                i = self._expandable(i, here=False)
            else:
                if until_paren and ch == "(":
                    depth += 1
                elif until_paren and ch == ")":
                    if depth == 0:
                        return i + 1
                    depth -= 1
                i += 1
        return n

    def _here_opens(self, i: int) -> bool:
        """`@"` / `@'` open a here-string only when nothing but spaces follows on the line."""
        line_end = self.text.find("\n", i)
        return self.text[i + 2 : len(self.text) if line_end < 0 else line_end].strip() == ""

    def _here_string(self, i: int) -> int:
        if self.text[i + 1] in _DOUBLE_QUOTES:
            return self._expandable(i, here=True)
        terminator = re.compile(r"\n[" + _SINGLE_QUOTES + "]@")
        found = terminator.search(self.text, i + 2)
        end = len(self.text) if found is None else found.end()
        self._mark(i, end, _STRING)
        return end

    def _single(self, i: int) -> int:
        text, n, j = self.text, len(self.text), i + 1
        while j < n:
            if text[j] in _SINGLE_QUOTES:
                if j + 1 < n and text[j + 1] in _SINGLE_QUOTES:
                    j += 2
                    continue
                j += 1
                break
            j += 1
        self._mark(i, j, _STRING)
        return j

    def _expandable(self, i: int, *, here: bool) -> int:
        text, n, start = self.text, len(self.text), i
        j = i + (2 if here else 1)
        self._string_depth += 1
        while j < n:
            ch = text[j]
            if ch == "`":
                self._mark(j, j + 2, _STRING)
                j += 2
            elif ch == "$" and text.startswith("$(", j):
                self._mark(j, j + 2, _STRING)
                j = self._code(j + 2, until_paren=True)
            elif here and ch == "\n" and text[j + 1 : j + 2] in set(_DOUBLE_QUOTES) and text[j + 2 : j + 3] == "@":
                self._mark(j, j + 3, _STRING)
                j += 3
                break
            elif not here and ch in _DOUBLE_QUOTES:
                if j + 1 < n and text[j + 1] in _DOUBLE_QUOTES:
                    self._mark(j, j + 2, _STRING)
                    j += 2
                    continue
                self._mark(j, j + 1, _STRING)
                j += 1
                break
            else:
                self._mark(j, j + 1, _STRING)
                j += 1
        self._mark(start, start + (2 if here else 1), _STRING)
        self._string_depth -= 1
        if self._string_depth == 0:
            self.expandable.append((start, j))
        return j


def _lex(text: str) -> _Lexed:
    return _Lexer(text).run()


def _param_block(lexed: _Lexed) -> str | None:
    """The text inside the script-level `param( ... )` block, or None when there is none."""
    code = lexed.code_view()
    depth = 0
    for match in re.finditer(r"[{}]|(?<![\w-])param\s*\(", code, flags=re.IGNORECASE):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            return lexed.text[match.end():_closing(code, match.end() - 1) - 1]
    return None


def _top_level(code: str) -> Iterator[tuple[int, str]]:
    """(index, character) of the code outside every (), [] and {} (the brackets themselves not included)."""
    nesting = 0
    for i, ch in enumerate(code):
        if ch in "([{":
            nesting += 1
        elif ch in ")]}":
            nesting -= 1
        elif nesting == 0:
            yield i, ch


def _split_top_level(block: str) -> list[str]:
    code = _lex(block).code_view()
    parts, last = [], 0
    for i, ch in _top_level(code):
        if ch == ",":
            parts.append(block[last:i])
            last = i + 1
    parts.append(block[last:])
    return [part for part in parts if part.strip()]


@dataclass(frozen=True)
class Parameter:
    name: str
    declaration: str

    @property
    def validated(self) -> bool:
        return re.search(r"\[\s*Validate\w+\s*\(", self.declaration, flags=re.IGNORECASE) is not None

    @property
    def typed(self) -> bool:
        pattern = r"\[\s*[A-Za-z][\w.]*(?:\[\])?\s*\]\s*\$" + re.escape(self.name) + r"\b"
        return re.search(pattern, self.declaration) is not None


def script_parameters(text: str) -> list[Parameter]:
    """The parameters of the script-level param() block, in declaration order."""
    block = _param_block(_lex(text))
    if block is None:
        return []
    found = []
    for declaration in _split_top_level(block):
        code = _lex(declaration).code_view()
        name = None
        for i, ch in _top_level(code):
            if ch == "$":
                match = re.match(r"\$([A-Za-z_]\w*)", code[i:])
                name = match.group(1) if match else None
                break
        if name:
            found.append(Parameter(name=name, declaration=declaration))
    return found


def _reference_pattern(names: Collection[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(
        r"\$\{?(?:(?:script|global|local|private|using):)?(?:" + alternatives + r")(?![\w])",
        flags=re.IGNORECASE,
    )


def _statement_rest(code: str, start: int) -> str:
    """Code from `start` to the end of its statement, following lines that end in a continuation."""
    end = start
    while True:
        line_end = code.find("\n", end)
        if line_end < 0:
            return code[start:]
        segment = code[end:line_end].rstrip()
        first, end = end == start, line_end + 1
        continues = (first and not segment.strip()) or re.search(r"(?:[`,|(+]|-f)$", segment, flags=re.IGNORECASE)
        if not continues:
            return code[start:line_end]


def _last_statement(code: str) -> str | None:
    for line in reversed(code.splitlines()):
        stripped = line.strip()
        if not stripped or re.fullmatch(r"[})\s]*", stripped) or re.match(r"exit\b", stripped, flags=re.IGNORECASE):
            continue
        return stripped
    return None


def _closing(code: str, start: int) -> int:
    """The index just after the bracket that closes the one at ``start`` (in the code view)."""
    nesting = 0
    for i in range(start, len(code)):
        if code[i] in "([{":
            nesting += 1
        elif code[i] in ")]}":
            nesting -= 1
            if nesting == 0:
                return i + 1
    return len(code)


@dataclass(frozen=True)
class Loop:
    keyword: str  # while, for, do-while, do-until
    condition: str  # the text inside the parentheses (for: all three parts)
    body: str  # the text inside the braces
    line: int


def loops(text: str) -> list[Loop]:
    """Every `while`, `for` and `do` loop of the script (not `foreach`, which ends with its collection), in order."""
    lexed = _lex(text)
    code = lexed.code_view()
    found: list[tuple[int, Loop]] = []
    taken: set[int] = set()  # the `while` / `until` that end a `do` loop
    for match in re.finditer(r"(?<![\w$-])do\s*\{", code, flags=re.IGNORECASE):
        body_end = _closing(code, match.end() - 1)
        tail = re.compile(r"\s*(while|until)\s*\(", flags=re.IGNORECASE).match(code, body_end)
        if tail is None:
            continue
        taken.add(tail.start(1))
        open_paren = tail.end() - 1
        found.append((match.start(), Loop(f"do-{tail.group(1).lower()}",
                                         text[open_paren + 1:_closing(code, open_paren) - 1],
                                         text[match.end():body_end - 1], lexed.line_of(match.start()))))
    for match in re.finditer(r"(?<![\w$-])(while|for)\s*\(", code, flags=re.IGNORECASE):
        if match.start(1) in taken:
            continue
        open_paren = match.end() - 1
        close_paren = _closing(code, open_paren)
        brace = code.find("{", close_paren)
        body = text[brace + 1:_closing(code, brace) - 1] if brace >= 0 else ""
        found.append((match.start(), Loop(match.group(1).lower(), text[open_paren + 1:close_paren - 1], body,
                                         lexed.line_of(match.start()))))
    return [loop for _, loop in sorted(found, key=lambda pair: pair[0])]


def functions(text: str) -> dict[str, str]:
    """Each `function Name { ... }` of the script: its body (param block included), by name."""
    lexed = _lex(text)
    code = lexed.code_view()
    found = {}
    for match in re.finditer(r"(?<![\w$-])function\s+([\w-]+)\s*\{", code, flags=re.IGNORECASE):
        found[match.group(1)] = text[match.end():_closing(code, match.end() - 1) - 1]
    return found


def _constant_true(loop: Loop) -> bool:
    condition = _lex(loop.condition).code_view().strip().strip("()").strip().casefold()
    if loop.keyword == "for":
        parts = condition.split(";")
        condition = parts[1].strip() if len(parts) == 3 else condition
        if not condition:
            return True
    if loop.keyword == "do-until":
        return condition in ("$false", "0", "$null")
    return condition in ("$true", "1")


def check_script(text: str, *, allow: Collection[str] = ()) -> list[str]:
    """Problems in one PowerShell script; `allow` names forbidden commands or rules to permit.

    Rules: marker, non-ascii, strict-mode, error-action, forbidden (one label per FORBIDDEN entry),
    interpolation (a parameter inside an expandable string or a bare word), format-operator,
    unvalidated-parameter, untyped-parameter, unbounded-loop, json-output.
    """
    allowed = {entry.casefold() for entry in allow}
    problems: list[str] = []

    def report(rule: str, detail: str, label: str | None = None) -> None:
        if rule.casefold() in allowed or (label is not None and label.casefold() in allowed):
            return
        problems.append(f"{rule}: {detail}")

    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not MARKER.fullmatch(first_line):
        report("marker", f"first line must be '# asr-s2d:<name> v<n>', found {first_line[:60]!r}")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.isascii():
            report("non-ascii", f"line {number}: Windows PowerShell 5.1 reads BOM-less scripts in the ANSI code page")

    lexed = _lex(text)
    code = lexed.code_view()
    if not re.search(r"(?<![\w-])Set-StrictMode\s+-Version\s+Latest\b", code, flags=re.IGNORECASE):
        report("strict-mode", "missing 'Set-StrictMode -Version Latest'")
    eap = re.compile(r"\$ErrorActionPreference\s*=\s*['\"]Stop['\"]", flags=re.IGNORECASE)
    if not any(lexed.mask[m.start()] == _CODE for m in eap.finditer(text)):
        report("error-action", "missing \"$ErrorActionPreference = 'Stop'\"")

    for label, pattern in FORBIDDEN.items():
        for match in re.finditer(pattern, code, flags=re.IGNORECASE | re.MULTILINE):
            report("forbidden", f"line {lexed.line_of(match.start())}: {label}", label)

    parameters = script_parameters(text)
    names = [p.name for p in parameters]
    references = _reference_pattern([*names, *_PARAMETER_CARRIERS])
    for start, end in lexed.expandable:
        for match in references.finditer(text, start, end):
            at = lexed.line_of(match.start())
            report("interpolation", f"line {at}: {match.group(0)} inside an expandable string")
    # A bare word glued to a variable (`-Name ip$IPAddress`, `C:\$Path`) is an expandable string too.
    for match in re.finditer(r"(?<=[\w.\\/])" + references.pattern, code, flags=re.IGNORECASE):
        report("interpolation", f"line {lexed.line_of(match.start())}: {match.group(0)} glued to a bare word")
    for match in re.finditer(r"(?<![\w-])-f(?![\w-])", code, flags=re.IGNORECASE):
        found = references.search(_statement_rest(code, match.end()))
        if found:
            report("format-operator", f"line {lexed.line_of(match.start())}: {found.group(0)} formatted with -f")

    for parameter in parameters:
        if not parameter.validated:
            report("unvalidated-parameter", f"${parameter.name} has no [Validate*()] attribute")
        if not parameter.typed:
            report("untyped-parameter", f"${parameter.name} has no type")

    for loop in loops(text):
        if _constant_true(loop):
            report("unbounded-loop", f"line {loop.line}: a {loop.keyword} loop whose condition never ends it")

    last = _last_statement(code)
    if last is None or not (re.search(r"\bConvertTo-Json\b", last, flags=re.IGNORECASE)
                            and re.search(r"\s-Compress\b", last, flags=re.IGNORECASE)):
        report("json-output", f"the last output must be '... | ConvertTo-Json -Compress', found {last!r}")
    return problems
