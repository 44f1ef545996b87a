"""Forward throughput of alexnet_ref against a plain torch.nn.Sequential baseline.

``make bench`` (= ``python -m tools.bench``) times, side by side in one run and with the
same weights and input:

* ``baseline``: the same network built directly from torch layers (``nn.Conv2d``,
  ``nn.ReLU``, ``nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)``, ``nn.MaxPool2d``,
  ``nn.Flatten``, ``nn.Linear``, ``nn.Dropout``, ``nn.Softmax``) in eval mode;
* ``baseline channels_last``: the baseline with model and input in channels_last;
* ``AlexNet``: ``alexnet_ref.AlexNet`` in eval mode (its default ``fast=True`` path, see
  ``alexnet_ref.fast``);
* ``AlexNet fast=False``: the same module running its plain teaching forward pass, which
  shows what ``alexnet_ref.fast`` buys;
* ``alexnet_forward``: the functional ``alexnet_ref.alexnet_forward``;
* ``baseline compile`` / ``AlexNet compile``: ``torch.compile`` of the two modules
  (batch 8 only by default: the first call compiles for 10-20 s);
* ``mm 4096``: ``torch.mm`` of two 4096x4096 float32 matrices, the machine's matmul rate.

Everything runs under ``torch.inference_mode``.  The repetitions of all variants of a batch
size are interleaved (round-robin, the order rotated every round) and the median is
reported, so that the load of a shared machine hits every variant alike.  A row reports
images/s, GFLOP/s (2 x ``alexnet_ref.total_macs()`` per image), the ratio to the baseline,
the fraction of the matmul rate, and the largest difference of its probabilities from the
baseline's.  Times and rates are medians; the ratio to the baseline and the fraction of the
matmul rate are medians of per-round ratios (each round's time against the baseline's and
the matmul's of the same round), which cancels most of the load of other processes.  On a GPU (``--device cuda``; the default when one is available) the same
table is measured on it, synchronising around every timed call.

The results go to ``bench-results/bench.json`` (``--json``).  ``--malloc both`` repeats the
run in a child process with glibc's malloc tuned through environment variables (they must
be set before the process starts); alexnet_ref itself never sets them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import alexnet_ref

DEFAULT_JSON = Path("bench-results/bench.json")
MALLOC_JSON = Path("bench-results/bench-malloc.json")
# glibc malloc: serve blocks up to 32 MiB (the largest threshold glibc accepts) from the heap,
# never give freed memory back to the kernel, and back large mmap'd blocks with huge pages.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 40),
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
}
MM_SIZE = 4096
BASELINE = "baseline"


def baseline_sequential(model: alexnet_ref.AlexNet) -> nn.Sequential:
    """The same network from stock torch layers, holding copies of ``model``'s weights."""
    lrn = dict(size=alexnet_ref.LRN["n"], alpha=alexnet_ref.LRN["n"] * alexnet_ref.LRN["alpha"],
               beta=alexnet_ref.LRN["beta"], k=alexnet_ref.LRN["k"])
    seq = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 1000), nn.Softmax(dim=1),
    )
    weighted = [m for m in seq if isinstance(m, (nn.Conv2d, nn.Linear))]
    names = [s.name for s in alexnet_ref.ARCHITECTURE if s.kind in ("conv", "fc")]
    state = model.state_dict()
    with torch.no_grad():
        for layer, name in zip(weighted, names, strict=True):
            layer.weight.copy_(state[f"{name}.weight"])
            layer.bias.copy_(state[f"{name}.bias"])
    return seq.eval()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _compile(module: nn.Module) -> Callable:
    return torch.compile(module, dynamic=False)


def bench(device: torch.device, batches: list[int], reps: int, compile_batches: set[int],
          log=print) -> dict:
    torch.manual_seed(0)
    gflop_per_image = 2 * alexnet_ref.total_macs() / 1e9
    model = alexnet_ref.AlexNet(seed=0).eval().to(device)
    plain = alexnet_ref.AlexNet(seed=0, fast=False).eval().to(device)
    base = baseline_sequential(model).to(device)
    base_cl = baseline_sequential(model).to(device, memory_format=torch.channels_last)
    params = model.state_dict()
    a = torch.randn(MM_SIZE, MM_SIZE, device=device)
    b = torch.randn(MM_SIZE, MM_SIZE, device=device)
    c = torch.empty(MM_SIZE, MM_SIZE, device=device)
    mm_gflop = 2 * MM_SIZE ** 3 / 1e9
    compiled: dict[str, Callable] = {}
    rows, mm_times, compile_first = [], [], {}
    gen = torch.Generator().manual_seed(1)

    with torch.inference_mode():
        torch.mm(a, b, out=c)
        for batch in batches:
            x = torch.randn(batch, 3, 227, 227, generator=gen).to(device)
            x_cl = x.contiguous(memory_format=torch.channels_last)
            variants: dict[str, Callable[[], torch.Tensor]] = {
                BASELINE: lambda: base(x),
                "baseline channels_last": lambda: base_cl(x_cl),
                "AlexNet": lambda: model(x),
                "AlexNet fast=False": lambda: plain(x),
                "alexnet_forward": lambda: alexnet_ref.alexnet_forward(x, params),
            }
            if batch in compile_batches:
                for name, module in (("baseline compile", base), ("AlexNet compile", model)):
                    if name not in compiled:
                        compiled[name] = _compile(module)
                    fn = compiled[name]
                    variants[name] = lambda fn=fn: fn(x)
            outputs = {}
            for name, fn in variants.items():        # warm-up; the first compiled call compiles
                first = _timed(lambda: outputs.__setitem__(name, fn()), device)
                if "compile" in name:
                    compile_first[f"{name} @ batch {batch}"] = first
                    log(f"  batch {batch}: {name} first call (compilation) {first:.1f} s")
                fn()
            ref = outputs[BASELINE].double()
            times: dict[str, list[float]] = {name: [] for name in variants}
            round_mm: list[float] = []
            order = list(variants) + ["mm"]
            for r in range(reps):
                shift = r % len(order)
                for name in order[shift:] + order[:shift]:
                    if name == "mm":
                        round_mm.append(_timed(lambda: torch.mm(a, b, out=c), device))
                    else:
                        times[name].append(_timed(variants[name], device))
            mm_times += round_mm
            for name, ts in times.items():
                med = statistics.median(ts)
                # Paired estimates: each round's time against the baseline's and the matmul's
                # of the same round, so that a load spike on a shared machine cancels out.
                pairs = list(zip(ts, times[BASELINE], round_mm))
                out = outputs[name].double()
                rows.append({
                    "device": device.type, "batch": batch, "variant": name,
                    "median_s": med, "min_s": min(ts), "times_s": ts,
                    "images_per_s": batch / med,
                    "gflops": batch * gflop_per_image / med,
                    "max_rel_diff_probs": ((out - ref).abs().max() / ref.abs().max()).item(),
                    "argmax_agrees": bool(torch.equal(out.argmax(1), ref.argmax(1))),
                    "vs_baseline": statistics.median(tb / t for t, tb, _ in pairs),
                    "fraction_of_mm": statistics.median(batch * gflop_per_image * tm / (mm_gflop * t)
                                                        for t, _, tm in pairs),
                })
            log(f"  batch {batch}: done")

    mm_med = statistics.median(mm_times)
    mm_rate = mm_gflop / mm_med
    return {
        "rows": rows,
        "load_average_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "mm": {"size": MM_SIZE, "median_s": mm_med, "gflops": mm_rate, "times_s": mm_times},
        "compile_first_call_s": compile_first,
        "gflop_per_image": gflop_per_image,
    }


def table(result: dict) -> str:
    head = (f"{'batch':>5}  {'variant':<24}{'ms/batch':>10}{'img/s':>9}{'GFLOP/s':>9}"
            f"{'x base':>8}{'% mm':>7}{'rel diff':>10}")
    lines = [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(f"{r['batch']:>5}  {r['variant']:<24}{r['median_s'] * 1e3:>10.1f}{r['images_per_s']:>9.1f}"
                     f"{r['gflops']:>9.1f}{r['vs_baseline']:>8.2f}{100 * r['fraction_of_mm']:>6.0f}%"
                     f"{r['max_rel_diff_probs']:>10.1e}" + ("" if r["argmax_agrees"] else "  ARGMAX DIFFERS"))
    mm = result["mm"]
    lines.append(f"matmul torch.mm {mm['size']}x{mm['size']} float32: {mm['gflops']:.1f} GFLOP/s "
                 f"(median of {len(mm['times_s'])}, {mm['median_s'] * 1e3:.0f} ms each); "
                 f"{result['gflop_per_image']:.3f} GFLOP per image")
    for name, seconds in result["compile_first_call_s"].items():
        lines.append(f"torch.compile first call, {name}: {seconds:.1f} s")
    lines.append("ms/batch, img/s, GFLOP/s: medians; x base, % mm: medians of per-round ratios "
                 "(same-round baseline / matmul)")
    lines.append("rel diff: largest difference of the probabilities from the baseline's, relative to "
                 "their largest value (float32 rounding: ~1e-6)")
    for variant in ("AlexNet", "AlexNet fast=False", "alexnet_forward"):
        rows = [r for r in result["rows"] if r["variant"] == variant]
        lines.append(f"{variant} vs baseline: " + ", ".join(
            f"x{r['vs_baseline']:.2f} at batch {r['batch']} ({100 * r['fraction_of_mm']:.0f} % of mm)"
            for r in rows))
    return "\n".join(lines)


def _meta(device: torch.device, args) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch": torch.__version__, "python": platform.python_version(),
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu,
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "malloc_env": {k: os.environ[k] for k in MALLOC_ENV if k in os.environ},
        "batches": args.batches, "reps": args.reps, "compile": args.compile,
        "load_average_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _batches(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be positive integers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=_batches, default=[1, 8, 64], help="comma-separated (default 1,8,64)")
    parser.add_argument("--reps", type=int, default=None,
                        help="timed repetitions per variant (default 7; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="3 repetitions and no torch.compile")
    parser.add_argument("--compile", default="8",
                        help="batch sizes that also time torch.compile: 'none', 'all' or a list (default 8)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help=f"output file (default {DEFAULT_JSON})")
    parser.add_argument("--malloc", choices=("default", "tuned", "both"), default="default",
                        help="'tuned' re-runs in a process with glibc malloc tuned by environment "
                             "variables; 'both' does the plain run, then the tuned one")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 3 if args.quick else 7
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    if args.quick:
        args.compile = "none"
    if args.compile == "none":
        compile_batches: set[int] = set()
    elif args.compile == "all":
        compile_batches = set(args.batches)
    else:
        compile_batches = set(_batches(args.compile))

    if args.malloc == "tuned" and not _malloc_tuned():
        return _run_tuned(argv if argv is not None else sys.argv[1:], args.json or MALLOC_JSON)

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    meta = _meta(device, args)
    print(f"alexnet_ref benchmark on {device.type} ({meta['device_name']}), torch {meta['torch']}, "
          f"{meta['torch_threads']} threads, malloc env {meta['malloc_env'] or 'none'}; "
          f"batches {args.batches}, {args.reps} reps, compile at {sorted(compile_batches) or 'none'}", flush=True)
    result = bench(device, args.batches, args.reps, compile_batches, log=lambda s: print(s, flush=True))
    result["meta"] = meta
    print(table(result))
    path = args.json or (MALLOC_JSON if _malloc_tuned() else DEFAULT_JSON)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")
    if args.malloc == "both":
        return _run_tuned(argv if argv is not None else sys.argv[1:], MALLOC_JSON)
    return 0


def _malloc_tuned() -> bool:
    return all(os.environ.get(k) == v for k, v in MALLOC_ENV.items())


def _run_tuned(argv: list[str], json_path: Path) -> int:
    """Run the benchmark again in a child process whose environment tunes glibc malloc."""
    args = _drop_option(_drop_option(argv, "--malloc"), "--json") + ["--json", str(json_path)]
    env = {**os.environ, **MALLOC_ENV}
    print("\nSame run with " + " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items()), flush=True)
    return subprocess.call([sys.executable, "-m", "tools.bench", *args], env=env)


def _drop_option(argv: list[str], option: str) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == option:
            skip = True
        elif not a.startswith(option + "="):
            out.append(a)
    return out


if __name__ == "__main__":
    sys.exit(main())
