"""Parse admiral's CTCAE ``case_when(...)`` grading rules into a small, typed expression tree.

admiral keeps each CTCAE v5.0 lab rule as R text in ``GRADE_CRITERIA_CODE`` and runs it with
``eval(parse(...))``. We never evaluate R (or Python) text: this module reads the restricted
grammar those rules use and builds frozen dataclasses that ``safety.ctcae.sql`` translates into SQL.

Grammar (R operator precedence, loosest first)::

    case_when := "case_when" "(" branch ("," branch)* ")"
    branch    := or "~" ( STRING | "NA_character_" )
    or        := and ("|" and)*
    and       := not ("&" not)*
    not       := "!" not | compare
    compare   := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum       := product (("+" | "-") product)*
    product   := unary (("*" | "/") unary)*
    unary     := "-" unary | atom
    atom      := NUMBER | "TRUE" | "FALSE" | VARIABLE | "BNRIND" "%in%" INDICATOR
               | "is.na" "(" sum ")" | "signif" "(" sum "," "signif_dig" ")" | "(" or ")"

``VARIABLE`` is one of AVAL, ANRLO, ANRHI, BASE, PCHG; ``INDICATOR`` is ``high_indicator`` or
``low_indicator``. Anything else is rejected with the position of the offending token.

References
----------
pharmaverse admiral, ``R/derive_var_atoxgr.R`` (``derive_var_atoxgr_dir``) and
``data-raw/adlb_grading/ncictcaev5.json``: the rules and how they are evaluated.
R Core Team, *R Language Definition*, section 10.4.2 "Infix and prefix operators" (precedence).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from safety.errors import SafetyError

log = logging.getLogger(__name__)

NUMERIC_VARIABLES = frozenset({"AVAL", "ANRLO", "ANRHI", "BASE", "PCHG"})
INDICATORS = {"high_indicator": "high", "low_indicator": "low"}
COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})


# ---------------------------------------------------------------------------------------------
# Expression tree. Numeric nodes evaluate to a number (or NA); logical nodes to TRUE/FALSE/NA.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    """A numeric constant, e.g. ``80`` or ``2.5``."""

    value: float


@dataclass(frozen=True, slots=True)
class Var:
    """A record variable: AVAL (result), ANRLO (LLN), ANRHI (ULN), BASE, PCHG."""

    name: str


@dataclass(frozen=True, slots=True)
class Signif:
    """``signif(x, signif_dig)``: round to the configured number of significant digits."""

    arg: NumExpr


@dataclass(frozen=True, slots=True)
class Arith:
    """``left op right`` with op one of ``+ - * /``."""

    op: Literal["+", "-", "*", "/"]
    left: NumExpr
    right: NumExpr


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus, ``-x``."""

    arg: NumExpr


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` with op one of ``< <= > >= == !=``; NA when either side is NA."""

    op: Literal["<", "<=", ">", ">=", "==", "!="]
    left: NumExpr
    right: NumExpr


@dataclass(frozen=True, slots=True)
class IsNA:
    """``is.na(x)``: TRUE when x is missing (never NA itself)."""

    arg: NumExpr


@dataclass(frozen=True, slots=True)
class BaselineAbnormal:
    """``BNRIND %in% high_indicator`` (or ``low_indicator``): baseline outside the normal range.

    Never NA: R's ``%in%`` is FALSE for a missing BNRIND.
    """

    side: Literal["high", "low"]


@dataclass(frozen=True, slots=True)
class Bool:
    """``TRUE`` or ``FALSE``."""

    value: bool


@dataclass(frozen=True, slots=True)
class Not:
    """``!x`` (NA stays NA)."""

    arg: LogicExpr


@dataclass(frozen=True, slots=True)
class And:
    """``left & right`` with R's three-valued logic (FALSE & NA is FALSE)."""

    left: LogicExpr
    right: LogicExpr


@dataclass(frozen=True, slots=True)
class Or:
    """``left | right`` with R's three-valued logic (TRUE | NA is TRUE)."""

    left: LogicExpr
    right: LogicExpr


NumExpr = Num | Var | Signif | Arith | Neg
LogicExpr = Compare | IsNA | BaselineAbnormal | Bool | Not | And | Or


@dataclass(frozen=True, slots=True)
class Branch:
    """One ``condition ~ grade`` arm of ``case_when``; ``grade`` None is ``NA_character_``."""

    condition: LogicExpr
    grade: int | None


# ---------------------------------------------------------------------------------------------
# Tokenizer and recursive-descent parser
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<string>"[^"]*")
      | (?P<name>[A-Za-z][A-Za-z0-9_.]*)
      | (?P<op>%in%|<=|>=|==|!=|[<>!&|~(),+\-*/])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    pos: int


class CriteriaSyntaxError(SafetyError):
    """A GRADE_CRITERIA_CODE expression is outside the grammar this parser accepts."""


def _tokenize(code: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    code = code.rstrip()
    while pos < len(code):
        match = _TOKEN.match(code, pos)
        if match is None or match.end() == pos:
            raise CriteriaSyntaxError(f"unexpected character {code[pos]!r} at position {pos}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, code: str) -> None:
        self.code = code
        self.tokens = _tokenize(code)
        self.i = 0

    # -- helpers ----------------------------------------------------------------------------
    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _error(self, what: str) -> CriteriaSyntaxError:
        tok = self._peek()
        where = f"{tok.text!r} at position {tok.pos}" if tok else "end of text"
        return CriteriaSyntaxError(f"expected {what}, found {where}")

    def _accept(self, text: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.text == text and tok.kind in ("op", "name"):
            self.i += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._accept(text):
            raise self._error(repr(text))

    # -- grammar ----------------------------------------------------------------------------
    def case_when(self) -> tuple[Branch, ...]:
        self._expect("case_when")
        self._expect("(")
        branches = [self.branch()]
        while self._accept(","):
            branches.append(self.branch())
        self._expect(")")
        if self._peek() is not None:
            raise self._error("end of text after case_when(...)")
        return tuple(branches)

    def branch(self) -> Branch:
        condition = self.logical()
        self._expect("~")
        tok = self._peek()
        if tok is not None and tok.kind == "string":
            self.i += 1
            text = tok.text.strip('"')
            if text not in {"0", "1", "2", "3", "4"}:
                raise CriteriaSyntaxError(f"grade {tok.text} at position {tok.pos} is not 0-4")
            return Branch(condition, int(text))
        if self._accept("NA_character_"):
            return Branch(condition, None)
        raise self._error('a grade string "0".."4" or NA_character_')

    def logical(self) -> LogicExpr:
        node = self.conj()
        while self._accept("|"):
            node = Or(node, self.conj())
        return node

    def conj(self) -> LogicExpr:
        node = self.negation()
        while self._accept("&"):
            node = And(node, self.negation())
        return node

    def negation(self) -> LogicExpr:
        if self._accept("!"):
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> LogicExpr:
        tok = self._peek()
        # Logical atoms that are not comparisons.
        if tok is not None and tok.kind == "name":
            if tok.text in ("TRUE", "FALSE"):
                self.i += 1
                return Bool(tok.text == "TRUE")
            if tok.text == "is.na":
                self.i += 1
                self._expect("(")
                arg = self.arith()
                self._expect(")")
                return IsNA(arg)
            if tok.text == "BNRIND":
                self.i += 1
                self._expect("%in%")
                ind = self._peek()
                if ind is None or ind.text not in INDICATORS:
                    raise self._error("high_indicator or low_indicator")
                self.i += 1
                return BaselineAbnormal(INDICATORS[ind.text])  # type: ignore[arg-type]
        if tok is not None and tok.text == "(" and self._parenthesised_logical():
            self.i += 1
            node = self.logical()
            self._expect(")")
            return node
        left = self.arith()
        op = self._peek()
        if op is None or op.kind != "op" or op.text not in COMPARISONS:
            raise self._error("a comparison operator")
        self.i += 1
        return Compare(op.text, left, self.arith())  # type: ignore[arg-type]

    def _parenthesised_logical(self) -> bool:
        """Whether the '(' at the cursor opens a logical group rather than arithmetic."""
        depth = 0
        for tok in self.tokens[self.i :]:
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and (
                tok.text in COMPARISONS
                or tok.text in ("&", "|", "!", "%in%", "is.na", "TRUE", "FALSE")
            ):
                return True
        return False

    def arith(self) -> NumExpr:
        node = self.product()
        while True:
            tok = self._peek()
            if tok is not None and tok.kind == "op" and tok.text in ("+", "-"):
                self.i += 1
                node = Arith(tok.text, node, self.product())  # type: ignore[arg-type]
            else:
                return node

    def product(self) -> NumExpr:
        node = self.unary()
        while True:
            tok = self._peek()
            if tok is not None and tok.kind == "op" and tok.text in ("*", "/"):
                self.i += 1
                node = Arith(tok.text, node, self.unary())  # type: ignore[arg-type]
            else:
                return node

    def unary(self) -> NumExpr:
        if self._accept("-"):
            arg = self.unary()
            return Num(-arg.value) if isinstance(arg, Num) else Neg(arg)
        return self.atom()

    def atom(self) -> NumExpr:
        tok = self._peek()
        if tok is None:
            raise self._error("a number or variable")
        if tok.kind == "number":
            self.i += 1
            return Num(float(tok.text))
        if tok.kind == "name" and tok.text in NUMERIC_VARIABLES:
            self.i += 1
            return Var(tok.text)
        if tok.kind == "name" and tok.text == "signif":
            self.i += 1
            self._expect("(")
            arg = self.arith()
            self._expect(",")
            self._expect("signif_dig")
            self._expect(")")
            return Signif(arg)
        if tok.text == "(":
            self.i += 1
            node = self.arith()
            self._expect(")")
            return node
        raise self._error("a number, AVAL/ANRLO/ANRHI/BASE/PCHG, signif(...) or '('")


def parse_case_when(code: str) -> tuple[Branch, ...]:
    """Parse one admiral ``GRADE_CRITERIA_CODE`` text into its ordered branches.

    Parameters
    ----------
    code : str
        The R text, e.g. ``case_when(is.na(AVAL) ~ NA_character_, ..., TRUE ~ "0")``.

    Returns
    -------
    tuple of Branch
        In the order written; the first branch whose condition is TRUE decides the grade.

    Raises
    ------
    CriteriaSyntaxError
        When the text uses anything outside the grammar in this module's docstring.
    """
    return _Parser(code).case_when()


def variables_used(node: NumExpr | LogicExpr) -> frozenset[str]:
    """Names of the record variables an expression reads (BNRIND included)."""
    match node:
        case Var(name):
            return frozenset({name})
        case BaselineAbnormal():
            return frozenset({"BNRIND"})
        case Num() | Bool():
            return frozenset()
        case Signif(arg) | Neg(arg) | IsNA(arg) | Not(arg):
            return variables_used(arg)
        case Arith(_, left, right) | Compare(_, left, right):
            return variables_used(left) | variables_used(right)
        case And(left, right) | Or(left, right):
            return variables_used(left) | variables_used(right)
    raise TypeError(f"not an expression node: {node!r}")
