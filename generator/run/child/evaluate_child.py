"""The evaluator's child process: load one hub entry with its real weights and predict the classes
of the images the parent sends. It never sees a label: the parent keeps them and counts.
Never imports `generator` (run as a script, `python -I`, in the sandbox).

    python -I evaluate_child.py JOB.json RESULT.json  < stream

JOB.json: {repo, entry, git_host, commit, entry_kwargs, batch_size, workers, topk: K,
           preprocess: {...} | {hub_entry: name}, progress_every_s,
           inference: "compiled" | "eager", compile_timeout_s, compile_if_eager_s,
           [layouts: ["nchw"], layouts_note: why]}  (the layouts the parent's own CPU check allows)
stream (stdin): one JSON header line {"count": N, "format": "encoded" | "array", "dtype", "shape"}
    then N records, each a 4-byte big-endian length and the bytes of one image: an encoded file
    (JPEG/PNG, decoded here with OpenCV as BGR) or a raw array of `shape` and `dtype`. The
    parent sends them in an order only it knows, without names.
RESULT.json: {n, classes, top: [[class, ...] K per image, in stream order], wall_s, load_s,
              eval_s, images_per_s, forward_images_per_s, versions,
              inference: {mode, batch, agreement, checked_batches, device, threads, allocator,
                         layout, layout_rejected, compiled_batches, eager_batches, compile_s, first_batch_s, note}}

Inference, all decided within the first batch so that no later batch waits: its head (one
micro-batch, 4 images) and the next 8 images run eagerly (their predictions are the eager ones),
timing the model; unless the rest of the job would then take less than
`compile_if_eager_s` (20 s) eagerly, the model is traced on the head (`jit.trace`, symbolic,
weights captured as constants), dumped with MegEngine's inference optimisations (conv + bias +
nonlinearity fused; on x86 with AVX2 in the NCHW88 layout, the plain layout if that fails to
dump, to load or to run a micro-batch in a process of its own: compile_graph) and loaded back
as a static graph (`GraphInference`) of the micro-batch's size.
Only if its logits for the 8 images (ones it was not traced on) agree with eager to 1e-4
(max |delta|) does the rest of the job go through the graph, the last, shorter batch padded to
whole micro-batches; else every image runs eagerly and `note` says why. Every 50th compiled
batch runs both ways again; a disagreement there ends the child with exit code 76, a compile
still running after `compile_timeout_s` (a hang inside the graph compiler cannot be
interrupted from Python) with 75: the parent then runs the whole job again, eagerly.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError(f"the image stream ended early ({len(data)} of {n} bytes)")
    return data


class Stream:
    """The images of the job, one at a time, in the order the parent sends them."""

    def __init__(self, stream: BinaryIO) -> None:
        header = json.loads(stream.readline())
        self.stream = stream
        self.count = int(header["count"])
        self.format = header["format"]
        self.dtype = np.dtype(header.get("dtype", "uint8"))
        self.shape = tuple(int(x) for x in header.get("shape", ()))

    def records(self) -> Iterator[bytes]:
        for _ in range(self.count):
            (size,) = struct.unpack(">I", _read_exact(self.stream, 4))
            yield _read_exact(self.stream, size)

    def decode(self, data: bytes) -> np.ndarray:
        if self.format == "array":
            return np.frombuffer(data, dtype=self.dtype).reshape(self.shape)
        import cv2

        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("an image of the dataset cannot be decoded")
        return img


Transform = Callable[[np.ndarray], np.ndarray]  # one decoded H x W (x C) image -> C x H x W


def _declarative(spec: dict[str, Any]) -> Transform:
    import cv2
    import megengine.data.transform as T

    order = spec.get("channel_order", "BGR")
    steps = []
    if spec.get("resize"):
        steps.append(T.Resize(int(spec["resize"])))
    if spec.get("crop"):
        steps.append(T.CenterCrop(int(spec["crop"])))
    geometry = T.Compose(steps) if steps else None
    scale = float(spec.get("scale", 1.0))
    mean = np.asarray(spec.get("mean", [0.0]), dtype=np.float32)
    std = np.asarray(spec.get("std", [1.0]), dtype=np.float32)

    def apply(img: np.ndarray) -> np.ndarray:
        if img.ndim == 2:
            img = img[:, :, None]
        if order == "RGB" and img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        elif order == "GRAY" and img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[:, :, None]
        if geometry is not None:
            img = geometry.apply(img)
            if img.ndim == 2:  # OpenCV drops a single channel when resizing
                img = img[:, :, None]
        x = img.astype(np.float32)
        if scale != 1.0:
            x *= scale
        x = (x - mean) / std
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    return apply


def _hub_entry(fn: Callable[[np.ndarray], Any], order: str) -> Transform:
    """A repository's own preprocessing function. Hub repos write them batch-wise (the zoo's
    preprocess_fmnist takes N x H x W, preprocess_imagenet one H x W x 3 image and returns
    1 x C x H x W), so a grey image goes in as a batch of one and a leading batch axis of one
    comes off."""
    import cv2

    def apply(img: np.ndarray) -> np.ndarray:
        if img.ndim == 3 and order == "RGB":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        x = np.asarray(fn(img[None] if img.ndim == 2 else img))
        return x[0] if x.ndim == 4 else x

    return apply


COMPILE_HUNG = 75  # exit code: compiling did not finish in time (the parent runs the job eagerly)
LATE_DISAGREEMENT = 76  # exit code: a spot check found the graph off (the parent runs the job eagerly)
AGREEMENT_TOL = 1e-4  # max |compiled - eager| over a batch's logits
SPOT_EVERY = 50  # every 50th compiled batch also runs eagerly and must agree


# The graph's batch size (micro-batch): on two shared cores a small graph batch runs faster
# than a large one (cache; EfficientNet-Lite0, paired: 4 and 2 images per run took 25 % less
# CPU per image than 8, 16 more again). Each size tried costs a trace (running the model once)
# and a check, so one is compiled.
MICRO_BATCHES = (4,)
CHECK_IMAGES = 8  # at least this many images of the first batch run both ways before the graph is used


def micro_batches(batch: int) -> list[int]:
    """The graph sizes for full batches of `batch` images: each divides the batch, and the first
    batch holds the largest twice (traced on the head, checked on images after it). Other
    batches get their largest divisor up to half of them; a batch of one image gets none."""
    sizes = [m for m in MICRO_BATCHES if batch % m == 0 and 2 * m <= batch]
    if sizes:
        return sizes
    return [max(d for d in range(1, batch // 2 + 1) if batch % d == 0)] if batch >= 2 else []


def eager_estimate(t_a: float, n_a: int, t_b: float, n_b: int, images: int, batch: int) -> float:
    """Seconds `images` would take eagerly in batches of `batch`, from two timed calls of `n_a`
    and `n_b` images: each call costs a fixed part and a part per image. A small model is mostly
    the fixed part, so scaling a small call per image would overstate it several times over."""
    if n_b > n_a:
        per_image = max((t_b - t_a) / (n_b - n_a), 0.0)
        per_call = max(t_b - per_image * n_b, 0.0)
    else:
        per_image, per_call = t_b / max(n_b, 1), 0.0
    return -(-images // max(batch, 1)) * per_call + images * per_image


class Inference:
    """How the batches are run: eager, or a compiled static graph once it has agreed with eager
    on images it was not traced on. Everything about compiling happens within the first batch,
    so no later batch waits for it: its head (one micro-batch) and the next CHECK_IMAGES images
    run eagerly, the latter timing the model; the graph is traced on the head and checked on
    the latter; the rest of the batch already goes through the graph. The graph runs a batch
    in micro-batches (its static batch size)."""

    def __init__(self, model: Any, mode: str) -> None:
        self.model = model
        self.requested = mode
        self.mode = "eager"
        self.batch_shape: tuple[int, ...] | None = None
        self.graph: Any = None  # compiled and checked
        self.micro = 0
        self.timings: dict[str, float] = {}  # micro-batch -> images/s on the checked images
        self.agreement: float | None = None
        self.note = "" if mode == "compiled" else "compiling was turned off for this job"
        self.compiled_batches = 0  # batches with images through the graph (the first one included)
        self.eager_batches = 0  # batches run wholly eagerly
        self.checked_batches = 0  # batches with images run both ways and compared
        self.compile_s = 0.0  # tracing, dumping and loading the graphs
        self.first_s = 0.0  # the first batch, every one-off cost of compiling included
        self.allocator = "default"  # "freed memory kept" once keep_freed_memory() took
        self.layout = ""  # the compiled graph's data layout (compile_graph)
        self.layout_rejected = ""  # why the layouts tried before it were not used
        self.layouts: tuple[dict[str, bool], ...] | None = None  # LAYOUTS, or those the job allows (set_layouts)
        self.left_out = ""  # why the job left some out

    def set_layouts(self, allowed: Any, why: Any) -> None:
        """The job's list of layout names ("nchw88", "nchw") to try, when it gives one (the
        parent's own CPU check found NCHW88 failing here: claims/cpucheck.py); the plain
        layout stays, it is what every other one falls back to."""
        if isinstance(allowed, list):
            self.layouts = tuple(lay for lay in LAYOUTS if _layout_name(lay) in allowed or not lay)
            self.left_out = str(why or "")

    def eager(self, x: np.ndarray) -> np.ndarray:
        import megengine

        return np.asarray(self.model(megengine.tensor(x)).numpy())

    def _eager_batch(self, x: np.ndarray) -> np.ndarray:
        self.eager_batches += 1
        return self.eager(x)

    def first(self, x: np.ndarray, workdir: str, timeout_s: float, rest: int, worth_s: float = 20.0) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return self._first(x, workdir, timeout_s, rest, worth_s)
        finally:
            self.first_s = time.perf_counter() - t0

    def _first(self, x: np.ndarray, workdir: str, timeout_s: float, rest: int, worth_s: float) -> np.ndarray:
        """The first batch (`rest` images follow it). The graphs are compiled only when the images
        after the checked ones would take at least `worth_s` seconds eagerly (compiling costs
        seconds too), as timed on the head and on the checked ones (eager_estimate)."""
        if self.requested != "compiled":
            return self._eager_batch(x)
        sizes = micro_batches(len(x))
        if not sizes:
            self.note = "not compiled: a batch of one image leaves none to check a graph on"
            return self._eager_batch(x)
        head = max(sizes)
        self.eager(x[:1])  # the first call's set-up (allocations), so that the timings below leave it out
        t0 = time.perf_counter()
        out = [self.eager(x[:head])]
        t_head = time.perf_counter() - t0
        # The check runs on images the graphs were not traced on: a value read back to the host
        # while tracing (baked into a graph as a constant) shows up here.
        checked = head + min(len(x) - head, max(head, CHECK_IMAGES))
        check = x[head:checked]
        t0 = time.perf_counter()
        ref = self.eager(check)
        out.append(ref)
        left = rest + len(x) - checked
        estimate = eager_estimate(t_head, head, time.perf_counter() - t0, len(check), left, len(x))
        if rest < 2 * len(x) or estimate < worth_s:
            self.note = f"not compiled: the other {left} images take about {estimate:.1f} s eagerly"
            return self._rest_eager(out, x, checked)
        candidates = self._compile(x, sizes, workdir, timeout_s)
        if not candidates:
            return self._rest_eager(out, x, checked)
        self.checked_batches += 1
        for m, graph in candidates.items():
            t0 = time.perf_counter()
            why = self._compare(ref, graph, m, check)
            if why:
                self.note = f"{why} on the first batch; eager instead"
                return self._rest_eager(out, x, checked)
            self.timings[str(m)] = round(len(check) / max(time.perf_counter() - t0, 1e-9), 2)
        self.micro = int(max(self.timings, key=lambda m: self.timings[m]))
        self.graph, self.mode = candidates[self.micro], "compiled"
        self.layout = str(getattr(self.graph, "layout", ""))
        self.layout_rejected = "; ".join(w for w in (self.left_out, str(getattr(self.graph, "rejected", ""))) if w)
        self.compiled_batches += 1
        if checked < len(x):
            out.append(self._padded(x[checked:]))
        return np.concatenate(out)

    def _rest_eager(self, done: list[np.ndarray], x: np.ndarray, start: int) -> np.ndarray:
        self.eager_batches += 1
        if start < len(x):
            done.append(self.eager(x[start:]))
        return np.concatenate(done)

    def _compile(self, x: np.ndarray, sizes: list[int], workdir: str, timeout_s: float) -> dict[int, Any]:
        """A graph per micro-batch size, traced on the head of `x` ({} and a note if one fails)."""
        guard = threading.Timer(timeout_s, _give_up, args=(COMPILE_HUNG, f"compiling the model did not finish in {timeout_s:.0f} s"))
        guard.daemon = True
        guard.start()
        t0 = time.perf_counter()
        graphs: dict[int, Any] = {}
        try:
            for m in sizes:
                graphs[m] = compile_graph(self.model, x[:m], os.path.join(workdir, f"compiled-{m}.mge"), self.layouts)
            self.batch_shape = tuple(x.shape)
        except Exception as exc:  # any failure to trace, dump or load: eager, said why
            graphs = {}
            self.note = f"compiling failed, eager instead: {type(exc).__name__}: {str(exc)[:300]}"
        finally:
            guard.cancel()
            self.compile_s = time.perf_counter() - t0
        return graphs

    def _compare(self, ref: np.ndarray, graph: Any, m: int, x: np.ndarray) -> str:
        """Why the graph's logits for `x` differ from eager's `ref` ("" if they agree)."""
        try:
            got = run_padded(graph, x, m)
        except Exception as exc:
            return f"the compiled graph failed: {type(exc).__name__}: {str(exc)[:300]}"
        if got.shape != ref.shape or not np.all(np.isfinite(got)):
            return f"the compiled graph gave logits of shape {got.shape} or non-finite values"
        delta = float(np.max(np.abs(got - ref))) if ref.size else 0.0
        self.agreement = max(self.agreement or 0.0, delta)
        if not delta <= AGREEMENT_TOL:
            return f"the compiled graph's logits differ from eager by {delta:.3g} (> {AGREEMENT_TOL:g})"
        return ""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        shape = self.batch_shape
        if self.graph is None or shape is None or tuple(x.shape[1:]) != shape[1:] or len(x) > shape[0]:
            return self._eager_batch(x)  # an eager job, or images of another shape (the graph's shape is static)
        self.compiled_batches += 1
        if len(x) < shape[0]:
            return self._padded(x)
        if self.compiled_batches % SPOT_EVERY == 0:
            ref = self.eager(x)
            self.checked_batches += 1
            why = self._compare(ref, self.graph, self.micro, x)
            if why:  # earlier compiled batches cannot be trusted either: start again, eager
                _give_up(LATE_DISAGREEMENT, f"{why} on a spot check of batch {self.compiled_batches}")
            return ref
        return run_graph(self.graph, x, self.micro)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        return run_padded(self.graph, x, self.micro)

    def record(self, batch: int) -> dict[str, Any]:
        import megengine

        return {"mode": self.mode, "batch": batch, "micro_batch": self.micro, "micro_batch_img_per_s": self.timings,
                "agreement": self.agreement, "checked_batches": self.checked_batches,
                "device": megengine.get_default_device(), "threads": os.environ.get("OMP_NUM_THREADS"),
                "allocator": self.allocator, "layout": self.layout, "layout_rejected": self.layout_rejected,
                "compiled_batches": self.compiled_batches, "eager_batches": self.eager_batches,
                "compile_s": round(self.compile_s, 3), "first_batch_s": round(self.first_s, 3), "note": self.note}


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 * 1024 ** 2  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep the memory the model frees for the next batch. MegEngine's CPU
    comp node takes a run's activations and workspaces from malloc and frees them after it;
    with glibc's defaults the freed top of the heap goes back to the kernel (trimmed) and
    blocks over the (growing) mmap threshold are unmapped, so every run faults its memory back
    in page by page. EfficientNet-Lite0, compiled, micro-batch 4: ~60,000 minor page faults a
    run (~240 MB), 3.7 of 9.8 s of CPU in the kernel for 64 images; with these two settings
    none, and the bare forward went from 7.7 to 13.3 img/s (median of 3 paired runs, load
    1.5-3, 2 cores). The process's memory stays at its peak instead of shrinking between
    batches (a child lives for one job). Also used by benchmarks/eval_speed.py for its bare
    forward. False where it cannot be set (not glibc)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # fixed thresholds: a fixed mmap threshold also turns off glibc's dynamic adjustment
    return bool(mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1)) & bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))


def _give_up(code: int, why: str) -> None:
    print(f"eval: {why}", file=sys.stderr, flush=True)
    os._exit(code)


def x86_avx2() -> bool:
    """Whether this CPU runs MegEngine's NCHW88 (x86 AVX2) kernels."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:
        return False


# The layouts a graph is dumped with, tried in order: on x86 with AVX2 the NCHW88 layout first
# (convolutions on 8-channel blocks, MegEngine's x86 AVX kernels). EfficientNet-Lite0,
# micro-batch 4, paired: 15.1 -> 21.6 img/s for the bare forward (3.5 instead of 5.0 s of CPU
# for 64 images), logits 1.6e-5 from eager (plain layout 1.0e-5); the first-batch check still
# decides whether the graph is used.
LAYOUTS: tuple[dict[str, bool], ...] = (({"enable_nchw88": True},) if x86_avx2() else ()) + ({},)


# A graph of another layout than the plain one first runs in a process of its own: on some
# CPUs MegEngine's JIT kernels for it end the process (seen on an AMD EPYC with AVX-512: the
# NCHW88 graph's first run printed "bad err=45 in Xbyak::Error" and called exit(), whose
# handlers then hung), which no try/except in this process could survive. The test run
# registers `_exit(70)` as the first exit handler to run (registered last, after MegEngine's
# own), so such an exit ends it at once instead of after the time budget.
_PROBE = r"""
import os, sys
import numpy as np
from megengine.utils.comp_graph_tools import GraphInference
graph = GraphInference(sys.argv[1])
x = np.load(sys.argv[2])
try:  # an exit() from inside MegEngine ends this process at once, not in MegEngine's handlers
    import ctypes
    libc = ctypes.CDLL(None)
    libc.__cxa_atexit.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    libc.__cxa_atexit(ctypes.cast(libc._exit, ctypes.c_void_p), ctypes.c_void_p(70), None)
except (OSError, AttributeError):
    pass
print("loaded", flush=True)
got = graph.run(inp_dict={"data": x})
v = np.asarray(next(iter(got.values()))) if len(got) == 1 else None
print("ran" if v is not None and v.shape[0] == len(x) and np.all(np.isfinite(v)) else "bad output", flush=True)
os._exit(0)
"""
PROBE_LOAD_S = 60.0  # a fresh Python importing MegEngine and loading the graph: ~1.3 s idle
PROBE_RUN_S = 15.0  # one micro-batch through the loaded graph: well under a second here


def runs_apart(path: str, x: np.ndarray, load_s: float = PROBE_LOAD_S, run_s: float = PROBE_RUN_S,
               script: str = _PROBE) -> str:
    """Why the graph dumped to `path` cannot be trusted to run batch `x` in this process ("" if
    it ran in a child process of its own and gave one finite logit row per image). A child
    that does not say "loaded" within `load_s`, or "ran" within `run_s` after it, is killed."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as tmp:
        inp = os.path.join(tmp, "x.npy")
        np.save(inp, x)
        proc = subprocess.Popen([sys.executable, "-I", "-c", script, path, inp], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line.decode("utf-8", "replace").strip())
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        said: list[str] = []
        why = ""
        try:
            for stage, budget in (("loaded", load_s), ("ran", run_s)):
                deadline = time.monotonic() + budget
                while True:
                    try:
                        line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        why = f"its test run did not say {stage!r} within {budget:.0f} s"
                        break
                    if line is None:
                        code = proc.wait()
                        how = "exit() called inside MegEngine" if code == 70 else f"exit code {code}"
                        why = f"its test run ended ({how}) after {said or 'nothing'}"
                        break
                    said.append(line)
                    if line == stage:
                        break
                    if stage == "ran" and line:
                        why = f"its test run gave {line}"
                        break
                if why:
                    break
        finally:
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass
            proc.wait()
    return why


def _layout_name(layout: dict[str, bool]) -> str:
    return "nchw88" if layout.get("enable_nchw88") else "nchw"


def compile_graph(model: Any, x: np.ndarray, path: str,
                  layouts: tuple[dict[str, bool], ...] | None = None) -> Any:
    """`model` traced on batch `x` and dumped with the inference optimisations to `path`, loaded
    back as a static graph (its `layout` attribute: "nchw88" or "nchw"; `rejected`: why the
    layouts before it were not used, "" if none was). A layout that fails to dump, to load or
    to run apart (runs_apart; every layout but the plain one) falls back to the next of
    `layouts` (LAYOUTS, or those the job allows). Also used by benchmarks/eval_speed.py for its
    bare forward (through Inference)."""
    import megengine
    from megengine.jit import trace
    from megengine.utils.comp_graph_tools import GraphInference

    layouts = LAYOUTS if layouts is None else layouts
    traced = trace(lambda data: model(data), symbolic=True, capture_as_const=True)
    traced(megengine.tensor(x))
    rejected: list[str] = []
    for i, layout in enumerate(layouts):
        name = _layout_name(layout)
        try:
            traced.dump(path, arg_names=["data"], no_assert=True, optimize_for_inference=True,
                        enable_fuse_conv_bias_nonlinearity=True, **layout)
            why = runs_apart(path, x) if layout else ""
            if why:
                raise RuntimeError(why)
            graph = GraphInference(path)
        except Exception as exc:
            if i == len(layouts) - 1:
                raise
            rejected.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        graph.layout, graph.rejected = name, "; ".join(rejected)
        return graph
    raise AssertionError("LAYOUTS ends with the plain layout")


def run_graph(graph: Any, x: np.ndarray, micro: int) -> np.ndarray:
    """The graph's logits for batch `x`, `micro` images at a time (the graph's static batch)."""
    out = []
    for i in range(0, len(x), micro):
        got = graph.run(inp_dict={"data": x[i:i + micro]})
        if len(got) != 1:
            raise ValueError(f"the traced model has {len(got)} outputs, not one")
        out.append(np.asarray(next(iter(got.values()))))
    return np.concatenate(out)


def run_padded(graph: Any, x: np.ndarray, micro: int) -> np.ndarray:
    """`x` through the graph, padded with copies of its last image to a whole number of
    micro-batches (a shorter batch; inference is per image, so padding changes no logit of the
    real images), the padding's logits dropped."""
    pad = -len(x) % micro
    padded = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) if pad else x
    return run_graph(graph, padded, micro)[:len(x)]


def main(job_path: str, result_path: str) -> int:
    t0 = time.perf_counter()
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    kept = keep_freed_memory()
    import megengine
    import megengine.hub as hub

    mode = str(job.get("inference", "compiled"))
    if mode == "compiled" and megengine.get_default_device() == "cpux" and not megengine.is_cuda_available():
        # A dumped graph's input is created on "xpux"; the weights must be there too, or the
        # graph mixes two comp nodes. Without a GPU both name the same CPU.
        megengine.set_default_device("xpux")
    hub_args = dict(git_host=job.get("git_host", "github.com"), commit=job.get("commit"))
    model = hub.load(job["repo"], job["entry"], pretrained=True, **hub_args, **job.get("entry_kwargs", {}))
    model.eval()
    pre = job["preprocess"]
    if "hub_entry" in pre:
        transform = _hub_entry(getattr(hub.import_module(job["repo"], **hub_args), pre["hub_entry"]), pre.get("channel_order", "BGR"))
    else:
        transform = _declarative(pre)

    source = Stream(sys.stdin.buffer)
    bs = int(job.get("batch_size", 32))
    k = int(job.get("topk", 5))
    load_s = time.perf_counter() - t0

    batches: queue.Queue = queue.Queue(maxsize=4)
    pool = ThreadPoolExecutor(max(1, int(job.get("workers", 1))))

    def one(data: bytes) -> np.ndarray:
        return np.asarray(transform(source.decode(data)), dtype=np.float32)

    def produce() -> None:
        try:
            chunk: list[bytes] = []
            for data in source.records():
                chunk.append(data)
                if len(chunk) == bs:
                    batches.put(np.stack(list(pool.map(one, chunk))))
                    chunk = []
            if chunk:
                batches.put(np.stack(list(pool.map(one, chunk))))
            batches.put(None)
        except BaseException as exc:  # hand the error to the consumer, which reports it
            batches.put(exc)

    threading.Thread(target=produce, daemon=True).start()
    infer = Inference(model, mode)
    infer.set_layouts(job.get("layouts"), job.get("layouts_note"))
    if kept:
        infer.allocator = "freed memory kept"
    workdir = os.path.dirname(os.path.abspath(result_path))
    compile_timeout_s = float(job.get("compile_timeout_s", 900.0))
    compile_if_s = float(job.get("compile_if_eager_s", 20.0))
    top: list[list[int]] = []
    first = True
    classes = 0
    forward_s = 0.0
    t_eval = time.perf_counter()
    last = t_eval
    every = float(job.get("progress_every_s", 2.0))
    label = f"eval {job['entry']}"
    while True:
        got = batches.get()
        if got is None:
            break
        if isinstance(got, BaseException):
            raise got
        tf = time.perf_counter()
        logits = (infer.first(got, workdir, compile_timeout_s, source.count - len(got), compile_if_s) if first
                  else infer(got))
        first = False
        forward_s += time.perf_counter() - tf
        classes = int(logits.shape[1])
        # stable sort on -logits: ties go to the lower class index, deterministically
        order = np.argsort(-logits, axis=1, kind="stable")[:, :min(k, classes)]
        top.extend(order.tolist())
        now = time.perf_counter()
        if now - last >= every:
            print(f"{label}: {len(top)}/{source.count} images, {len(top) / (now - t_eval):.1f} images/s",
                  file=sys.stderr, flush=True)
            last = now
    eval_s = time.perf_counter() - t_eval
    print(f"{label}: {len(top)}/{source.count} images, {len(top) / max(eval_s, 1e-9):.1f} images/s (done)",
          file=sys.stderr, flush=True)
    result = {
        "n": len(top),
        "classes": classes,
        "top": top,
        "wall_s": time.perf_counter() - t0,
        "load_s": load_s,
        "eval_s": eval_s,
        "images_per_s": len(top) / max(eval_s, 1e-9),
        "forward_images_per_s": len(top) / max(forward_s, 1e-9),
        "versions": {"megengine": megengine.__version__, "numpy": np.__version__},
        "inference": infer.record(bs),
    }
    with open(result_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(result_path + ".tmp", result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
