"""The corpus of other people's models: every torchvision and torchaudio builder that constructs
on this machine (weights=None, nothing downloaded), built under verinit.torch.record() and
verified with no rules.

For each model: tensors, weights, the construction time without and with the recorder (median
of --repeat builds each, interleaved, fresh seed 0), the verification time, and the verdict
with the failing tensors and why. Writes a JSON document and prints a Markdown table.

    PYTHONPATH=build/release/python /usr/bin/python3 tests/bench/model_corpus.py \
        [--models resnet18,swin_t] [--repeat 3] [--json corpus.json] [--skip a,b]
    /usr/bin/python3 tests/bench/model_corpus.py --render corpus.json,rerun.json   # the table

A model fails the corpus only for a reason verinit names; a sampler bug (PyTorch's
trunc_normal_ returning exactly its bound a: pytorch#155588) is reported as such.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import statistics
import sys
import time
import traceback

# torch, torchvision, torchaudio and verinit are imported where a run needs them: --render
# reads JSON only.

# torchaudio's model builders (torchaudio 0.13.1), with the arguments they require.
_DEMUCS = {"sources": ["bass", "drums", "vocals", "other"]}
_AUDIO = {
    "conv_tasnet_base": {}, "hdemucs_low": _DEMUCS, "hdemucs_medium": _DEMUCS,
    "hdemucs_high": _DEMUCS, "wav2vec2_base": {}, "wav2vec2_large": {},
    "wav2vec2_large_lv60k": {}, "hubert_base": {}, "hubert_large": {}, "hubert_xlarge": {},
    "wavlm_base": {}, "wavlm_large": {}, "emformer_rnnt_base": {"num_symbols": 4097},
}
_AUDIO_CLASSES = {
    "Wav2Letter": {}, "WaveRNN": dict(upsample_scales=[5, 5, 8], n_classes=512, hop_length=200),
    "Tacotron2": {}, "DeepSpeech": dict(n_feature=80),
}


def builders(selected):
    import torchaudio
    import torchvision

    out = []
    for name in torchvision.models.list_models():
        kwargs = {"weights": None}
        if "weights_backbone" in inspect.signature(torchvision.models.get_model_builder(name)).parameters:
            kwargs["weights_backbone"] = None  # else a backbone is downloaded
        out.append((f"torchvision.models:{name}",
                    lambda name=name, kwargs=kwargs: torchvision.models.get_model(name, **kwargs)))
    for name, kwargs in _AUDIO.items():
        if hasattr(torchaudio.models, name):
            out.append((f"torchaudio.models:{name}",
                        lambda name=name, kwargs=kwargs: getattr(torchaudio.models, name)(**kwargs)))
    for name, kwargs in _AUDIO_CLASSES.items():
        if hasattr(torchaudio.models, name):
            out.append((f"torchaudio.models:{name}",
                        lambda name=name, kwargs=kwargs: getattr(torchaudio.models, name)(**kwargs)))
    if selected:
        wanted = set(selected)
        out = [(n, b) for n, b in out if n.split(":")[1] in wanted or n in wanted]
    return out


def timed_build(build, recorded):
    import torch
    import verinit.torch as vt

    torch.manual_seed(0)
    gc.collect()
    start = time.perf_counter()
    if recorded:
        with vt.record():
            model = build()
    else:
        model = build()
    return model, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default="")
    parser.add_argument("--skip", default="", help="builders to leave out")
    parser.add_argument("--max-params", type=float, default=float("inf"),
                        help="skip models with more weights (memory of this machine)")
    parser.add_argument("--render", default="", help="only print the table of these JSON "
                        "documents (comma-separated; later rows replace earlier ones)")
    args = parser.parse_args()
    if args.render:
        merged = {}
        for path in args.render.split(","):
            for r in json.load(open(path))["rows"]:
                merged[r["model"]] = r
        print(table(list(merged.values())))
        return 0
    import torch
    import torchaudio
    import torchvision

    import verinit

    torch.set_num_threads(2)
    rows = []
    skip = {m for m in args.skip.split(",") if m}
    for name, build in builders([m for m in args.models.split(",") if m]):
        if name.split(":")[1] in skip:
            continue
        row = {"model": name}
        try:
            plain, recorded = [], []
            model = None
            for _ in range(args.repeat):
                model, t = timed_build(build, False)
                plain.append(t)
                del model
                model, t = timed_build(build, True)
                recorded.append(t)
                if t > 5:  # a big model: one pair of builds is enough to time it
                    break
            state = model.state_dict()
            row["tensors"] = len(state)
            row["weights"] = sum(t.numel() for t in state.values() if t.is_floating_point())
            if row["weights"] > args.max_params:
                row["skipped"] = "more weights than --max-params"
                rows.append(row)
                continue
            row["build_s"] = statistics.median(plain)
            row["record_s"] = statistics.median(recorded)
            start = time.perf_counter()
            result = verinit.verify_model(model)
            row["verify_s"] = time.perf_counter() - start
            row["passed"] = result.passed
            row["failed"] = [
                {"tensor": c.tensor, "rule": c.rule,
                 "tests": [f"{t.name} p={t.p_value:.3g}" for t in c.failed_tests]}
                for c in result.failed]
            row["unmatched"] = result.unmatched
            row["notes"] = [n for n in result.notes if "record" in n or "written" in n]
            row["diagnoses"] = {c.tensor: c.diagnosis for c in result.failed}
        except Exception as error:  # a builder that does not construct here is listed
            row["error"] = f"{type(error).__name__}: {error}"
            traceback.print_exc(limit=2)
        rows.append(row)
        print(json.dumps(row)[:400], file=sys.stderr, flush=True)
        model = None
        gc.collect()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__,
                       "torchaudio": torchaudio.__version__, "rows": rows}, f, indent=1)
    print(table(rows))
    # The corpus passes where every model passes, or fails only by the named sampler bug.
    bad = [r["model"] for r in rows if "error" in r or verdict(r).startswith("FAIL")]
    if bad:
        print(f"corpus: {len(bad)} models fail or do not build: {', '.join(bad)}",
              file=sys.stderr)
    return 1 if bad else 0


def verdict(r):
    """pass; FAIL with the tensors; or the named sampler bug when it is every failure."""
    if r["passed"]:
        return "pass"
    diagnoses = r.get("diagnoses", {})
    atoms = [t for t, d in diagnoses.items() if "pytorch#155588" in d]
    if atoms and len(atoms) == len(r["failed"]) and not r["unmatched"]:
        return (f"sampler bug only: PyTorch's trunc_normal_ returned exactly -2 "
                f"(pytorch#155588) in {len(atoms)} tensor{'s' if len(atoms) > 1 else ''}")
    return "FAIL " + ", ".join(f["tensor"] for f in r["failed"][:3]) + (
        f" unmatched {r['unmatched'][:3]}" if r["unmatched"] else "")


def table(rows):
    out = ["| model | tensors | weights | build s | under record() s | overhead | verify s | "
           "verdict |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r or "skipped" in r:
            out.append(f"| {r['model']} | | | | | | | {r.get('error') or r.get('skipped')} |")
            continue
        out.append(f"| {r['model'].split(':')[1]} | {r['tensors']} | {r['weights']:,} | "
                   f"{r['build_s']:.3f} | {r['record_s']:.3f} | "
                   f"{100 * (r['record_s'] / r['build_s'] - 1):+.0f}% | {r['verify_s']:.2f} | "
                   f"{verdict(r)} |")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
