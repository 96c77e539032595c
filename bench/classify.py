"""Benchmark of the report-text classifier: model load time and per-report latency on a CPU.

    .venv/bin/python bench/classify.py [--model MODEL.npz] [--data shared/data/teddy2020] [--repeat 3]

Without ``--model`` it first trains the shipped configuration on all shared labelled messages
(messages_full_segmented.csv + messages_labelled.csv, no cross-validation) into a temporary file. Then:
- load: a fresh Python process imports ``cogov.insight.classify``, loads the model and classifies one text
  (wall and CPU seconds, median of ``--repeat`` runs), and the load alone inside a warm process;
- latency: ``predict`` (segmentation, features, scores, softmax, explaining words) on each of the 395 raw
  messages (title + text), wall and CPU milliseconds per report: mean, p50, p95, p99, max.
Prints a markdown table (docs/insight.md keeps the results). Limits of issue 5: load < 2 s, < 5 ms per report.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cogov.insight import classify as C  # noqa: E402
from cogov.insight.evaluate import DEFAULT_DATA, read_csv, texts_of  # noqa: E402

COLD = """
import time, resource
t0 = time.perf_counter(); c0 = time.process_time()
from cogov.insight.classify import TextModel
m = TextModel.load({path!r})
m.predict("小区门口路灯不亮")
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def train_default(data: Path, out: Path) -> None:
    seg = read_csv(data / "messages_full_segmented.csv")
    raw = read_csv(data / "messages_labelled.csv")
    texts = texts_of(seg, ["分词文本"]) + texts_of(raw, ["留言主题", "留言详情"])
    labels = [r["一级分类"] for r in seg] + [r["一级分类"] for r in raw]
    t0 = time.perf_counter()
    C.train(texts, labels, folds=0, source="bench: all shared labelled messages").save(out)
    print(f"trained on {len(texts)} messages in {time.perf_counter() - t0:.0f} s → {out}", file=sys.stderr)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    data = Path(args.data)
    model_path = Path(args.model) if args.model else Path(tempfile.mkdtemp()) / "bench-model.npz"
    if not args.model:
        train_default(data, model_path)

    cold = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", COLD.format(path=str(model_path))], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
        cold.append((float(out[0]), float(out[1])))
    warm = []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        model = C.TextModel.load(model_path)
        warm.append((time.perf_counter() - t0, time.process_time() - c0))

    texts = texts_of(read_csv(data / "messages_labelled.csv"), ["留言主题", "留言详情"])
    model.predict(texts[0])
    wall, cpu = [], []
    for text in texts:
        t0, c0 = time.perf_counter(), time.process_time()
        model.predict(text)
        wall.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    # process_time has a coarse tick on some kernels: the batch's CPU total is the reliable mean
    c0 = time.process_time()
    for text in texts:
        model.predict(text)
    cpu_mean = 1000 * (time.process_time() - c0) / len(texts)

    size = model_path.stat().st_size / 2**20
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    print(f"model: {size:.1f} MiB, {len(model.labels)} labels, {len(model.word_vocab)} word + "
          f"{len(model.char_vocab)} char features, lexicon {len(model.lexicon.counts)} words")
    print(f"texts: {len(texts)} raw messages, median {statistics.median(map(len, texts)):.0f} characters\n")
    print("| measure | wall | CPU |")
    print("| --- | --- | --- |")
    print(f"| cold start: import + load + first report (median of {args.repeat}) | "
          f"{statistics.median(w for w, _ in cold):.2f} s | {statistics.median(c for _, c in cold):.2f} s |")
    print(f"| load in a running process (median of {args.repeat}) | "
          f"{statistics.median(w for w, _ in warm):.3f} s | "
          f"{statistics.median(c for _, c in warm):.3f} s |")
    print(f"| per report, mean | {statistics.mean(wall):.2f} ms | {cpu_mean:.2f} ms |")
    print(f"| per report, p50 / p95 / p99 | {pct(wall, 50):.2f} / {pct(wall, 95):.2f} / "
          f"{pct(wall, 99):.2f} ms | "
          f"{pct(cpu, 50):.2f} / {pct(cpu, 95):.2f} / {pct(cpu, 99):.2f} ms |")
    print(f"| per report, max (longest text {max(map(len, texts))} chars) | {max(wall):.2f} ms | "
          f"{max(cpu):.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
