"""The result of a verification run: verinit.Result, its cases and their tests."""

from __future__ import annotations

import copy
import html
import json
import math
import os
from typing import Any, Dict, List, Optional


def _number(value: Any) -> float:
    # The JSON's encoding of non-finite numbers: null is NaN, "inf"/"-inf" the infinities.
    if value is None:
        return math.nan
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    return float(value)


_TEST_KEYS = ("name", "statistic", "p_value", "p_adjusted", "passed", "exact", "informational",
              "suspicious", "note")


class Test:
    """One test of one case: `name`, `statistic`, `p_value` (raw), `p_adjusted` (Holm over the
    run), `passed`, `exact` (a deterministic check, no p-value), `informational` (reported, not
    decided: a shape test a rule's ks tolerance stands in for), `note`, and `values` (the test's
    named extras: expected value, confidence interval, tolerance, ...)."""

    __slots__ = ("name", "statistic", "p_value", "p_adjusted", "passed", "exact", "informational",
                 "suspicious", "note", "values")

    def __init__(self, entry: Dict[str, Any]):
        self.name: str = entry["name"]
        self.statistic: float = _number(entry["statistic"])
        self.p_value: float = _number(entry["p_value"])
        self.p_adjusted: float = _number(entry["p_adjusted"])
        self.passed: bool = bool(entry["passed"])
        self.exact: bool = bool(entry["exact"])
        self.informational: bool = bool(entry.get("informational", False))
        self.suspicious: bool = bool(entry["suspicious"])
        self.note: str = entry["note"]
        self.values: Dict[str, float] = {
            k: _number(v) for k, v in entry.items() if k not in _TEST_KEYS
        }

    def __repr__(self) -> str:
        p = "exact" if self.exact else f"p={self.p_value:.3g} (adjusted {self.p_adjusted:.3g})"
        verdict = "info" if self.informational else "ok" if self.passed else "FAIL"
        return f"<Test {self.name}: {self.statistic:.6g} {p} {verdict}>"


class Case:
    """One verified tensor or scheme: `scheme` (as written), `canonical`, `law`, `tensor` (its
    name in a model, or None), `rule`, `shape` (whose fans define the law), `tensor_shape` (the
    tensor's own shape where it differs, e.g. a bias with its weight's fans; else `shape`),
    `layout`, `dtype`, `n`, `passed`, `tests`,
    `diagnosis` (what a failure looks like; None when it passed), `tolerance` (the rule's
    equivalence margins, {"variance", "mean", "ks"}, or None: the exact law), `origin` (the
    call that set the law and its site, for a recorded model; else None)."""

    def __init__(self, entry: Dict[str, Any]):
        self.scheme: str = entry["scheme"]
        self.canonical: str = entry["canonical"]
        self.law: str = entry["law"]
        self.tensor: Optional[str] = entry.get("tensor")
        self.rule: Optional[str] = entry.get("rule")
        self.origin: Optional[str] = entry.get("origin")  # the call that set the law, if known
        self.source: str = entry["source"]
        self.shape: tuple = tuple(entry["shape"])
        self.tensor_shape: tuple = tuple(entry.get("tensor_shape", entry["shape"]))
        self.layout: str = entry["layout"]
        self.dtype: str = entry["dtype"]
        self.n: int = int(entry["n"])
        self.passed: bool = bool(entry["passed"])
        self.diagnosis: Optional[str] = entry.get("diagnosis")
        self.tolerance: Optional[Dict[str, float]] = entry.get("tolerance")
        self.tests: List[Test] = [Test(t) for t in entry["tests"]]

    @property
    def failed_tests(self) -> List[Test]:
        return [t for t in self.tests if not t.passed]

    def describe(self) -> str:
        """Several lines: the verdict, the law, each test, the diagnosis."""
        name = f"{self.tensor}: " if self.tensor else ""
        shape = ",".join(str(d) for d in self.shape)
        lines = [
            f"{'PASS' if self.passed else 'FAIL'}  {name}{self.canonical}  "
            f"[{shape} {self.layout} {self.dtype}]  n={self.n}",
            f"      law: {self.law}",
        ]
        for t in self.tests:
            p = "exact" if t.exact else f"p={t.p_value:.3g} adj={t.p_adjusted:.3g}"
            verdict = "info" if t.informational else "ok" if t.passed else "FAIL"
            lines.append(f"      {t.name:<26}{t.statistic:>14.6g}  {p:<24}{verdict}")
        if self.diagnosis:
            lines.append(f"      diagnosis: {self.diagnosis}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        name = f" {self.tensor}" if self.tensor else ""
        return f"<Case{name} {self.canonical}: {'passed' if self.passed else 'FAILED'}>"


class Result:
    """What :func:`verinit.verify` and :func:`verinit.verify_model` return.

    `passed` (also the truth value: ``assert verinit.verify(w, "he_normal")`` works), `cases`
    (one per scheme or tensor), `tests` (every test of every case, in order), `notes` (what
    the Python side did: a copy from CUDA, skipped and tied tensors), `unmatched` (tensors no
    rule matched: they fail the run), `pooled` (a model's tests pooled per rule), `to_dict()` (the JSON document, as ``verinit verify
    --json`` writes it), `to_json()`, `write_report(dir)`, and in Jupyter the report inline.
    """

    def __init__(self, run: Any, notes: Optional[List[str]] = None, rerun: Any = None):
        self._run = run  # the run without summaries
        self._rerun = rerun  # the same run with them, for a report
        self._report_run: Any = None
        self._document_cache: Optional[Dict[str, Any]] = None
        self._cases: Optional[List[Case]] = None
        self._python_notes: List[str] = [n for n in (notes or []) if n]
        self.notes: List[str] = list(run.notes) + self._python_notes
        self.unmatched: List[str] = list(run.unmatched)
        self.skipped: List[str] = list(run.skipped)
        self.tied: Dict[str, str] = dict(run.tied)
        self.passed: bool = bool(run.passed)

    # The document and the cases are made when first asked for: a passing verify() in a loop
    # over a model's tensors reads only `passed`.
    @property
    def _document(self) -> Dict[str, Any]:
        if self._document_cache is None:
            document = json.loads(self._run.to_json())
            if self._python_notes:
                document["notes"] = self.notes
            self._document_cache = document
        return self._document_cache

    @property
    def cases(self) -> List[Case]:
        if self._cases is None:
            self._cases = [Case(c) for c in self._document["schemes"]]
        return self._cases

    def _with_summaries(self) -> Any:
        """The run with the samples' summaries (for the report), made once; refuses if the data
        changed since the verification."""
        if self._report_run is None:
            if self._rerun is None:
                return self._run
            full = self._rerun()

            def statistics(run: Any) -> list:
                return [[(t["name"], t["statistic"], t["p_value"]) for t in c["tests"]]
                        for c in json.loads(run.to_json())["schemes"]]

            if statistics(full) != statistics(self._run):
                raise ValueError("the data changed after verify(): the report would not be "
                                 "of the verified values (verify them again)")
            self._report_run = full
        return self._report_run

    @property
    def pooled(self) -> List[Dict[str, Any]]:
        """A model run's pooled tests, one per rule of two or more tensors: dicts of `rule`,
        `tensors`, `n`, `passed`, `tests` (pooled_variance, pooled_mean, and for i.i.d. laws
        pooled_ks and pooled_anderson_darling of the tensors' pooled probability-integral
        transforms) and `detectable` (the relative variance error and mean shift common to the
        tensors found with 99% power)."""
        return list(self._document.get("pooled", []))

    @property
    def tests(self) -> List[Test]:
        return [t for c in self.cases for t in c.tests]

    @property
    def failed(self) -> List[Case]:
        return [c for c in self.cases if not c.passed]

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> Dict[str, Any]:
        """The results document (a deep copy): what ``verinit verify --json`` writes (but for
        the samples' summaries, which only write_report computes), with `unmatched`, `skipped`,
        `tied` and `notes` where there are any."""
        return copy.deepcopy(self._document)

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self._document, indent=indent) + "\n"

    def write_report(self, directory: "str | os.PathLike[str]") -> str:
        """Writes the report directory (index.html, summary.md, results.json, junit.xml),
        replacing an earlier report there whole; returns the path of index.html."""
        path = os.fspath(directory)
        self._with_summaries().write_report(path)
        return os.path.join(path, "index.html")

    def summary(self) -> str:
        failed = len(self.failed)
        text = (f"{'PASSED' if self.passed else 'FAILED'}: {len(self.cases) - failed} of "
                f"{len(self.cases)} cases passed, {len(self.tests)} tests (Holm over "
                f"{self._document['family_size']} at family-wise alpha {self._document['alpha']})")
        if self.unmatched:
            text += f"; {len(self.unmatched)} tensors matched no rule: " + ", ".join(
                self.unmatched[:10]) + (" ..." if len(self.unmatched) > 10 else "")
        return text

    def __repr__(self) -> str:
        lines = [c.describe() for c in sorted(self.cases, key=lambda c: c.passed)[:20]]
        if len(self.cases) > 20:
            lines.append(f"... and {len(self.cases) - 20} more cases")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        # The report page (self-contained: inline CSS and SVG, no script) in an iframe, so its
        # styles stay out of the notebook's.
        page = self._with_summaries().to_html()
        return (f'<p><b>{html.escape(self.summary())}</b></p><iframe srcdoc="'
                f'{html.escape(page, quote=True)}" style="width:100%;height:640px;border:1px '
                f'solid #ddd"></iframe>')
