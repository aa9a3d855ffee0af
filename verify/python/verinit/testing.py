"""Assertions for test suites: the line a framework's test writes instead of a 400-sample
``kstest``.

    from verinit.testing import assert_follows
    assert_follows(torch.nn.init.kaiming_normal_(torch.empty(512, 1024)), "kaiming_normal")
"""

from __future__ import annotations

from typing import Any

__all__ = ["assert_follows", "assert_model_follows"]


def _message(result: Any, what: str) -> str:
    lines = [f"{what}: {result.summary()}"]
    for case in result.failed[:10]:
        name = f"{case.tensor}: " if case.tensor else ""
        shape = ",".join(str(d) for d in case.shape)
        lines.append(f"  {name}{case.canonical} [{shape} {case.layout} {case.dtype}], "
                     f"n={case.n}, law {case.law}")
        for t in case.failed_tests:
            p = "exact check" if t.exact else f"adjusted p {t.p_adjusted:.3g}"
            lines.append(f"    {t.name}: statistic {t.statistic:.6g}, {p} ({t.note})")
        if case.diagnosis:
            lines.append(f"    diagnosis: {case.diagnosis}")
    if len(result.failed) > 10:
        lines.append(f"  ... and {len(result.failed) - 10} more failed cases")
    if result.unmatched:
        lines.append("  no rule matches: " + ", ".join(result.unmatched[:20])
                     + (" ..." if len(result.unmatched) > 20 else ""))
    return "\n".join(lines)


def assert_follows(data: Any, expect: str, **options: Any) -> Any:
    """Raises AssertionError unless `data` follows scheme `expect` (verinit.verify with
    `options`); the message names the scheme, each failing test with its statistic and adjusted
    p-value, and the diagnosis. Returns the Result when it passes."""
    from . import verify

    result = verify(data, expect, **options)
    if not result.passed:
        raise AssertionError(_message(result, f"the data do not follow {expect}"))
    return result


def assert_model_follows(source: Any, rules: Any = None, **options: Any) -> Any:
    """Raises AssertionError unless every tensor of `source` follows its rule
    (verinit.verify_model); the message names each failing tensor, its tests and diagnosis, and
    the tensors no rule matched. Returns the Result when it passes."""
    from . import verify_model

    result = verify_model(source, rules, **options)
    if not result.passed:
        raise AssertionError(_message(result, "the model's tensors do not follow their rules"))
    return result
