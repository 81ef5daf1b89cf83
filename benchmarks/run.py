"""fastpool's benchmark: its own local server, the clients people use, side by side.

    python -m venv .venv-bench && .venv-bench/bin/pip install ".[bench]"
    .venv-bench/bin/python benchmarks/run.py            # full run, a few minutes on 2 cores
    .venv-bench/bin/python benchmarks/run.py --quick    # about a minute
    .venv-bench/bin/python benchmarks/run.py --help

What it does (see benchmarks/README.md for why):

* starts an HTTP/1.1 keep-alive server in a separate process on 127.0.0.1
  (embedded asyncio server, uvloop when installed; ``--server nginx``);
* for each body size x thread count, builds every client (threads share one
  pool, ``maxsize=threads, block=True``), warms it up, then measures it in
  interleaved repetitions (A B C A B C ...), every response verified;
* by default pins the server and this process to one CPU (a 2-vCPU VM flips
  between two modes otherwise) and also runs the multi-thread rows unpinned,
  labelled noisy, because thread scaling cannot show on one CPU;
* reports the client's own CPU microseconds per request (this process's CPU
  time, never the server's) and requests/s (wall), as medians and as ratios to
  urllib3 in the same run; ``--callgrind`` adds instructions per request;
* prints a markdown table and writes ``benchmarks/results/latest.md``,
  ``latest.json`` and the chart ``latest.png``.

It imports the *installed* fastpool: ``sys.path[0]`` is ``benchmarks/``, and the
source tree is removed from ``sys.path`` unless ``--from-tree`` asks for it.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime
import gc
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")


def _isolate_from_tree(from_tree: bool) -> None:
    """Import the installed fastpool, not ``REPO/fastpool`` (unless asked to)."""
    if from_tree:
        if REPO not in sys.path:
            sys.path.insert(0, REPO)
        return
    norm = os.path.realpath
    sys.path[:] = [p for p in sys.path if norm(p or os.getcwd()) != norm(REPO)]


# Parse ``--from-tree`` before anything can import fastpool.
_isolate_from_tree("--from-tree" in sys.argv[1:])
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _clients  # noqa: E402

import _server  # noqa: E402

#: requests per measurement, by body size (``--requests`` overrides)
DEFAULT_REQUESTS = {"13B": 2000, "16KiB": 1500, "1MiB": 250, "16KiB-chunked": 1500}
#: http.client with a new connection per request is slow and uses a port per request
NEW_CONNECTION_CAP = 600
DEFAULT_THREADS = [1, 4, 16]
DEFAULT_REPEAT = 3
DEFAULT_TIME_LIMIT = 0.6  # seconds per measurement
BASELINE = "urllib3"


# ----------------------------------------------------------------------------------------------
# Results


@dataclass
class Cell:
    size: str
    threads: int
    pinned: bool

    @property
    def key(self) -> str:
        return f"{self.size}/{self.threads}/{'pinned' if self.pinned else 'unpinned'}"


@dataclass
class Sample:
    requests: int
    wall: float
    cpu: float
    limited: bool  # stopped by the time limit before its request count
    sys: float = 0.0  # the part of ``cpu`` spent in the kernel


@dataclass
class Row:
    client: str
    label: str
    samples: list[Sample] = field(default_factory=list)
    unavailable: str | None = None

    def _per_request(self) -> list[float]:
        return [s.cpu / s.requests * 1e6 for s in self.samples if s.requests]

    def _rps(self) -> list[float]:
        return [s.requests / s.wall for s in self.samples if s.wall > 0]

    @property
    def cpu_us(self) -> float | None:
        v = self._per_request()
        return statistics.median(v) if v else None

    @property
    def sys_us(self) -> float | None:
        v = [s.sys / s.requests * 1e6 for s in self.samples if s.requests]
        return statistics.median(v) if v else None

    @property
    def rps(self) -> float | None:
        v = self._rps()
        return statistics.median(v) if v else None

    @property
    def spread(self) -> float | None:
        """(max - min) / median of CPU per request, over the repetitions."""
        v = self._per_request()
        if len(v) < 2:
            return None
        return (max(v) - min(v)) / statistics.median(v)


# ----------------------------------------------------------------------------------------------
# Measuring


class Workers:
    """``threads`` persistent threads that run one job at a time together.

    Persistent so that per-thread connections (http.client, raw socket, pycurl)
    live as long as the cell, like the shared pools do.
    """

    def __init__(self, threads: int, timeout: float) -> None:
        self.n = threads
        self.timeout = timeout
        self.start_gate = threading.Barrier(threads + 1)
        self.end_gate = threading.Barrier(threads + 1)
        self.job: tuple[Any, list[int], float] | None = None
        self.done = [0] * threads
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._loop, args=(i,), name=f"bench-{i}", daemon=True)
            for i in range(threads)
        ]
        for t in self.threads:
            t.start()

    def _loop(self, wid: int) -> None:
        while True:
            try:
                self.start_gate.wait()
            except threading.BrokenBarrierError:
                return
            job = self.job
            if job is None:
                return
            client, counts, deadline = job
            try:
                self.done[wid] = client.run(wid, counts[wid], deadline)
            except BaseException as e:  # reported by the main thread
                self.errors.append(e)
                self.done[wid] = 0
            try:
                self.end_gate.wait()
            except threading.BrokenBarrierError:
                return

    def run(self, client: Any, n: int, limit: float) -> Sample:
        counts = [n // self.n + (1 if i < n % self.n else 0) for i in range(self.n)]
        self.errors = []
        gc.collect()
        deadline = time.perf_counter() + limit
        self.job = (client, counts, deadline)
        k0 = _sys_time()
        c0 = time.process_time()
        t0 = time.perf_counter()
        self.start_gate.wait(self.timeout)
        try:
            self.end_gate.wait(limit + self.timeout)
        except threading.BrokenBarrierError:
            raise RuntimeError(
                f"{client.name}: worker threads did not finish within {limit + self.timeout:.0f}s"
            ) from None
        t1 = time.perf_counter()
        c1 = time.process_time()
        k1 = _sys_time()
        if self.errors:
            raise self.errors[0]
        done = sum(self.done)
        return Sample(done, t1 - t0, c1 - c0, done < n, k1 - k0)

    def stop(self) -> None:
        self.job = None
        with contextlib.suppress(threading.BrokenBarrierError):
            self.start_gate.wait(1.0)
        self.start_gate.abort()
        self.end_gate.abort()
        for t in self.threads:
            t.join(1.0)


def measure_inline(client: Any, n: int, limit: float) -> Sample:
    gc.collect()
    k0 = _sys_time()
    c0 = time.process_time()
    t0 = time.perf_counter()
    done = client.run(0, n, t0 + limit)
    t1 = time.perf_counter()
    c1 = time.process_time()
    k1 = _sys_time()
    return Sample(done, t1 - t0, c1 - c0, done < n, k1 - k0)


def _sys_time() -> float:
    """This process's kernel CPU time, for the JSON only: Linux splits user/system
    time by tick sampling, so over a fraction of a second the split is too noisy
    for the table (the total, ``time.process_time()``, is exact)."""
    if resource is None:
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def pin(server: Any, cpus: set[int]) -> None:
    if not hasattr(os, "sched_setaffinity"):
        return
    for pid in server.pids:
        _server.set_affinity(pid, cpus)
    _server.set_affinity(os.getpid(), cpus)


def run_cell(
    cell: Cell,
    names: list[str],
    server: Any,
    args: argparse.Namespace,
    cpus: set[int],
    log: Any,
) -> list[Row]:
    path, body, _chunked = _server.BODIES[cell.size]
    pin(server, cpus)
    rows: list[Row] = []
    clients: list[tuple[Row, Any]] = []
    n_default = args.requests or DEFAULT_REQUESTS[cell.size]
    workers = Workers(cell.threads, timeout=30.0) if cell.threads > 1 else None
    try:
        for name in names:
            cls = _clients.CLIENTS[name]
            row = Row(name, cls.label)
            rows.append(row)
            try:
                client = cls(server.host, server.port, path, len(body), cell.threads)
            except (ImportError, AttributeError) as e:
                row.unavailable = f"{type(e).__name__}: {e}"
                continue
            except Exception as e:
                raise _clients.CheckFailed(
                    f"{name}: could not be set up: {type(e).__name__}: {e}"
                ) from e
            clients.append((row, client))

        def one(client: Any, n: int, limit: float) -> Sample:
            try:
                if workers is None:
                    return measure_inline(client, n, limit)
                return workers.run(client, n, limit)
            except _clients.CheckFailed:
                raise
            except Exception as e:  # a client's own error (timeout, refused, ...) fails the run
                raise _clients.CheckFailed(
                    f"{client.name}: GET {client.url} raised {type(e).__name__}: {e}"
                ) from e

        # Warm-up: connections opened (threads of them), code paths and caches hot.
        for _row, client in clients:
            one(client, max(cell.threads * 8, n_default // 10), args.time_limit)
        for rep in range(args.repeat):
            for row, client in clients:  # interleaved: A B C A B C ...
                n = n_default
                if row.client == "httpclient-new":
                    n = min(n, NEW_CONNECTION_CAP)
                s = one(client, n, args.time_limit)
                row.samples.append(s)
                log(
                    f"  {cell.key:<28} rep {rep + 1}/{args.repeat} {row.client:<18} "
                    f"{s.requests:>6} req {s.cpu / max(s.requests, 1) * 1e6:9.1f} us CPU/req "
                    f"{s.requests / s.wall:>9.0f} req/s{'  (time limit)' if s.limited else ''}"
                )
    finally:
        if workers is not None:
            workers.stop()
        for _row, client in clients:
            with contextlib.suppress(Exception):
                client.close()
    return rows


# ----------------------------------------------------------------------------------------------
# callgrind


def callgrind_child(args: argparse.Namespace) -> int:
    """Runs under valgrind: warm up, then only the measured loop is collected."""
    path, body, _ = _server.BODIES[args.sizes[0]]
    client = _clients.CLIENTS[args.callgrind_child](args.host, args.port, path, len(body), 1)
    try:
        client.run(0, args.warmup, time.perf_counter() + 600)
        gc.collect()
        # callgrind runs with --toggle-collect=sys_call_tracing: it counts
        # instructions only while inside this call.
        done = sys.call_tracing(client.run, (0, args.requests, time.perf_counter() + 600))
    finally:
        client.close()
    print(f"DONE {done}", flush=True)
    return 0


def _callgrind_total(path: str) -> int:
    total = 0
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total


def run_callgrind(
    names: list[str], server: Any, args: argparse.Namespace, log: Any
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    n = args.callgrind_requests
    for name in names:
        with tempfile.TemporaryDirectory(prefix="fastpool-callgrind-") as tmp:
            out = os.path.join(tmp, "callgrind.out")
            cmd = [
                "valgrind",
                "--tool=callgrind",
                "--toggle-collect=sys_call_tracing",
                f"--callgrind-out-file={out}",
                sys.executable,
                os.path.abspath(__file__),
                "--callgrind-child",
                name,
                "--host",
                server.host,
                "--port",
                str(server.port),
                "--sizes",
                "13B",
                "--requests",
                str(n),
                "--warmup",
                str(args.callgrind_warmup),
            ]
            if args.from_tree:
                cmd.append("--from-tree")
            log(f"  callgrind {name}: {n} requests after {args.callgrind_warmup} warm-up")
            # A fixed hash seed: string hashes decide dict and set layouts, hence instructions.
            env = {**os.environ, "PYTHONHASHSEED": "0"}
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            try:
                stdout, stderr = proc.communicate(timeout=args.callgrind_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()  # by PID: the valgrind process we started
                proc.communicate()
                results[name] = {"error": f"timed out after {args.callgrind_timeout}s"}
                continue
            m = re.search(r"DONE (\d+)", stdout)
            if proc.returncode != 0 or not m:
                tail = stderr.strip().splitlines()[-3:]
                msg = " / ".join(tail)
                if (
                    "ImportError" in stderr
                    or "ModuleNotFoundError" in stderr
                    or "AttributeError" in stderr
                ):
                    results[name] = {"unavailable": msg}
                else:
                    results[name] = {"error": f"exit {proc.returncode}: {msg}"}
                continue
            done = int(m.group(1))
            total = _callgrind_total(out)
            if total == 0:
                results[name] = {
                    "error": "no instructions collected (is sys_call_tracing in the symbols?)"
                }
                continue
            results[name] = {"requests": done, "instructions": total, "per_request": total / done}
            log(f"  callgrind {name}: {total / done:,.0f} instructions/request")
    return results


# ----------------------------------------------------------------------------------------------
# Reporting


def _fmt(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def _ratio(v: float | None, base: float | None) -> str:
    if v is None or not base:
        return "-"
    r = v / base
    if r < 0.1:
        return f"{r:.3f}x"
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def cell_title(cell: Cell, cpu: int | None) -> str:
    threads = "1 thread" if cell.threads == 1 else f"{cell.threads} threads sharing one pool"
    if cell.pinned:
        where = f"client and server pinned to CPU {cpu}"
    else:
        where = "unpinned (noisy: compare within this table only)"
    return f"{cell.size} body, {threads}, {where}"


def render_table(cell: Cell, rows: list[Row], cpu: int | None) -> list[str]:
    base = next((r for r in rows if r.client == BASELINE and r.samples), None)
    out = [
        f"#### {cell_title(cell, cpu)}",
        "",
        "| client | CPU us/request | CPU vs urllib3 | requests/s | req/s vs urllib3 | spread |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.unavailable is not None:
            out.append(f"| {r.label} | unavailable: {r.unavailable} | | | | |")
            continue
        limited = any(s.limited for s in r.samples)
        out.append(
            f"| {r.label} | {_fmt(r.cpu_us)} | {_ratio(r.cpu_us, base.cpu_us if base else None)} "
            f"| {_fmt(r.rps, 0)}{' (t)' if limited else ''} "
            f"| {_ratio(r.rps, base.rps if base else None)} "
            f"| {'±' + format(r.spread * 50, '.0f') + '%' if r.spread is not None else '-'} |"
        )
    out.append("")
    return out


def find(results: dict[str, list[Row]], cell: Cell, client: str) -> Row | None:
    for r in results.get(cell.key, []):
        if r.client == client and r.samples:
            return r
    return None


def targets(
    results: dict[str, list[Row]],
    cells: list[Cell],
    callgrind: dict[str, dict[str, Any]],
    server_kind: str = "embedded",
) -> list[str]:
    """Issue 7's targets, each with the value measured in this run."""
    lines = ["| target | measured | met? |", "|---|---|---|"]

    def ok(flag: bool | None) -> str:
        return "-" if flag is None else ("yes" if flag else "**no**")

    single = next((c for c in cells if c.size == "13B" and c.threads == 1 and c.pinned), None)
    single = single or next((c for c in cells if c.size == "13B" and c.threads == 1), None)
    if single:
        fp, curl = find(results, single, "fastpool"), find(results, single, "pycurl")
        u3 = find(results, single, "urllib3")
        if fp and curl:
            lines.append(
                "| 13 B, 1 thread: fastpool CPU/request <= pycurl's "
                f"| fastpool {_fmt(fp.cpu_us)} us, "
                f"pycurl {_fmt(curl.cpu_us)} us, urllib3 {_fmt(u3.cpu_us) if u3 else '-'} us "
                f"| {ok(fp.cpu_us <= curl.cpu_us)} |"  # type: ignore[operator]
            )
        elif fp and u3:  # pycurl not installed: the stand-in, 1/12 of urllib3
            lines.append(
                "| 13 B, 1 thread: fastpool CPU/request <= pycurl's (pycurl not measured: "
                "compared with 1/12 of urllib3's) "
                f"| fastpool {_fmt(fp.cpu_us)} us, urllib3/12 {_fmt(u3.cpu_us / 12)} us "  # type: ignore[operator]
                f"| {ok(fp.cpu_us <= u3.cpu_us / 12)} |"  # type: ignore[operator]
            )
        fpm = find(results, single, "fastpool-pm")
        if fp and fpm:
            lines.append(
                f"| PoolManager.request <= 1.25x HTTPConnectionPool.request CPU | "
                f"{fpm.cpu_us / fp.cpu_us:.2f}x ({_fmt(fpm.cpu_us)} vs {_fmt(fp.cpu_us)} us) "  # type: ignore[operator]
                f"| {ok(fpm.cpu_us <= 1.25 * fp.cpu_us)} |"  # type: ignore[operator]
            )
    cg = callgrind.get("fastpool", {})
    if "per_request" in cg:
        v = cg["per_request"]
        lines.append(
            f"| instructions/request <= 55,000 (aim 40,000) | {v:,.0f} | {ok(v <= 55000)} |"
        )
    elif cells:
        lines.append("| instructions/request <= 55,000 (aim 40,000) | run with `--callgrind` | - |")
    t16 = next((c for c in cells if c.size == "13B" and c.threads == 16 and not c.pinned), None)
    if t16:
        fp, u3 = find(results, t16, "fastpool"), find(results, t16, "urllib3")
        if fp and u3:
            # What else reached, in the same table: the ceiling this machine and server allow.
            others = [
                f"{n} {r.rps / u3.rps:.1f}x"  # type: ignore[operator]
                for n in ("pycurl", "raw-socket")
                if (r := find(results, t16, n))
            ]
            lines.append(
                f"| 16 threads, pool of 16, unpinned: req/s >= 8x urllib3 | "
                f"{fp.rps / u3.rps:.1f}x ({_fmt(fp.rps, 0)} vs {_fmt(u3.rps, 0)})"  # type: ignore[operator]
                + (f"; same table: {', '.join(others)}" if others else "")
                + (
                    "; the Python server can cap this: see `--server nginx`"
                    if server_kind == "embedded"
                    else ""
                )
                + f" | {ok(fp.rps >= 8 * u3.rps)} |"  # type: ignore[operator]
            )
    big = next((c for c in cells if c.size == "1MiB" and c.threads == 1 and c.pinned), None)
    big = big or next((c for c in cells if c.size == "1MiB" and c.threads == 1), None)
    if big:
        fp, u3, hc = (find(results, big, n) for n in ("fastpool", "urllib3", "httpclient"))
        if fp and u3:
            lines.append(
                f"| 1 MiB: req/s >= urllib3's | {_fmt(fp.rps, 0)} vs {_fmt(u3.rps, 0)} "
                f"| {ok(fp.rps >= u3.rps)} |"  # type: ignore[operator]
            )
        if fp and hc:
            lines.append(
                "| 1 MiB: CPU/request <= http.client's "
                f"| {_fmt(fp.cpu_us)} vs {_fmt(hc.cpu_us)} us "
                f"| {ok(fp.cpu_us <= hc.cpu_us)} |"  # type: ignore[operator]
            )
    if len(lines) == 2:
        return []
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    return f"{os.cpu_count()} x {cpu}, {platform.system()} {platform.release()}"


def fastpool_origin() -> str:
    try:
        import fastpool
    except ImportError as e:
        return f"not importable ({e}): `pip install .` from the checkout, or run with --from-tree"
    where = os.path.dirname(os.path.dirname(os.path.abspath(fastpool.__file__ or "")))
    kind = "source tree" if os.path.realpath(where) == os.path.realpath(REPO) else where
    compiled = []
    for mod in ("_freelist_c", "_http11_c"):
        try:
            m = __import__(f"fastpool.{mod}", fromlist=["x"])
            if (m.__file__ or "").endswith((".so", ".pyd")):
                compiled.append(mod)
        except ImportError:
            pass
    no_ext = bool(os.environ.get("FASTPOOL_NO_EXTENSIONS"))
    core = (
        "pure-Python core (FASTPOOL_NO_EXTENSIONS)"
        if no_ext
        else (
            f"compiled: {', '.join(compiled)}"
            if compiled
            else "pure-Python core (no compiled modules)"
        )
    )
    return f"fastpool {getattr(fastpool, '__version__', '?')} from {kind}, {core}"


def versions() -> str:
    out = []
    for mod in ("urllib3", "requests", "httpx", "pycurl", "uvloop"):
        try:
            m = __import__(mod)
        except ImportError:
            continue
        v = getattr(m, "__version__", None) or getattr(m, "version", "?")
        out.append(f"{mod} {str(v).split()[0]}")
    return ", ".join(out)


#: fixed colours, so charts from different runs read the same: fastpool in reds,
#: urllib3 in blues, the floor in black
COLORS = {
    "fastpool": "#c0111f",
    "fastpool-pm": "#f06a5d",
    "fastpool-requests": "#f7b6a8",
    "urllib3": "#1f5fa8",
    "urllib3-pm": "#7fb2e5",
    "requests": "#ff9f1c",
    "httpx": "#9467bd",
    "pycurl": "#2ca02c",
    "httpclient": "#8c8c8c",
    "httpclient-new": "#c7c7c7",
    "raw-socket": "#222222",
}


def write_chart(
    results: dict[str, list[Row]], cells: list[Cell], names: list[str], header: str, path: str
) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"chart skipped: matplotlib is not installed ({e}); pip install '.[bench]'"
    sizes = list(dict.fromkeys(c.size for c in cells))
    modes = list(dict.fromkeys((c.threads, c.pinned) for c in cells))
    shown = [n for n in names if any(find(results, c, n) for c in cells)]
    if not shown:
        return "chart skipped: no results"
    fig, axes = plt.subplots(
        2,
        len(sizes),
        figsize=(max(6.5, 5.2 * len(sizes)), 9.5),
        squeeze=False,
        constrained_layout=True,
    )
    cmap = plt.get_cmap("tab20")
    colors = {n: COLORS.get(n, cmap(i % 20)) for i, n in enumerate(shown)}
    width = 0.85 / len(shown)
    for col, size in enumerate(sizes):
        for row_i, (metric, title) in enumerate(
            (
                ("rps", "requests/s (wall, higher is better)"),
                ("cpu_us", "client CPU us/request (lower is better)"),
            )
        ):
            ax = axes[row_i][col]
            for k, name in enumerate(shown):
                xs, ys = [], []
                for m, (threads, pinned) in enumerate(modes):
                    r = find(results, Cell(size, threads, pinned), name)
                    v = getattr(r, metric) if r else None
                    if v:
                        xs.append(m + (k - (len(shown) - 1) / 2) * width)
                        ys.append(v)
                ax.bar(xs, ys, width=width, color=colors[name], label=_clients.CLIENTS[name].label)
            ax.set_yscale("log")
            ax.set_xticks(range(len(modes)))
            ax.set_xticklabels(
                [f"{t} thr\n{'pinned' if p else 'unpinned'}" for t, p in modes], fontsize=8
            )
            ax.set_title(f"{size}: {title}", fontsize=9)
            ax.grid(axis="y", which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    ncol = max(1, min(len(shown), int(fig.get_figwidth() // 3.6)))
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=8)
    fig.suptitle(header, fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    names = list(_clients.CLIENTS)
    p = argparse.ArgumentParser(
        description="Benchmark fastpool against urllib3, requests, http.client, httpx, pycurl "
        "and a raw socket on a local server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smaller run (13B and 1MiB, threads 1 and 16, 2 repetitions, shorter loops)",
    )
    p.add_argument(
        "--clients", default=",".join(names), help=f"comma-separated, from: {', '.join(names)}"
    )
    p.add_argument("--sizes", default=",".join(_server.SIZES), help="comma-separated body sizes")
    p.add_argument(
        "--threads",
        default=",".join(map(str, DEFAULT_THREADS)),
        help="comma-separated thread counts",
    )
    p.add_argument(
        "--requests",
        type=int,
        default=None,
        help="requests per measurement (default by size: "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_REQUESTS.items())
        + ")",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        help="interleaved repetitions (median reported)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT,
        help="seconds per measurement; a loop stops there even before its request count",
    )
    p.add_argument(
        "--server",
        choices=["embedded", "nginx"],
        default="embedded",
        help="nginx needs `apt-get install nginx-light` (or any nginx on PATH)",
    )
    p.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin server and client to one CPU (every row is then noisy)",
    )
    p.add_argument(
        "--cpu", type=int, default=None, help="the CPU to pin to (default: the last one allowed)"
    )
    p.add_argument(
        "--callgrind",
        action="store_true",
        help="also run 13B, 1 thread under valgrind --tool=callgrind: instructions/request",
    )
    p.add_argument(
        "--only-callgrind", action="store_true", help="run only the callgrind measurements"
    )
    p.add_argument(
        "--callgrind-clients", default=None, help="clients for callgrind (default: --clients)"
    )
    p.add_argument(
        "--callgrind-requests", type=int, default=500, help="measured requests under callgrind"
    )
    p.add_argument(
        "--callgrind-warmup", type=int, default=200, help="warm-up requests under callgrind"
    )
    p.add_argument(
        "--callgrind-timeout", type=float, default=300.0, help="seconds per callgrind run"
    )
    p.add_argument(
        "--output", default=RESULTS, help="directory for latest.md, latest.json, latest.png"
    )
    p.add_argument("--no-write", action="store_true", help="print the table only; write no files")
    p.add_argument(
        "--from-tree",
        action="store_true",
        help="import fastpool from the source tree instead of the installed package",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no per-measurement progress on stderr"
    )
    # internal: the process that runs under valgrind
    p.add_argument("--callgrind-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--host", default=_server.HOST, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=200, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.quick:
        given = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
        if "--sizes" not in given:
            args.sizes = "13B,1MiB"
        if "--threads" not in given:
            args.threads = "1,16"
        if "--repeat" not in given:
            args.repeat = 2
        if "--time-limit" not in given:
            args.time_limit = 0.3
    args.clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in args.clients if c not in _clients.CLIENTS]
    if unknown:
        p.error(f"unknown client(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    args.clients = [c for c in names if c in args.clients]  # table order
    args.callgrind_clients = (
        [c.strip() for c in args.callgrind_clients.split(",") if c.strip()]
        if args.callgrind_clients
        else list(args.clients)
    )
    unknown = [c for c in args.callgrind_clients if c not in _clients.CLIENTS]
    if unknown:
        p.error(f"unknown callgrind client(s) {', '.join(unknown)}")
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    bad = [s for s in args.sizes if s not in _server.BODIES]
    if bad:
        p.error(f"unknown size(s) {', '.join(bad)}; choose from {', '.join(_server.SIZES)}")
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        p.error("--threads takes comma-separated integers")
    if not args.threads or min(args.threads) < 1:
        p.error("--threads must be >= 1")
    if args.repeat < 1 or (args.requests is not None and args.requests < 1) or args.time_limit <= 0:
        p.error("--repeat and --requests must be >= 1, --time-limit > 0")
    if args.callgrind_child and args.callgrind_child not in _clients.CLIENTS:
        p.error("unknown --callgrind-child")
    if args.only_callgrind:
        args.callgrind = True
    return args


def plan(args: argparse.Namespace) -> list[Cell]:
    cells = []
    for size in args.sizes:
        if not args.no_pin:
            cells += [Cell(size, t, True) for t in args.threads]
        # Thread scaling cannot show on one CPU: the multi-thread rows also run unpinned.
        cells += [Cell(size, t, False) for t in args.threads if args.no_pin or t > 1]
    return cells


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.callgrind_child:
        return callgrind_child(args)

    log = (
        (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    )
    if not hasattr(os, "sched_setaffinity"):
        if not args.no_pin:
            log(
                "note: this OS cannot pin threads to a CPU (no os.sched_setaffinity): "
                "every row is unpinned"
            )
        args.no_pin = True
        allowed = set(range(os.cpu_count() or 1))
    else:
        allowed = os.sched_getaffinity(0)
    cpu = args.cpu if args.cpu is not None else max(allowed)
    if not args.no_pin and cpu not in allowed:
        print(
            f"error: --cpu {cpu} is not in this process's CPU set {sorted(allowed)}",
            file=sys.stderr,
        )
        return 2
    if args.callgrind and not _which("valgrind"):
        print("error: --callgrind needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2

    cells = [] if args.only_callgrind else plan(args)
    server = _server.make_server(args.server)
    atexit.register(server.stop)

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    started = datetime.datetime.now().astimezone()
    load_start = _loadavg()
    results: dict[str, list[Row]] = {}
    callgrind: dict[str, dict[str, Any]] = {}
    t_start = time.monotonic()
    try:
        try:
            server.start()
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        log(f"server: {server.description} on {server.host}:{server.port}")
        log(fastpool_origin())
        for cell in cells:
            cpus = {cpu} if cell.pinned else allowed
            results[cell.key] = run_cell(cell, args.clients, server, args, cpus, log)
        if args.callgrind:
            pin(server, allowed)
            callgrind = run_callgrind(args.callgrind_clients, server, args, log)
    except _clients.CheckFailed as e:
        print(
            f"\nFAILED: {e}\nThe run is invalid: a client returned a wrong response.",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        server.stop()
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setaffinity(0, allowed)
    elapsed = time.monotonic() - t_start
    load_end = _loadavg()
    # Judged on the load before the run: at the end our own threads are in it.
    busy = (load_start or 0.0) > 0.5 * len(allowed) + 0.5

    shown_argv = argv if argv is not None else sys.argv[1:]
    per_size = (
        str(args.requests)
        if args.requests
        else "/".join(str(DEFAULT_REQUESTS[s]) for s in args.sizes) + f" ({'/'.join(args.sizes)})"
    )
    header = (
        f"{started:%Y-%m-%d %H:%M %Z} · Python {platform.python_version()} "
        f"({platform.python_implementation()}) · {machine()}"
    )
    lines = [
        "## fastpool benchmark",
        "",
        f"- when, Python, machine: {header}",
        f"- fastpool: {fastpool_origin()}",
        f"- others: {versions()}",
        f"- server: {server.description}, HTTP/1.1 keep-alive on 127.0.0.1",
        f"- load average (1 min) at start / end: {load_start} / {load_end}"
        + (
            " **(other processes were competing for the CPUs: timing figures are unreliable; "
            "callgrind counts are not affected)**"
            if busy
            else ""
        ),
        f"- method: {args.repeat} interleaved repetitions per cell, median shown; "
        "each measurement up "
        f"to {per_size} requests or {args.time_limit}s "
        "('(t)': stopped by the time limit); every response checked (status, body length); "
        "CPU = this client process's CPU time (all its threads, never the server's); spread = "
        "half the min-max range of CPU/request across repetitions",
        f"- command: `python benchmarks/run.py {' '.join(shown_argv)}` ({elapsed:.0f} s)",
        "",
    ]
    tl = targets(results, cells, callgrind, server.kind)
    if tl:
        lines += ["### Targets (issue 7)", "", *tl, ""]
    if callgrind:
        lines += [
            "### Instructions per request (callgrind, 13B body, 1 thread, after warm-up)",
            "",
            "| client | instructions/request | vs urllib3 |",
            "|---|---:|---:|",
        ]
        base = callgrind.get(BASELINE, {}).get("per_request")
        for name, r in callgrind.items():
            label = _clients.CLIENTS[name].label
            if "per_request" in r:
                lines.append(
                    f"| {label} | {r['per_request']:,.0f} | {_ratio(r['per_request'], base)} |"
                )
            else:
                what = (
                    f"unavailable: {r['unavailable']}"
                    if "unavailable" in r
                    else f"error: {r.get('error', '?')}"
                )
                lines.append(f"| {label} | {what} | |")
        lines.append("")
    if cells:
        lines += ["### Time and CPU", ""]
        for cell in cells:
            lines += render_table(cell, results[cell.key], None if args.no_pin else cpu)
    text = "\n".join(lines)
    if not args.no_write:
        os.makedirs(args.output, exist_ok=True)
        with open(os.path.join(args.output, "latest.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.output, "latest.json"), "w") as f:
            json.dump(
                {
                    "header": header,
                    "fastpool": fastpool_origin(),
                    "server": server.description,
                    "args": {
                        k: v for k, v in vars(args).items() if not k.startswith("callgrind_child")
                    },
                    "cells": {
                        c.key: [
                            {**asdict(r), "cpu_us": r.cpu_us, "sys_us": r.sys_us, "rps": r.rps}
                            for r in results[c.key]
                        ]
                        for c in cells
                    },
                    "callgrind": callgrind,
                },
                f,
                indent=1,
            )
        if cells:
            title = (
                f"{header}\nserver: {server.description}; "
                f"{'client and server pinned to one CPU' if not args.no_pin else 'unpinned'}"
                f"{'; LOADED MACHINE, timing unreliable' if busy else ''}"
            )
            msg = write_chart(
                results, cells, args.clients, title, os.path.join(args.output, "latest.png")
            )
            if msg:
                print(msg, file=sys.stderr)
        log(f"wrote {args.output}/latest.md, latest.json" + ("" if not cells else ", latest.png"))
    try:
        print(text, flush=True)
    except BrokenPipeError:  # e.g. piped into head: the files are written already
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    if busy:
        print(
            f"warning: load average {load_start} before the run on {len(allowed)} CPUs: "
            "other processes competed with the benchmark",
            file=sys.stderr,
        )

    return 0


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _which(cmd: str) -> str | None:
    import shutil

    return shutil.which(cmd)


if __name__ == "__main__":
    sys.exit(main())
