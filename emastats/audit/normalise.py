"""The notation layer: rewrite one side of a formula, as notes write it, into LaTeX that sympy's parser reads right.

Notes name one quantity many ways: ``\\mathbf{g}_{\\text{mb};t}``, ``g_{\\rm mb}(t)``, ``g_{mb,t}``. Every *atom*
(a letter or Greek letter with its decorations, name labels and primes) becomes a placeholder
``A_{\\mathit{pXX}}`` that the parser reads as one symbol, and its *indices* (``t+1``, ``i``, ``0``) become
arguments, ``A_{\\mathit{pXX}}(t+1)``. After parsing (``parse.py``) each placeholder is replaced by a symbol or an
undefined function named by the atom's canonical key, so ``\\mathbf{g}_{\\text{mb};t}`` and ``g_{mb,t}`` are the
same ``g_mb(t)``. Decorations give names: ``\\hat m`` -> ``m^``, ``\\langle g^2 \\rangle_t`` -> ``<g^2>(t)``.

Operators become placeholder functions ``F_{\\mathit{name}}(…)``: ``E[…]``, ``\\mathrm{E}[…]``,
``\\mathbb{E}[…]`` -> expectation, ``\\operatorname{sign}`` -> sign, ``\\mathrm{Var}`` -> variance, ``clip``.
``\\text{…}`` annotations, ``\\tag``, ``\\label``, spacing and ``\\left``/``\\right`` are dropped. Sums over a set
(``\\sum_{i \\text{ in mb}}``) become sums from 1 to a placeholder integer ``|mb|``.

What is not understood raises ``Unsupported`` (the formula is then *unchecked*, never guessed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN_RE = re.compile(r"\\[a-zA-Z]+\*?|\\.|[{}]|\s+|.", re.S)

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega", "ell",
    "nabla", "varsigma", "varrho", "varpi",
}
# Unicode that notes paste into maths, rewritten to the LaTeX command it stands for.
UNICODE = {
    "←": "\\leftarrow ", "⟵": "\\leftarrow ", "≔": ":=", "∇": "\\nabla ", "∂": "\\partial ", "−": "-", "·": "\\cdot ", "⋅": "\\cdot ", "∗": "*",
    "×": "\\times ", "≤": "\\leq ", "≥": "\\geq ", "≠": "\\neq ", "≈": "\\approx ", "∑": "\\sum ", "√": "\\sqrt ",
    "…": "\\dots ", "⊤": "\\top ", "∞": "\\infty ", "𝔼": "\\mathbb{E}", "∼": "\\sim ", "α": "\\alpha ", "β": "\\beta ", "γ": "\\gamma ",
    "δ": "\\delta ", "ε": "\\epsilon ", "η": "\\eta ", "θ": "\\theta ", "λ": "\\lambda ", "μ": "\\mu ",
    "ρ": "\\rho ", "σ": "\\sigma ", "τ": "\\tau ", "ϕ": "\\phi ", "φ": "\\phi ", "ω": "\\omega ", "Σ": "\\Sigma ",
    "Δ": "\\Delta ", "Θ": "\\Theta ", "ς": "\\varsigma ", "→": "\\to ", "⇒": "\\Rightarrow ", "\u200b": "",
}
# Index-free marks on a name: transposes are dropped (an identity of matrices holds for 1x1 ones, so dropping
# them can hide an error but never make one), stars and daggers are labels (w^\star is the optimum, a name).
TRANSPOSE = {"\\top", "\\trans", "\\transpose", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\mkern-1.5mu\\mathsf{T}"}
STAR_LABELS = {"\\star": "star", "*": "star", "\\ast": "star", "\\dagger": "dagger", "\\circ": "circ"}
# Letters that, alone in a subscript, are an index (time, datapoint, batch element), not part of a name.
INDEX_LETTERS = {"t", "i", "j", "k", "n", "b", "l", "tau"}
BOLD = {"\\mathbf", "\\boldsymbol", "\\bm", "\\pmb", "\\vec"}
FONT_STRIP = {"\\mathbf", "\\boldsymbol", "\\bm", "\\mathit", "\\mathsf", "\\mathnormal", "\\pmb", "\\vec"}
TEXT_CMDS = {"\\text", "\\mathrm", "\\textrm", "\\textit", "\\textbf", "\\operatorname", "\\operatorname*", "\\rm", "\\mbox", "\\textnormal"}
DECORATIONS = {"\\hat": "^", "\\widehat": "^", "\\bar": "-", "\\overline": "-", "\\tilde": "~", "\\widetilde": "~",
               "\\dot": ".", "\\check": "v"}
DROP = {"\\bf", "\\it", "\\cal", "\\tag", "\\label", "\\nonumber", "\\notag", "\\displaystyle", "\\textstyle", "\\limits", "\\nolimits",
        "\\,", "\\;", "\\!", "\\:", "\\ ", "\\quad", "\\qquad", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl",
        "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr", "\\left", "\\right", "\\middle", "\\lbrace", "\\rbrace"}
DROP_WITH_ARG = {"\\tag", "\\label", "\\tag*", "\\hspace", "\\vspace", "\\phantom"}
# Words that are functions (applied to a bracketed argument); value: our canonical name.
FUNCTION_WORDS = {"sign": "sign", "sgn": "sign", "clip": "clip", "var": "Var", "variance": "Var", "cov": "Cov",
                  "e": "E", "mathbbe": "E", "mathbbv": "Var", "expectation": "E", "sigmoid": "sigmoid", "relu": "relu",
                  "diag": "diag", "tr": "tr", "softmax": "softmax"}
NATIVE_FUNCTIONS = {"\\exp", "\\log", "\\ln", "\\sin", "\\cos", "\\tan", "\\tanh", "\\sinh", "\\cosh",
                    "\\min", "\\max"}
BARE_NATIVE = {name[1:] for name in NATIVE_FUNCTIONS}  # the same functions typed without a backslash (tanh(x))
OPEN = {"(": ")", "[": "]", "\\{": "\\}", "\\lbrack": "\\rbrack", "\\langle": "\\rangle", "\\lfloor": "\\rfloor",
        "\\lceil": "\\rceil"}
CLOSE = frozenset(OPEN.values())  # every scanner that counts OPEN as an opener counts these as closers
MAX_POWER_EXPONENT = 10_000
# Expectation macros of course notes and books (\SetE in the deep-learning book's notation), and 𝔼.
EXPECTATION_MACROS = {"\\E", "\\SetE", "\\Exp", "\\EE", "\\Expect", "\\expect", "\\Ex"}


_CODE_NAME = re.compile(r"(?<![\\A-Za-z])[A-Za-z]+(?:\{_\}[A-Za-z]+|\{_[A-Za-z]+\})+")
_STAR_SUBSCRIPT = re.compile(r"(\\sum|\\prod|(?<![A-Za-z\\])[A-Za-z])\*\{")
_STAR_BETWEEN = re.compile(r"(?<=[A-Za-z}])\*(?=[A-Za-z{0-9])")


def clean_text(latex: str) -> str:
    """Markdown escapes (``\\_``, ``\\*``) undone and pasted Unicode maths rewritten to LaTeX commands.

    Markdown that turned ``_…_`` pairs into emphasis leaves ``\\sum*{j=1}^{n*{in}} w*{ij}``: a ``*`` before a
    brace can only be a subscript there, and in a formula with such evidence every ``*`` written between a name
    and what follows it is one too (``\\sigma*w``). Without that evidence ``a*b`` stays a product.
    """
    text = re.sub(r"\\([_*])", r"\1", latex)
    if "{_" in text:  # decay{_}steps, global{_step}: an identifier with underscores (code names in maths)
        text = _CODE_NAME.sub(lambda m: "\\mathrm{" + re.sub(r"[{}]", "", m.group(0)) + "}", text)
    if _STAR_SUBSCRIPT.search(text):
        text = _STAR_BETWEEN.sub("_", text)
    if "*" in text:  # \pi*x: a Greek letter times x (no starred Greek command exists)
        text = re.sub(r"(\\[A-Za-z]+)\*", lambda m: m.group(1) + (" *" if m.group(1)[1:] in GREEK else "*"), text)
    if not text.isascii():
        text = re.sub(r"→(?=[A-Za-z\\\u0370-\u03ff])", "", text)  # →v, →θ: a vector marker, not "tends to"
        text = re.sub(r"([A-Za-z\u0370-\u03ff])\u0302", r"\\hat{\1}", text)  # x̂: combining circumflex
        text = "".join(UNICODE.get(ch, ch) for ch in text)
        text = re.sub(r"(\\[A-Za-z]+) +([_^'])", r"\1\2", text)  # γ_i -> \gamma_i, not \gamma _i
    return text


@dataclass(frozen=True)
class Notation:
    """What the document model decided about notation, for every formula of a document.

    ``superscript_index``: base letters whose index-like superscripts are time indices (``w^{t+1}``, ``v^{(k)}``)
    rather than powers; ``ambiguous_superscript``: base letters seen with index-like superscripts but without
    the evidence either way (then such a formula is unchecked, never guessed).
    """

    superscript_index: frozenset[str] = frozenset()
    ambiguous_superscript: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()  # bases defined as functions, f(x) = … (then f(y) is f applied to y)
    multipliers: frozenset[str] = frozenset()  # capitals written before a name (A x): A(x + y) is a product
    index_letters: frozenset[str] = frozenset()  # letters this document shifts in subscripts (x_{s+1}): indices


INDEX_SUPERSCRIPT = re.compile(r"\(?\s*(?:[tkijn]|\\tau)\s*(?:[+-]\s*\d+)?\s*\)?|\(\s*\d+\s*\)")


def index_like(text: str) -> bool:
    """Whether a superscript reads as a time index: t, k+1, (k), (t-1), (0) (a bare 2 is a power)."""
    return INDEX_SUPERSCRIPT.fullmatch(text.replace(" ", "").strip("{}")) is not None


_MACRO_NAME = re.compile(r"\\[VM][A-Za-z]+")


class Unsupported(ValueError):
    """The side uses notation this layer does not understand; the formula is left unchecked."""


class TooLarge(ValueError):
    """The side would make sympy evaluate something huge (a power tower, a giant literal)."""


@dataclass(frozen=True)
class Atom:
    """One named quantity: ``key`` is its canonical name (shared across formulas), ``display`` its LaTeX."""

    key: str
    display: str
    base: str
    decoration: str = ""
    label: str = ""
    primes: int = 0
    is_function: bool = False  # written applied to arguments, like T(\eta) or \mathcal{L}(w)


@dataclass
class Normalised:
    """A side rewritten for the parser, with the placeholders' atoms and operator names."""

    latex: str
    atoms: dict[str, Atom] = field(default_factory=dict)  # placeholder name -> atom
    functions: set[str] = field(default_factory=set)  # operator names used (E, sign, ...)
    notation: Notation = field(default_factory=Notation)
    e_labels: list[str] = field(default_factory=list)  # the subscripts of E operators read ("" when none)


def tokenize(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


# Placeholders are single parser tokens where possible (the ANTLR parser's time grows with the token count):
# letters (not d, e, i, E, I, which the grammar or sympy may read specially), then Greek commands, then
# A_{\mathit{pXX}} names (letters only: the parser's \mathit rejects digits).
_SHORT = [c for c in "abcfghjklmnopqrsuvwxyzABCDFGHJKLMNOPQRSTUVWXYZ"] + [
    "\\" + g for g in ("alpha", "beta", "gamma", "delta", "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu",
                       "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
                       "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega")]


# No "d" in names inside \mathit{…}: the parser's lexer reads "d" before a letter as a differential (dx).
_PLACEHOLDER_LETTERS = "abcefghijklmnopqrstuvwxyz"


def operator_token(name: str) -> str:
    """An operator's name as the parser can read it inside ``\\mathit{…}`` (``diag`` -> ``Dqiag``)."""
    return name.replace("d", "Dq")


def operator_name(token: str) -> str:
    """The inverse of ``operator_token``."""
    return token.replace("Dq", "d")


def _placeholder(n: int) -> str:
    if n < len(_SHORT):
        return _SHORT[n]
    letters = ""
    n += 1
    while n:
        n, r = divmod(n - 1, len(_PLACEHOLDER_LETTERS))
        letters = _PLACEHOLDER_LETTERS[r] + letters
    return "A_{\\mathit{p" + letters + "}}"


def placeholder_name(text: str) -> str:
    """The name sympy gives a placeholder: ``a`` -> ``a``, ``\\beta`` -> ``beta``, ``A_{\\mathit{pab}}`` -> ``A_{pab}``."""
    return text.lstrip("\\").replace("\\mathit{", "").replace("}}", "}")


class _Rewriter:
    """Single pass over the tokens of one side; ``out`` collects the parser-ready LaTeX."""

    def __init__(self, tokens: list[str], shared: Normalised) -> None:
        self.toks = [t for t in tokens]
        self.pos = 0
        self.shared = shared

    # -- token helpers -------------------------------------------------------------------------
    def peek(self, skip_space: bool = True, offset: int = 0) -> str | None:
        p = self.pos
        seen = 0
        while p < len(self.toks):
            tok = self.toks[p]
            if skip_space and (tok.isspace() or tok in DROP and tok not in DROP_WITH_ARG):
                p += 1
                continue
            if seen == offset:
                return tok
            seen += 1
            p += 1
        return None

    def next(self, skip_space: bool = True) -> str:
        while self.pos < len(self.toks):
            tok = self.toks[self.pos]
            self.pos += 1
            if skip_space and (tok.isspace() or tok in DROP and tok not in DROP_WITH_ARG):
                continue
            return tok
        raise Unsupported("unexpected end of formula")

    def read_group(self) -> list[str]:
        """The tokens of the next argument: a {…} group's inside, or one token."""
        tok = self.next()
        if tok != "{":
            if tok in ("}",):
                raise Unsupported("unexpected '}'")
            return [tok]
        depth, start = 1, self.pos
        while self.pos < len(self.toks):
            t = self.toks[self.pos]
            self.pos += 1
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == 0:
                    return self.toks[start:self.pos - 1]
        raise Unsupported("unbalanced braces")

    def read_script(self) -> list[str]:
        """A sub- or superscript: a group, one token, or a command with its argument (``p_\\textrm{data}``)."""
        nxt = self.peek()
        if nxt in (TEXT_CMDS | FONT_STRIP) - {"\\rm"}:
            self.next()
            return [nxt, "{"] + self.read_group() + ["}"]
        return self.read_group()

    def read_bracketed(self, opener: str) -> list[str]:
        """Tokens up to the delimiter matching ``opener`` (already consumed), any bracket kind nested."""
        closer = OPEN[opener]
        depth, start = 1, self.pos
        stack = [closer]
        while self.pos < len(self.toks):
            t = self.toks[self.pos]
            self.pos += 1
            if t in OPEN:
                stack.append(OPEN[t])
            elif t in CLOSE:
                if not stack or t != stack[-1]:
                    raise Unsupported(f"mismatched bracket {t!r}")
                stack.pop()
                if not stack:
                    return self.toks[start:self.pos - 1]
            elif t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
        raise Unsupported(f"unclosed {opener!r}")

    def sub(self, tokens: list[str]) -> str:
        return _Rewriter(tokens, self.shared).run()

    # -- atoms ---------------------------------------------------------------------------------
    def atom(self, base: str, decoration: str = "", is_function: bool = False, display: str | None = None) -> str:
        """Read an atom's subscripts, primes and superscripts after its base; return its LaTeX."""
        labels: list[str] = []
        indices: list[str] = []
        primes = 0
        power = ""
        while True:
            nxt = self.peek(skip_space=False)
            if nxt == "_":
                self.next(skip_space=False)
                label_parts, index_parts = self._subscript(self.read_script())
                labels += label_parts
                indices += index_parts
            elif nxt == "'":
                self.next(skip_space=False)
                primes += 1
            elif nxt == "^":
                self.next(skip_space=False)
                group = self.read_group()
                text = "".join(group).strip()
                compact = text.replace(" ", "")
                notation = self.shared.notation
                if text in ("\\prime", "'", "\\prime\\prime"):
                    primes += text.count("prime") or 1
                elif compact in TRANSPOSE:
                    continue  # x^\top: see TRANSPOSE
                elif compact in STAR_LABELS:
                    labels.append(STAR_LABELS[compact])
                elif re.fullmatch(r"\[[ijkn]\]", compact):
                    indices.append(compact[1])  # x^{[i]}: the i-th example (a sample index; [l] stays a layer label)
                elif re.fullmatch(r"(\[|\\lbrack|\\left\[|\\left\\lbrack).*(\]|\\rbrack)", compact):
                    labels.append("layer" + _slug(group).strip("[]").replace("lbrack", "").replace("rbrack", ""))
                elif not power and (compact.startswith("(") and index_like(compact) or base in notation.superscript_index
                                    and (index_like(compact) or compact == "0"
                                         or re.fullmatch(r"\{?[A-Za-z][+-]\d+\}?", compact))):
                    # a time index written as a superscript: w^{t+1}, v^{(k)}, and v^0 for a sequence's start
                    inner = [t for t in group if not t.isspace()]
                    if inner and inner[0] == "(" and inner[-1] == ")":
                        inner = inner[1:-1]
                    indices.append(self.sub(inner))
                elif base in notation.superscript_index or base in notation.ambiguous_superscript and index_like(compact):
                    raise Unsupported("superscript may be a time index or a power")
                elif (group and group[0] in TEXT_CMDS or re.fullmatch(r"[A-Z]", group[0] if group else "")
                      and len(group) <= 4) and not power:
                    labels.append(_slug(group))
                else:
                    if power:
                        raise Unsupported("double superscript")
                    power = self._power(group)
            else:
                break
        # array indexing W[j, i] directly after the name
        if self.peek(skip_space=False) == "[" and not decoration == "avg":
            self.next()
            inner = self.read_bracketed("[")
            indices += [self.sub(part) for part in _split_top(inner, {","})]
        if self.peek() == "(" and self._conditional_follows():
            labels.append("given")  # p(y | x): a conditional, another function than the joint p(y, x)
        label = ",".join(p for p in labels if p)
        key = base + decoration.replace("avg", "") + "'" * primes + (f"_{label}" if label else "")
        atom = Atom(key=key, display=display or key, base=base, decoration=decoration, label=label, primes=primes,
                    is_function=is_function)
        text = self._register(atom)
        if self.peek() == "(" and self._tuple_follows():
            is_function = True  # f(x, y), f(x; \theta): a name applied to a tuple is a function, never a product
        if (is_function or base in self.shared.notation.functions or "given" in labels) and self.peek() == "(":
            self.next()
            inner = self.read_bracketed("(")
            indices += [self.sub(part) for part in _split_top(inner, {",", ";", "|", "\\mid"})]
        if indices:
            text += "(" + ", ".join(indices) + ")"
        if power:
            text = "{" + text + "}^{" + power + "}"
        if self.peek() in ("(", "\\left", "[", "\\{"):
            text += " \\cdot "  # a name before a bracket multiplies it: \beta(1-\beta), \mu(1+\beta)
        return text + " "

    def _register(self, atom: Atom) -> str:
        for name, known in self.shared.atoms.items():
            if known.key == atom.key:
                return name
        name = _placeholder(len(self.shared.atoms))
        self.shared.atoms[name] = atom
        return name

    def _power(self, group: list[str]) -> str:
        text = self.sub(group)
        plain = "".join(group).replace(" ", "")
        if "^" in plain and re.fullmatch(r"[\d{}^.+\-]+", plain):
            raise TooLarge("numeric power tower")
        if re.fullmatch(r"\d+", plain) and int(plain) > MAX_POWER_EXPONENT:
            raise TooLarge(f"exponent {plain} is too large to expand")
        return text

    def _subscript(self, group: list[str]) -> tuple[list[str], list[str]]:
        """Split a subscript into name labels (mb, fb, x, \\infty) and index expressions (t+1, i, 0)."""
        labels, indices = [], []
        for part in _split_top(group, {",", ";", ":"}):
            words = [t for t in part if not t.isspace()]
            if not words:
                continue
            plain = "".join(words)
            if words[0] in TEXT_CMDS or words[0] in FONT_STRIP:
                # \text{mb} then maybe an index in the same part (OCR: \text{mb:}t=1)
                cmd_at = part.index(words[0])
                sub_rw = _Rewriter(part[cmd_at + 1:], self.shared)
                label = _slug(sub_rw.read_group()).strip(":;,")
                labels.append(label)
                rest = part[cmd_at + 1 + sub_rw.pos:]
                if any(not t.isspace() for t in rest):
                    more_labels, more_indices = self._subscript(rest)
                    labels += more_labels
                    indices += more_indices
                continue
            if "=" in plain:  # g_{t=1}: the index value
                eq = part.index("=")
                indices.append(self.sub(part[eq + 1:]))
                continue
            if plain in ("\\infty",):
                labels.append("inf")
                continue
            letters = _letters(words)
            if re.fullmatch(r"\d+", plain):
                indices.append(plain)
            elif len(words) == 1 and (plain.strip("\\") in INDEX_LETTERS or plain in self.shared.notation.index_letters):
                indices.append(self.sub(words))
            elif len(words) == 1 and re.fullmatch(r"[A-Za-z]|\\[a-zA-Z]+", plain):
                labels.append(plain.strip("\\"))
            elif re.fullmatch(r"[ijkl]{2}", plain):
                indices += list(plain)  # w_{ij}: row i, column j (two index letters, not a name label)
            elif re.fullmatch(r"[a-zA-Z]{2,}", plain):
                labels.append(plain)
            elif letters and all(l in INDEX_LETTERS or l in self.shared.notation.index_letters or l.isupper()
                                 for l in letters) and re.fullmatch(
                    r"[\w\\+\-{}()' ]+", plain):
                indices.append(self.sub(part))
            else:
                labels.append(_slug(words))
        return labels, indices

    # -- main loop -----------------------------------------------------------------------------
    def run(self) -> str:
        out: list[str] = []
        while self.pos < len(self.toks):
            tok = self.toks[self.pos]
            self.pos += 1
            if tok.isspace():
                out.append(" ")
            elif tok in DROP_WITH_ARG:
                self.read_group()
            elif tok in DROP:
                continue
            elif tok in ("\\frac", "\\dfrac", "\\tfrac", "\\cfrac"):
                num, den = self.read_group(), self.read_group()
                out.append(self._fraction(num, den))
            elif tok == "\\sqrt":
                if self.peek() == "[":
                    self.next()
                    index = self.read_bracketed("[")
                    out.append(f"\\sqrt[{self.sub(index)}]{{{self.sub(self.read_group())}}}")
                else:
                    out.append(f"\\sqrt{{{self.sub(self.read_group())}}}")
            elif tok in ("\\sum", "\\prod"):
                out.append(self._big_operator(tok))
            elif tok == "\\lim":
                out.append(self._limit())
            elif tok == "^":
                group = self.read_group()
                if "".join(group).replace(" ", "") in TRANSPOSE:
                    continue  # (x - y)^\top: see TRANSPOSE
                out.append("^{" + self._power(group) + "}")
                if len(out) >= 2 and out[-2] == "|" and self.peek(skip_space=False) == "_":
                    self._norm_subscript()  # \|x\|^2_2: the 2-norm squared
            elif tok in ("\\underbrace", "\\overbrace"):
                # the braced expression counts; its label (_{…} or ^{…}) is a comment
                inner = self.read_group()
                if self.peek() in ("_", "^"):
                    self.next()
                    self.read_group()
                out.append("(" + self.sub(inner) + ")")
            elif tok in ("\\underset", "\\overset"):
                below = self.read_group()
                body = [t for t in self.read_group() if not t.isspace()]
                if tok == "\\underset" and body in (["\\argmin"], ["\\argmax"], ["\\arg", "\\min"], ["\\arg", "\\max"]):
                    out.append(self._arg_extremum("arg" + body[-1][-3:], below))  # \underset{\theta}{\argmax} …
                else:
                    out.append("(" + self.sub(body) + ")")
            elif tok in ("\\nabla", "\\partial"):
                out.append(self._derivative_operator(tok))
            elif tok == "_":
                raise Unsupported("subscript on a non-name")
            elif tok in FONT_STRIP:
                inner = self.read_group()
                if tok in BOLD and len([t for t in inner if not t.isspace()]) == 1:
                    self._skip_capital_t()  # \mathbf{w}^T: a bold vector's transpose (see TRANSPOSE)
                self.toks[self.pos:self.pos] = inner  # \mathbf{g}_i is the atom g_i
            elif tok in DECORATIONS:
                inner = [t for t in self.read_group() if not t.isspace()]
                inner = [t for t in inner if t not in FONT_STRIP and t not in ("{", "}")]
                if len(inner) != 1:
                    raise Unsupported(f"{tok} over more than one symbol")
                out.append(self.atom(_base_name(inner[0]), DECORATIONS[tok]))
            elif tok == "\\langle":
                inner = self.read_bracketed("\\langle")
                slug = _slug(inner)
                out.append(self.atom(f"<{slug}>", "avg", display=f"\\langle {''.join(inner).strip()} \\rangle"))
            elif tok in ("\\mathcal", "\\mathscr"):
                inner = _slug(self.read_group())
                out.append(self.atom("cal" + inner, is_function=self.peek() == "("))
            elif tok in ("\\mathbb",):
                inner = _slug(self.read_group())
                if inner == "E" and self.peek(skip_space=False) == "_" or inner == "E" and not self._bracket_follows(
                        self.pos) and self._operand_follows():
                    out.append(self._expectation())
                else:
                    out.append(self._function_or_atom("mathbb" + inner.lower(), inner))
            elif tok in TEXT_CMDS:
                word = _slug(self.read_group()) if tok != "\\rm" else _slug([self.next()])
                if tok == "\\textbf" and re.fullmatch(r"[A-Za-z]", word):
                    self._skip_capital_t()  # \textbf{x}^T: a bold vector's transpose
                letters = re.sub(r"[^a-z]", "", word.lower())
                if letters in ("argmin", "argmax"):
                    out.append(self._arg_extremum(letters, []))  # \operatorname*{arg\,min}_x f(x)
                elif letters == "arg" and self.peek() in ("\\min", "\\max"):
                    out.append(self._arg_extremum("arg" + self.next()[1:], []))  # \text{arg}\min_h R(h)
                else:
                    out.append(self._function_or_atom(word.lower(), word, annotation=True))
            elif tok in ("\\argmin", "\\argmax"):
                out.append(self._arg_extremum(tok[1:], []))
            elif tok == "\\arg" and self.peek() in ("\\min", "\\max"):
                out.append(self._arg_extremum("arg" + self.next()[1:], []))
            elif tok in NATIVE_FUNCTIONS:
                out.append(tok + " ")
                if tok == "\\log" and self.peek(skip_space=False) == "_":
                    self.next(skip_space=False)
                    out.append("_{" + self.sub(self.read_script()) + "} ")  # \log_2 x: the base-2 logarithm
            elif tok in ("\\binom", "\\dbinom", "\\tbinom"):
                top, bottom = self.read_group(), self.read_group()
                out.append(f"\\binom{{{self.sub(top)}}}{{{self.sub(bottom)}}} ")
            elif tok in ("\\cdot", "\\times", "*", "\\odot", "\\circledast"):  # (\odot: elementwise, a product on scalars)
                out.append(" \\cdot ")
            elif tok in ("\\infty",):
                out.append("\\infty ")
            elif tok in ("|", "\\vert", "\\lvert", "\\rvert", "\\|", "\\Vert", "\\lVert", "\\rVert"):
                out.append("|")
                if self.peek(skip_space=False) == "_" and self._norm_subscript():
                    pass  # \|x\|_2: the Euclidean norm, |x| for the scalars the audit evaluates
            elif tok in ("(", "[", "\\lbrack", "\\{"):
                inner = self.read_bracketed(tok)
                if out and out[-1].strip() in ("\\max", "\\min"):  # \max(a, b): the arguments of max
                    out.append("(" + ", ".join(self.sub(part) for part in _split_top(inner, {","})) + ")")
                else:
                    out.append("(" + self.sub(inner) + ")")
            elif tok in ("\\lfloor", "\\lceil"):
                inner = self.read_bracketed(tok)  # floor and ceiling (step decay schedules)
                out.append(f"{tok} {self.sub(inner)} {OPEN[tok]} ")
            elif tok in CLOSE:
                raise Unsupported(f"unmatched {tok!r}")
            elif tok == "{":
                self.pos -= 1
                group = self.read_group()
                names = [t for t in group if not t.isspace() and t not in DROP and t not in FONT_STRIP]
                chosen = _split_top(group, {"\\choose"})
                if "\\choose" in group and len(chosen) == 2:  # {n \choose k}: the binomial coefficient
                    out.append(f"\\binom{{{self.sub(chosen[0])}}}{{{self.sub(chosen[1])}}} ")
                    continue
                if self.peek(skip_space=False) in ("_", "^") and len(names) == 1 and (
                        re.fullmatch(r"[A-Za-z]", names[0]) or names[0][1:] in GREEK or _MACRO_NAME.fullmatch(names[0])):
                    self.toks[self.pos:self.pos] = names  # {\Vg}_{t}: the braces only group the name
                else:
                    # \beta {v_{t-1}}: a brace group after a name multiplies it (it is no argument list)
                    joiner = " \\cdot " if re.search(r"[A-Za-z0-9)]\s*$", "".join(out[-3:])) else ""
                    out.append(joiner + "(" + self.sub(group) + ")")
            elif tok == "}":
                raise Unsupported("unmatched '}'")
            elif tok == "\\Delta" and self._name_follows():
                # \Delta w, \Delta\Phi: a change is one quantity, not Delta times w
                nxt = self.next()
                inner = self.read_group() if nxt in FONT_STRIP else [nxt]
                name = "".join(inner).strip()
                name = name[2:] if _MACRO_NAME.fullmatch(name) else _base_name(name)  # \Delta\Vtheta: Delta theta
                out.append(self.atom(tok[1:] + name))
            elif tok == "\\Gamma" and self._bracket_follows(self.pos) and self.peek() != "[":
                out.append(self._apply("Gamma"))  # \Gamma(n): Euler's gamma function, not Gamma times n
            elif tok == "\\sigma" and self._applied(("'", "(")):
                # \sigma(x), \sigma'(x): the logistic function, not a standard deviation times x
                out.append(self.atom("sigmoid", is_function=True))
            elif tok.startswith("\\") and tok[1:] in GREEK:
                out.append(self.atom(tok[1:]))
            elif _MACRO_NAME.fullmatch(tok) and (len(tok[2:]) == 1 or tok[2:] in GREEK):
                # \Vtheta, \Vg, \MW: the deep-learning book's vector and matrix macros, a bold letter
                out.append(self.atom(tok[2:]))
            elif tok == "\\E" and self._bracket_follows(self.pos):
                out.append(self._apply("E"))
            elif tok in EXPECTATION_MACROS and (self.peek(skip_space=False) == "_" or self._bracket_follows(self.pos)
                                                or self._operand_follows()):
                out.append(self._expectation())
            elif tok == "E" and self.peek(skip_space=False) == "_" and self._subscripted_bracket_follows():
                out.append(self._expectation())  # E_{x \sim p}[f(x)], E_x[…]: an expectation over x
            elif re.fullmatch(r"[a-zA-Z]", tok):
                if self._digits_name():
                    # w1, o2 (plain-text notes): a letter written with its number is w_1, not w times 1
                    self.toks[self.pos:self.pos] = ["_"]
                word = self._word(tok)
                if word is not None:
                    out.append(word)
                else:
                    out.append(self.atom(tok, is_function=tok.isupper() and self.peek(skip_space=False) == "("
                                         and tok not in self.shared.notation.multipliers))
            elif re.fullmatch(r"[0-9.]", tok):
                out.append(tok)
            elif tok in ("+", "-", "/", "!"):
                out.append(tok)
            elif tok in ("'",):
                raise Unsupported("prime on a non-name")
            elif tok in (",", ".", ";") and self.pos >= len(self.toks):
                continue  # punctuation ending the sentence
            elif tok == "\\ldots" or tok == "\\dots" or tok == "\\cdots":
                raise Unsupported("ellipsis")
            else:
                raise Unsupported(f"{tok!r}")
        return "".join(out)

    def _derivative_operator(self, tok: str) -> str:
        """``\\nabla L(w_t)``, ``\\nabla_\\theta L(\\theta)``, ``\\partial_w L``: the gradient of a named function.

        The result is one quantity (``nabla_L`` applied to the arguments, or ``dL/dw`` for a partial), never
        nabla times L: a gradient is an input of an update rule, as g_t is.
        """
        wrt, order = "", ""
        start = self.pos
        for _ in range(2):
            nxt = self.peek(skip_space=False)
            if nxt == "_":
                self.next(skip_space=False)
                wrt = _slug(self.read_group())
            elif nxt == "^":
                self.next(skip_space=False)
                order = _slug(self.read_group())
        nxt = self.peek()
        operand = nxt is not None and (nxt in ("\\mathcal", "\\mathscr") or nxt in TEXT_CMDS or re.fullmatch(
            r"[A-Za-z]", nxt) is not None or nxt.startswith("\\") and nxt[1:] in GREEK)
        if not operand and tok == "\\nabla":
            self.pos = start  # \nabla_t alone: the gradient at step t, a name with an index
            return self.atom("nabla")
        if nxt is None:
            raise Unsupported(f"{tok} without an operand")
        if nxt in ("\\mathcal", "\\mathscr"):
            self.next()
            name = "cal" + _slug(self.read_group())
        elif nxt in TEXT_CMDS:
            self.next()
            name = _slug(self.read_group())
        elif re.fullmatch(r"[A-Za-z]", nxt) or nxt.startswith("\\") and nxt[1:] in GREEK:
            self.next()
            name = _base_name(nxt)
        else:
            raise Unsupported(f"{tok} of an expression")
        if order and order != "1":
            raise Unsupported("higher derivative operator")
        if tok == "\\partial":
            if not wrt:
                raise Unsupported("partial derivative without its variable")
            key = f"d{name}/d{wrt}"
        else:
            key = f"nabla_{name}"
        return self.atom(key, is_function=self.peek(skip_space=False) in ("(", "_", "\\left"))

    def _limit(self) -> str:
        """``\\lim_{t \\to \\infty} X``: the operator ``limit(X, t)`` over the rest of the side (only at infinity)."""
        if self.peek() != "_":
            raise Unsupported("limit without its variable")
        self.next()
        below = [t for t in self.read_group() if not t.isspace()]
        if len(below) != 3 or below[1] not in ("\\to", "\\rightarrow") or below[2] != "\\infty" or not (
                below[0] in ("t", "k", "n", "T", "\\tau")):
            raise Unsupported("limit other than an index to infinity")
        rest = self.toks[self.pos:]
        self.pos = len(self.toks)
        self.shared.functions.add("limit")
        return f"F_{{\\mathit{{limit}}}}({self.sub(rest)}, {self.sub(below[:1])}) "

    def _next_bracket_top(self) -> tuple[list[str], bool]:
        """The tokens at the top level of the bracket group that starts at the next non-space token, and whether
        that group closes."""
        p = self.pos
        while p < len(self.toks) and self.toks[p].isspace():
            p += 1
        depth, top = 0, []
        for t in self.toks[p:]:
            if t in ("(", "[", "{", "\\{"):
                depth += 1
            elif t in (")", "]", "}", "\\}"):
                depth -= 1
                if depth == 0:
                    return top, True
            elif depth == 1:
                top.append(t)
        return top, False

    def _tuple_follows(self) -> bool:
        """Whether the next bracket holds a top-level comma or semicolon (a tuple of arguments)."""
        top, _closed = self._next_bracket_top()
        return any(t in (",", ";") for t in top)

    def _conditional_follows(self) -> bool:
        """Whether the next bracket holds exactly one top-level ``|`` or ``\\mid`` (a conditional, not |x|)."""
        top, closed = self._next_bracket_top()
        return closed and sum(t in ("|", "\\mid", "\\vert") for t in top) == 1

    def _norm_subscript(self) -> bool:
        """Consume ``_2`` / ``_{2}`` after a norm bar; False (nothing consumed) for another subscript."""
        save = self.pos
        self.next(skip_space=False)
        if "".join(self.read_group()).strip() in ("2",):
            return True
        self.pos = save
        return False

    def _applied(self, starts: tuple[str, ...]) -> bool:
        """Whether the next token (no space) is one of ``starts``, with a bracket after any primes."""
        p = self.pos
        while p < len(self.toks) and self.toks[p] == "'":
            p += 1
        return p < len(self.toks) and self.toks[p] == "(" and self.toks[self.pos] in starts

    def _name_follows(self) -> bool:
        nxt = self.peek(skip_space=True)
        return nxt is not None and (re.fullmatch(r"[A-Za-z]", nxt) is not None or nxt in FONT_STRIP
                                    or nxt.startswith("\\") and nxt[1:] in GREEK or _MACRO_NAME.fullmatch(nxt) is not None)

    def _word(self, first: str) -> str | None:
        """A run of letters that is a function name (sign, clip, Var, E) written without a backslash."""
        p = self.pos
        letters = first
        while p < len(self.toks) and re.fullmatch(r"[a-zA-Z]", self.toks[p]):
            letters += self.toks[p]
            p += 1
        if letters.lower() in FUNCTION_WORDS and (letters != "e") and self._bracket_follows(p):
            self.pos = p
            return self._apply(FUNCTION_WORDS[letters.lower()])
        q = p
        while q < len(self.toks) and self.toks[q] in ("\\left", "\\big", "\\Big", "\\bigl", "\\Bigl"):
            q += 1
        if letters in BARE_NATIVE and q < len(self.toks) and self.toks[q] == "(":
            self.pos = p  # tanh(x), exp(x) typed without a backslash: the function, not t*a*n*h times x
            return "\\" + letters + " "
        return None

    def _bracket_follows(self, p: int) -> bool:
        while p < len(self.toks) and (self.toks[p].isspace() or self.toks[p] in ("\\left", "\\big", "\\Big",
                                                                                    "\\bigl", "\\Bigl")):
            p += 1
        return p < len(self.toks) and self.toks[p] in ("(", "[")

    def _expectation(self) -> str:
        """``\\E_{x \\sim p}[f(x)]``, ``\\mathbb{E}_x f(x) g(x)``, ``\\E \\nabla f_i(x)``: the operator E.

        The subscript (the variable or distribution) is kept as the statement's expectation label, so that a
        statement comparing expectations over different distributions is left unread (``parse_formula``).
        Without a bracket, E applies to the product term that follows, up to the next top-level + or -.
        """
        label = ""
        if self.peek(skip_space=False) == "_":
            self.next(skip_space=False)
            label = _slug(self.read_script())
        self.shared.e_labels.append(label)
        if self._bracket_follows(self.pos):
            return self._apply("E")
        start = self.pos
        depth = 0
        end = start
        while end < len(self.toks):
            t = self.toks[end]
            if t in OPEN or t == "{":
                depth += 1
            elif t in CLOSE or t == "}":
                depth -= 1
                if depth < 0:
                    break
            elif depth == 0 and t in ("+", "-"):
                break
            end += 1
        operand = self.toks[start:end]
        if not any(not t.isspace() for t in operand):
            raise Unsupported("operator E without an operand")
        self.pos = end
        self.shared.functions.add("E")
        return f"F_{{\\mathit{{E}}}}({self.sub(operand)}) "

    def _arg_extremum(self, which: str, below: list[str]) -> str:
        """``x^* = \\argmin_{x} f(x)``: the minimiser, one opaque quantity named after the whole expression.

        Nothing is solved: the point is a name that no other formula defines, so a comparison with it is no
        evidence, and the statement is a definition of x^*. It takes the rest of the side as its objective.
        """
        if not below and self.peek() == "_":
            self.next()
            below = self.read_script()
        rest = self.toks[self.pos:]
        self.pos = len(self.toks)
        if not any(not t.isspace() for t in rest):
            raise Unsupported(f"{which} without an objective")
        key = f"{which}[{_slug(below)}]({_slug(rest)[:60]})"
        return self.atom(key, display=f"\\{which}_{{{''.join(below)}}} {''.join(rest).strip()}")

    def _skip_capital_t(self) -> None:
        """Consume ``^T`` / ``^{T}`` right after a bold name: a transpose there, never a power or a label."""
        p = self.pos
        if p < len(self.toks) and self.toks[p] == "^":
            rest = self.toks[p + 1:p + 4]
            if rest[:1] == ["T"]:
                del self.toks[p:p + 2]
            elif rest == ["{", "T", "}"]:
                del self.toks[p:p + 4]

    def _subscript_after_bracket(self) -> bool:
        """Whether the ``[…]`` at the cursor is followed directly by ``_``."""
        depth = 0
        for q in range(self.pos, len(self.toks)):
            t = self.toks[q]
            if t in ("[", "(", "{"):
                depth += 1
            elif t in ("]", ")", "}"):
                depth -= 1
                if depth == 0:
                    return q + 1 < len(self.toks) and self.toks[q + 1] == "_"
        return False

    def _summand_index(self) -> str | None:
        return _summand_index_of(self.toks[self.pos:])

    def _digits_name(self) -> bool:
        """Whether the letter just read stands alone and is followed, without a space, by one or two digits that
        end the word (``w1 =``, ``o2,``): a name with a number. ``2x1`` and ``x1.5`` are not."""
        before = self.toks[self.pos - 2] if self.pos >= 2 else ""
        if re.fullmatch(r"[A-Za-z0-9.]", before):
            return False
        p = self.pos
        while p < len(self.toks) and p - self.pos < 3 and self.toks[p].isdigit():
            p += 1
        after = self.toks[p] if p < len(self.toks) else ""
        return 0 < p - self.pos <= 2 and not re.fullmatch(r"[A-Za-z0-9.({\[]", after)

    def _operand_follows(self) -> bool:
        nxt = self.peek()
        return nxt is not None and nxt not in ("+", "-", "=", ")", "]", "}", ",", "^", "_", "'")

    def _subscripted_bracket_follows(self) -> bool:
        """Whether the tokens at the cursor are ``_x`` or ``_{…}`` followed directly by ``[``."""
        p = self.pos + 1
        while p < len(self.toks) and self.toks[p].isspace():
            p += 1
        if p >= len(self.toks):
            return False
        if self.toks[p] == "{":
            depth = 0
            for q in range(p, len(self.toks)):
                depth += {"{": 1, "}": -1}.get(self.toks[q], 0)
                if depth == 0:
                    p = q
                    break
            else:
                return False
        p += 1
        while p < len(self.toks) and (self.toks[p].isspace() or self.toks[p] in ("\\left", "\\big", "\\Big")):
            p += 1
        return p < len(self.toks) and self.toks[p] in ("[", "\\lbrack")

    def _apply(self, name: str) -> str:
        opener = self.next()
        inner = self.read_bracketed(opener)
        if name == "E" and self.peek(skip_space=False) == "_":
            # E[g^2]_t (AdaDelta, RMSProp): the running average of g^2 at step t, the quantity <g^2>_t names
            return self.atom(f"<{_slug(inner)}>", "avg", display=f"E[{''.join(inner).strip()}]")
        self.shared.functions.add(name)
        args = ", ".join(self.sub(part) for part in _split_top(inner, {","}))
        return f"F_{{\\mathit{{{operator_token(name)}}}}}({args}) "

    def _function_or_atom(self, word: str, original: str, annotation: bool = False) -> str:
        if re.fullmatch(r"[A-Za-z]+(?:_[A-Za-z]+)+", original):
            # \mathrm{decay_steps}: a code identifier, one name (a function when applied to a tuple)
            return self.atom(original.replace("_", ""), display=original)
        if word in BARE_NATIVE and self.peek() == "(":
            return "\\" + word + " "  # \text{cos}(\phi), \mathrm{exp}(x): the function itself
        if re.fullmatch(r"[A-Za-z]{2,}", original) and self.peek(skip_space=False) == "[" and self._subscript_after_bracket():
            # \text{RMS}[g]_t (AdaDelta): a running quantity named after its argument, at step t
            self.next()
            inner = self.read_bracketed("[")
            return self.atom(f"{original}[{_slug(inner)}]", display=f"\\text{{{original}}}[{''.join(inner).strip()}]")
        if word in FUNCTION_WORDS and self._bracket_follows(self.pos):
            return self._apply(FUNCTION_WORDS[word])
        if word not in FUNCTION_WORDS and re.fullmatch(r"[A-Za-z][A-Za-z0-9]+", original) and \
                self.peek() == "(" and self.pos < len(self.toks) and not self.toks[self.pos].isspace():
            # \text{Loss}(w, X, y), \mathrm{BatchNorm}(x): a named function of its arguments
            return self.atom(original, is_function=True)
        if word in FUNCTION_WORDS and word not in ("e",):
            # an operator applied without brackets (\operatorname{Var} x): unsupported
            raise Unsupported(f"operator {original} without brackets")
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]+", original) and self.peek(skip_space=False) in ("_", "^"):
            # \mathrm{BN}_{\gamma,\beta}(x), \text{lr}_t: a named quantity with its labels or indices, not prose
            return self.atom(original, is_function=True)
        if annotation and not re.fullmatch(r"[A-Za-z]", original):
            return " "  # \text{ for all } and similar prose inside maths
        return self.atom(original)

    def _fraction(self, num: list[str], den: list[str]) -> str:
        n, d = "".join(num).replace(" ", ""), "".join(den).replace(" ", "")
        if re.match(r"(d|\\partial)", d) and re.match(r"(d|\\partial)", n) and len(d) > 1:
            # a derivative: an opaque atom named after it (dL/dw), or an operator d/dw applied to a bracket
            if n in ("d", "\\partial"):
                return self._derivative_of_next(n, den)
            return self.atom("d" + _slug(num[1:]) + "/d" + _slug(den[1:]), display=f"\\frac{{{n}}}{{{d}}}")
        return f"\\frac{{{self.sub(num)}}}{{{self.sub(den)}}}"

    def _derivative_of_next(self, d: str, den: list[str]) -> str:
        """``\\frac{d}{dx} f(x)``, ``\\frac{\\partial}{\\partial w} L``: the derivative of the name that follows,
        the same quantity as ``\\frac{df}{dx}``; an operator applied to an expression stays unread."""
        nxt = self.peek()
        if nxt is None or not (re.fullmatch(r"[A-Za-z]", nxt) or nxt.startswith("\\") and nxt[1:] in GREEK
                               or nxt in ("\\mathcal", "\\mathscr")):
            raise Unsupported("derivative operator")
        self.next()
        name = "cal" + _slug(self.read_group()) if nxt in ("\\mathcal", "\\mathscr") else _base_name(nxt)
        if nxt == "\\sigma" and self.peek(skip_space=False) == "(":
            name = "sigmoid"
        if self.peek(skip_space=False) in ("_", "^", "'"):
            raise Unsupported("derivative operator")
        variable = _slug(den[1:]) if den and den[0] in ("d", "\\partial") else ""
        if not variable:
            raise Unsupported("derivative operator")
        if self.peek(skip_space=False) == "(":
            # f(x) after d/dx: the derivative at the variable itself, f'(x) (df/dx for a partial); at another
            # point it stays unread
            save = self.pos
            self.next()
            at_variable = _slug(self.read_bracketed("(")) == variable
            if not at_variable:
                raise Unsupported("derivative operator at a point")
            if d == "d":
                self.pos = save
                self.toks[self.pos:self.pos] = ["'"]
                return self.atom(name, is_function=True)
        return self.atom(f"d{name}/d{variable}", display=f"\\frac{{{d}{name}}}{{{''.join(den)}}}")

    def _big_operator(self, op: str) -> str:
        lower: list[str] = []
        upper: list[str] = []
        for _ in range(2):
            nxt = self.peek()
            if nxt == "_":
                self.next()
                lower = self.read_group()
            elif nxt == "^":
                self.next()
                upper = self.read_group()
        plain = [t for t in lower if not t.isspace()]
        if not plain and not upper:
            index = self._summand_index()
            if index:
                plain = [index]  # \sum w_j x_j: over the one index its summand carries
        if "=" in plain:
            split = lower.index("=")
            var, start = lower[:split], lower[split + 1:]
            if not upper:
                raise Unsupported("sum without an upper limit")
            return f"{op}_{{{self.sub(var)}={self.sub(start)}}}^{{{self.sub(upper)}}} "
        if plain and not upper:
            # \sum_{i \text{ in mb}} or \sum_b: over a set, 1..|set| with |set| an integer placeholder
            var = plain[0]
            rest = _slug(plain[1:]) or "all"
            if len([t for t in plain if t == ","]) or "\\neq" in plain:
                raise Unsupported("sum over a constrained set")
            size = self.atom("|" + rest.replace("in", "").strip() + "|" if rest != "all" else f"|{var.strip(chr(92))}|")
            return f"{op}_{{{self.sub([var])}=1}}^{{{size}}} "
        raise Unsupported("sum without limits")


_SUBSCRIPT_LETTER = re.compile(r"_(?:\{\s*([a-z])\s*\}|([a-z]))")


def _summand_index_of(tokens: list[str]) -> str | None:
    """The one index letter the summand's subscripts carry (up to the next top-level + or -), else None."""
    depth, end = 0, len(tokens)
    for q, t in enumerate(tokens):
        if t in OPEN or t == "{":
            depth += 1
        elif t in CLOSE or t == "}":
            depth -= 1
        elif depth == 0 and t in ("+", "-", "=") and q > 0:
            end = q
            break
    letters = {a or b for a, b in _SUBSCRIPT_LETTER.findall("".join(tokens[:end]))}
    letters = {x for x in letters if x in INDEX_LETTERS}
    return letters.pop() if len(letters) == 1 else None


def _letters(words: list[str]) -> list[str]:
    out = []
    for w in words:
        if re.fullmatch(r"[A-Za-z]", w):
            out.append(w)
        elif w.startswith("\\") and w[1:] in GREEK:
            out.append(w[1:])
    return out


def _slug(tokens: list[str]) -> str:
    """A compact name for a group of tokens: ``\\text{mb}`` -> mb, ``g^2`` -> g^2, ``\\hat\\mu`` -> hatmu."""
    text = "".join(t for t in tokens if not t.isspace())
    text = re.sub(r"\\(text|mathrm|mathbf|mathit|rm|operatorname|boldsymbol|bm|mathcal|left|right)", "", text)
    text = text.replace("\\", "").replace("{", "").replace("}", "").replace(" ", "")
    return text


def _base_name(token: str) -> str:
    return token[1:] if token.startswith("\\") else token


def _split_top(tokens: list[str], separators: set[str]) -> list[list[str]]:
    """Split tokens on separators outside any brackets or braces."""
    parts: list[list[str]] = [[]]
    depth = 0
    for t in tokens:
        if t in OPEN or t == "{" or t == "\\left":
            depth += 1 if t != "\\left" else 0
        elif t in CLOSE or t == "}":
            depth -= 1
        if t in separators and depth == 0:
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if any(not t.isspace() for t in p)]


def normalise_side(latex: str, shared: Normalised | None = None) -> Normalised:
    """Rewrite one side (no relation symbols) for the parser; raises Unsupported or TooLarge."""
    shared = shared if shared is not None else Normalised(latex="")
    shared.latex = _Rewriter(tokenize(latex), shared).run().strip()
    if not shared.latex:
        raise Unsupported("empty side")
    return shared
