"""Verdicts on cards shaped like the real MegEngine hub cards, built end to end through the
command line against a test double of the `megengine/models` repository (fixtures/real_shapes):
no hand-written `rows:` anywhere, so what is found is found out of the box."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = HERE / "fixtures" / "real_shapes"
pytestmark = pytest.mark.megengine


def cli(project: Path, *args: str, store: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_STORE": str(store)}
    env.pop("IMAGENET_VAL_DIR", None)
    return subprocess.run([python, "-m", "generator", *args, "--project", str(project)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=900)


def make_project(dest: Path, store: Path, python: str = sys.executable) -> Path:
    shutil.copytree(FIXTURES / "cards", dest / "cards")
    for folder, repo in (("hub_models", "megengine/models"), ("hub_text", "megvii-model/cliptext")):
        added = cli(dest, "fetch", "--from", str(FIXTURES / folder), "--repo", repo, store=store, python=python)
        assert added.returncode == 0, added.stderr
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("shapes")
    store = base / "store"
    project = make_project(base / "project", store)
    proc = cli(project, "build", "--strict", "--no-search", store=store)
    report = json.loads((project / "site" / "verify" / "report.json").read_text(encoding="utf-8"))
    return {"project": project, "store": store, "proc": proc, "report": report}


def card(built: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in built["report"]["cards"] if c["id"] == cid)


def claims(built: dict[str, Any], cid: str, lang: str = "en_US", **match: Any) -> list[dict[str, Any]]:
    return [c for c in card(built, cid)["claims"]
            if c["lang"] == lang and all(c[k] == v for k, v in match.items())]


def check(claim: dict[str, Any], name: str) -> dict[str, Any]:
    return next(k for k in claim["checks"] if k["name"] == name)


def test_x0_5_labels_match_entries_and_the_drift_is_found(built: dict[str, Any]) -> None:
    top1 = claims(built, "megengine_vision_shufflenet", metric="top1")
    got = {c["row"]: (c["status"], check(c, "weight-name")["measured"]) for c in top1}
    assert got == {"ShuffleNetV2 x0.5": ("mismatch", pytest.approx(60.75)),
                   "ShuffleNetV2 x1.0": ("mismatch", pytest.approx(69.369)),
                   "ShuffleNetV2 x1.5": ("mismatch", pytest.approx(72.775)),
                   "ShuffleNetV2 x2.0": ("mismatch", pytest.approx(75.115))}
    err = built["proc"].stderr
    assert built["proc"].returncode == 1
    line = top1[0]["line"]
    assert (f"cards/megengine_vision_shufflenet.md:{line}: error: ShuffleNetV2 x0.5 / top1 acc = 60.696: "
            "weight-name check: weight file name encodes 60750 (60.750)") in err


def test_repeated_first_column_keypoint_table_on_a_0_1_scale(built: dict[str, Any]) -> None:
    ap = claims(built, "megengine_vision_simplebaseline", metric="ap")
    got = {c["row"]: (c["status"], c["scale"], check(c, "weight-name")["measured"]) for c in ap}
    assert got == {"SimpleBaseline res50": ("mismatch", "fraction", pytest.approx(0.711)),
                   "SimpleBaseline res101": ("mismatch", "fraction", pytest.approx(0.718)),
                   "SimpleBaseline res152": ("mismatch", "fraction", pytest.approx(0.723))}
    assert "71dot1" in check(ap[0], "weight-name")["reason"]
    # the other AP/AR columns are not what the weight name speaks for
    ar = claims(built, "megengine_vision_simplebaseline", metric="ar")
    assert ar and all(check(c, "weight-name")["status"] == "unverified" for c in ar)


def test_gan_table_gives_lower_is_better_claims(built: dict[str, Any]) -> None:
    gan = claims(built, "megengine_vision_dcgan")
    assert {(c["metric"], c["direction"], c["kind"]) for c in gan} == {
        ("fid", "lower", "score"), ("is", "higher", "score"), ("kid", "lower", "score")}
    kid = next(c for c in gan if c["metric"] == "kid" and c["row"] == "DCGAN")
    assert kid["scale"] == "value" and kid["claimed"] == pytest.approx(0.0281)  # not 2.81 %
    assert all(check(c, "languages")["status"] == "pass" for c in gan)
    assert "results-table" not in built["proc"].stderr  # nothing here looks like results and is dropped
    page = (built["project"] / "site/en/models/megengine_vision_dcgan/index.html").read_text(encoding="utf-8")
    assert "β<sub>1</sub>" in page and "&lt;sub&gt;" not in page


def test_detection_rows_match_by_weight_file_name_and_an_unknown_row_is_a_warning(built: dict[str, Any]) -> None:
    det = {c["row"]: c for c in claims(built, "megengine_vision_retinanet")}
    assert check(det["retinanet-res50-1x-800size"], "weight-name")["status"] == "pass"
    assert det["retinanet-res101-1x-800size"]["status"] == "mismatch"
    fcos = det["fcos-res50-1x-800size"]
    assert check(fcos, "weight-name")["status"] == "unverified"
    zh_line = claims(built, "megengine_vision_retinanet", lang="zh_CN", row="fcos-res50-1x-800size")[0]["line"]
    assert (f"cards/megengine_vision_retinanet.md:{zh_line}: warning: row 'fcos-res50-1x-800size': no entry point "
            "of megengine/models matches it") in built["proc"].stderr
    assert "add a verify spec with `rows:`" in built["proc"].stderr


def test_a_hubconf_that_cannot_import_its_package_is_a_hub_error(built: dict[str, Any]) -> None:
    entry = card(built, "megvii_nlp_cliptext")
    blocks = [b for p in entry["programs"] for b in p["blocks"]]
    prelude = next(b for b in blocks if b["lang"] == "prelude")
    assert prelude["status"] == "hub-error", prelude
    assert "'ftfy'" in prelude["reason"] and "hubconf.py line 4" in prelude["reason"]
    rest = [b for b in blocks if b["lang"] != "prelude"]
    assert rest and all(b["status"] == "skipped" for b in rest)
    assert all(b["reason"] == "not run: the block at line 12 hit an error of the hub repository" for b in rest)
    err = built["proc"].stderr
    # at the hub.load call that failed (its innermost frame in the card), not the fence at line 12
    assert "cards/megvii_nlp_cliptext.md:14: error: prelude (starts at line 12) hub-error (the hub repository): " in err
    assert "[snippet-hub-error]" in err
    summary = next(line for line in err.splitlines() if line.startswith("build-site: built"))
    assert "hub-error (the hub repository)" in summary
    assert re.search(r"--strict: \d+ problem\(s\) \(.*hub-error: the hub repository.*mismatch", err)


def test_no_build_machine_paths_in_public_files(built: dict[str, Any]) -> None:
    site = built["project"] / "site"
    page = (site / "en/models/megvii_nlp_cliptext/index.html").read_text(encoding="utf-8")
    assert "&lt;hub repository&gt;/hubconf.py" in page, "the traceback names the hub file, not where it was"
    machine = [str(ROOT), "/tmp/", str(built["project"]), str(Path(sys.prefix)), "/root/"]
    for f in [site / "verify/report.json", *site.rglob("*.html")]:
        text = f.read_text(encoding="utf-8")
        leaked = [m for m in machine if m in text]
        assert not leaked, (f, leaked)


def test_installing_the_package_a_hub_repository_needs_invalidates_the_cached_failure(tmp_path: Path) -> None:
    """A venv of its own (the project's interpreter and packages through a .pth), so a TEST DOUBLE
    of `ftfy` can be installed into it between two builds without touching the shared one."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    here = [p for p in sys.path if p and Path(p).is_dir() and "site-packages" in p]
    (site / "deps.pth").write_text("\n".join([str(ROOT), *here]) + "\n", encoding="utf-8")
    python = str(venv / "bin" / "python")
    store = tmp_path / "store"
    project = make_project(tmp_path / "project", store, python)
    first = cli(project, "build", "--no-search", store=store, python=python)
    assert first.returncode == 0, first.stderr

    def prelude(cid: str) -> dict[str, Any]:
        report = json.loads((project / "site/verify/report.json").read_text(encoding="utf-8"))
        entry = next(c for c in report["cards"] if c["id"] == cid)
        return next(b for p in entry["programs"] for b in p["blocks"] if b["lang"] == "prelude")

    assert prelude("megvii_nlp_cliptext")["status"] == "hub-error"
    # "pip install ftfy", done by hand: a module and its distribution metadata
    (site / "ftfy").mkdir()
    (site / "ftfy" / "__init__.py").write_text('"""TEST DOUBLE of ftfy."""\n\ndef fix_text(text):\n'
                                               '    return text.replace("âœ”", "✔")\n', encoding="utf-8")
    (site / "ftfy-6.1.1.dist-info").mkdir()
    (site / "ftfy-6.1.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: ftfy\nVersion: 6.1.1\n",
                                                          encoding="utf-8")
    second = cli(project, "build", "--no-search", store=store, python=python)
    assert second.returncode == 0, second.stderr
    after = prelude("megvii_nlp_cliptext")
    assert after["status"] == "passed" and not after["cached"], after
    assert prelude("megengine_vision_dcgan")["cached"] is False, "every run depends on what is installed"
    third = cli(project, "build", "--no-search", "--strict", store=store, python=python)
    assert prelude("megvii_nlp_cliptext")["cached"] is True
    assert "hub-error" not in third.stderr.split("build-site: built")[-1]
