"""Fixtures for the claims tests: a real tiny model trained here on scikit-learn's digits, put in
a made-up hub repository (`testzoo/digits`) inside an MGE_HOME laid out the way megengine.hub
expects, and a dataset registry pointing at its test split."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.claims.datasets import DatasetDef, load_registry
from generator.core.model import Card
from generator.cards.parse import parse_card
from generator.hub.layout import hub_cache_dirname, serialized_filename
from generator.store.materialize import RunAssets

HERE = Path(__file__).parent
REPO = "testzoo/digits"

HUBCONF = '''
import megengine.functional as F
import megengine.hub as hub
import megengine.module as M


class DigitsLinear(M.Module):
    """Logistic regression on 8x8 images."""

    def __init__(self):
        super().__init__()
        self.fc = M.Linear(64, 10)

    def forward(self, x):
        return self.fc(F.flatten(x, 1))


@hub.pretrained("{url_a}")
def digits_linear(**kwargs):
    return DigitsLinear()


@hub.pretrained("{url_b}")
def digits_linear_b(**kwargs):
    return DigitsLinear()


def digits_untrained(**kwargs):
    return DigitsLinear()


class HostRead(DigitsLinear):
    """Reads its input back to the host mid-forward: a symbolic trace bakes that value in."""

    def forward(self, x):
        import megengine
        return self.fc(F.flatten(megengine.tensor(x.numpy()), 1))


class Noisy(DigitsLinear):
    """Adds fresh noise on every call: a compiled graph can never agree with eager."""

    def forward(self, x):
        import megengine.random
        y = self.fc(F.flatten(x, 1))
        return y + megengine.random.normal(0.0, 0.01, y.shape)


class Drifting(DigitsLinear):
    """Shifts every logit by one after its fourth call (argmax unchanged; the child makes three
    eager calls, then the trace's): a graph traced early agrees at first and disagrees on a
    later spot check."""

    calls = 0

    def forward(self, x):
        self.calls += 1
        return self.fc(F.flatten(x, 1)) + (1.0 if self.calls > 4 else 0.0)


@hub.pretrained("{url_a}")
def digits_host_read(**kwargs):
    return HostRead()


@hub.pretrained("{url_a}")
def digits_noisy(**kwargs):
    return Noisy()


@hub.pretrained("{url_a}")
def digits_drifting(**kwargs):
    return Drifting()
'''


@dataclass
class DigitsZoo:
    root: Path
    mge_home: Path
    tree: Path
    assets: RunAssets
    registry: dict[str, DatasetDef]
    correct: int
    n: int
    url_a: str
    url_b: str

    @property
    def percent(self) -> str:
        return f"{100.0 * self.correct / self.n:.3f}"


@pytest.fixture(scope="session")
def digits_zoo(tmp_path_factory: pytest.TempPathFactory) -> DigitsZoo:
    root = tmp_path_factory.mktemp("digits")
    work = root / "train"
    work.mkdir()
    (work / "hubconf.py").write_text(HUBCONF.format(url_a="x", url_b="x"))
    subprocess.run([sys.executable, str(HERE / "train_digits.py"), str(work), str(work)], check=True,
                   capture_output=True, timeout=120)
    measured = json.loads((work / "measured.json").read_text())
    pct = f"{round(100_000.0 * measured['correct'] / measured['n']):05d}"
    url_a = f"https://example.invalid/testzoo/weights/digits_linear_plain_{pct}_0badc0de.pkl"
    url_b = "https://example.invalid/testzoo/weights/digits_linear_plain_50000_0badc0df.pkl"
    mge_home = root / "mge_home"
    owner, name = REPO.split("/")
    tree = mge_home / "hub" / hub_cache_dirname(owner, name)
    tree.mkdir(parents=True)
    (tree / "hubconf.py").write_text(HUBCONF.format(url_a=url_a, url_b=url_b))
    (mge_home / "serialized").mkdir()
    weights = (work / "weights.pkl").read_bytes()
    for url in (url_a, url_b):
        (mge_home / "serialized" / serialized_filename(url)).write_bytes(weights)
    (root / "datasets.yaml").write_text(textwrap.dedent(f"""\
        digits-test:
          title: scikit-learn digits, odd positions
          kind: npz
          default: {work / 'digits_test.npz'}
          size: {measured['n']}
          num_classes: 10
          model_index: {{type: digits, name: sklearn digits (odd positions), split: test}}
        """))
    registry, diags = load_registry(root / "datasets.yaml")
    assert not diags
    assets = RunAssets(mge_home=mge_home, url_map={}, substitutes=frozenset(), missing=(), hub_repos={},
                       weights={})
    return DigitsZoo(root, mge_home, tree, assets, registry, measured["correct"], measured["n"], url_a, url_b)


VERIFY = """\
verify:
  repo: testzoo/digits
  dataset: digits-test
  preprocess: {channel_order: GRAY, scale: 0.0625, mean: [0.0], std: [1.0]}
  rows: {DigitsLinear: digits_linear}
"""


def make_card(tmp: Path, zh_rows: str, en_rows: str | None = None, header: str = "| 模型 | Top1 acc |",
              en_header: str = "| model | Top1 acc |", verify: str = VERIFY, name: str = "test_vision_digits") -> Card:
    """A hub1 card with one results table per language; returns the parsed Card."""
    en_rows = zh_rows if en_rows is None else en_rows
    sep = "|" + " --- |" * (header.count("|") - 1)
    text = (
        "---\ntemplate: hub1\ntitle: Digits\nsummary:\n    en_US: Logistic regression on digits (test card)\n"
        "    zh_CN: 手写数字逻辑回归（测试卡片）\nauthor: Test\ntags: [vision, classification]\n"
        f"github-link: https://github.com/testzoo/digits\n{verify}---\n\n"
        "```python\nimport megengine.hub\n"
        "model = megengine.hub.load('testzoo/digits', 'digits_linear', pretrained=True)\nmodel.eval()\n```\n"
        f"<!-- section: zh_CN -->\n\n### 模型描述\n\n{header}\n{sep}\n{zh_rows}\n\n"
        f"<!-- section: en_US -->\n\n### Model Description\n\n{en_header}\n{sep}\n{en_rows}\n"
    )
    path = tmp / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    card, diags = parse_card(str(path), text)
    assert card is not None, [str(d) for d in diags]
    return card
