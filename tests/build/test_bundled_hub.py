"""The bundled hub, built end to end through the command line with real MegEngine: the two zoo
cards run and verify for real, the ResNet card is honestly blocked/unverified, --strict fails,
a drifted number is caught at its line, and a rebuild is served from the caches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.megengine


def cli(project: Path, *args: str, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_STORE": str(store)}
    env.pop("IMAGENET_VAL_DIR", None)
    return subprocess.run([sys.executable, "-m", "generator", *args, "--project", str(project)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=900)


def make_project(dest: Path) -> Path:
    shutil.copytree(ROOT / "cards", dest / "cards")
    shutil.copytree(ROOT / "zoo", dest / "zoo", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("hub")
    project = make_project(base / "project")
    store = base / "store"
    setup = cli(project, "setup", store=store)
    assert setup.returncode == 0, setup.stderr
    first = cli(project, "build", "--junit", str(base / "junit.xml"), store=store)
    assert first.returncode == 0, first.stderr
    report = json.loads((project / "site" / "verify" / "report.json").read_text(encoding="utf-8"))
    return {"project": project, "store": store, "first": first, "report": report, "base": base}


def card(report: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in report["cards"] if c["id"] == cid)


def blocks(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for p in entry["programs"] for b in p["blocks"]]


def test_zoo_cards_run_for_real(built: dict[str, Any]) -> None:
    for cid in ("verifiedhub_vision_efficientnet_lite", "verifiedhub_vision_fmnist_resnet"):
        got = blocks(card(built["report"], cid))
        assert got and all(b["status"] == "passed" for b in got), got
        assert all("placeholder-weights" not in b["flags"] for b in got)


def test_resnet_card_is_blocked_with_the_fetch_hint(built: dict[str, Any]) -> None:
    entry = card(built["report"], "megengine_vision_resnet")
    prelude = [b for b in blocks(entry) if b["lang"] == "prelude"]
    assert prelude and prelude[0]["status"] == "blocked" and prelude[0]["line"] == 12
    assert "megengine/models" in prelude[0]["reason"] and "build-site fetch" in prelude[0]["reason"]
    assert {b["status"] for b in blocks(entry) if b["lang"] != "prelude"} == {"skipped"}
    # not "earlier block failed": the prelude was blocked, which is not the card's fault
    assert {b["reason"] for b in blocks(entry) if b["lang"] != "prelude"} == {
        "not run: the block at line 12 was blocked (not in the asset store)"}
    claims = entry["claims"]
    assert len(claims) == 24
    assert all(c["status"] == "unverified" for c in claims)
    for c in claims:
        checks = {k["name"]: k for k in c["checks"]}
        assert checks["languages"]["status"] == "pass"
        assert checks["weight-name"]["status"] == "unverified"
        assert "ImageNet val not available" in checks["evaluation"]["reason"]


def test_fmnist_numbers_are_verified_on_the_full_test_set(built: dict[str, Any]) -> None:
    claims = card(built["report"], "verifiedhub_vision_fmnist_resnet")["claims"]
    assert {c["status"] for c in claims} == {"verified"} and len(claims) == 4
    top1 = next(c for c in claims if c["lang"] == "en_US" and c["metric"] == "top1")
    assert top1["measured"] == pytest.approx(87.7, abs=1e-9)
    prov = top1["provenance"]
    assert prov["n"] == 10000 and prov["full"] is True and prov["dataset"] == "fashion-mnist-test"
    assert len(prov["weights_sha256"]) == 64
    index = json.loads((built["project"] / "site/api/v1/models/verifiedhub_vision_fmnist_resnet.model-index.json")
                       .read_text(encoding="utf-8"))
    assert index["model-index"][0]["results"], index


def test_each_card_has_an_svg_badge_with_the_counts_of_the_build(built: dict[str, Any]) -> None:
    texts = {}
    for cid in ("megengine_vision_resnet", "verifiedhub_vision_efficientnet_lite", "verifiedhub_vision_fmnist_resnet"):
        svg = ET.parse(built["project"] / "site" / "badges" / f"{cid}.svg").getroot()
        texts[cid] = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert texts["verifiedhub_vision_fmnist_resnet"] == ["verified hub", "4/4 verified"]
    assert texts["verifiedhub_vision_efficientnet_lite"] == ["verified hub", "0/2 verified"]
    assert texts["megengine_vision_resnet"] == ["verified hub", "code blocked · 0/24 verified"]


def test_efficientnet_number_checked_by_name_but_not_evaluated_here(built: dict[str, Any]) -> None:
    claims = card(built["report"], "verifiedhub_vision_efficientnet_lite")["claims"]
    for c in claims:
        checks = {k["name"]: k["status"] for k in c["checks"]}
        assert c["status"] == "unverified"
        assert checks == {"languages": "pass", "weight-name": "pass", "evaluation": "unverified"}


def test_junit_has_one_case_per_card_and_language(built: dict[str, Any]) -> None:
    suite = ET.parse(built["base"] / "junit.xml").getroot()
    cases = suite.findall(".//testcase")
    assert len(cases) == 6
    failing = {c.get("classname") for c in cases if c.find("failure") is not None}
    assert failing == {"megengine_vision_resnet"}


def test_strict_fails_on_the_blocked_card_and_rebuild_uses_the_caches(built: dict[str, Any]) -> None:
    proc = cli(built["project"], "build", "--strict", store=built["store"])
    assert proc.returncode == 1
    # the failing line (the hub.load call), not the fence at line 12; a plain build warns there
    assert "cards/megengine_vision_resnet.md:14: error: prelude (starts at line 12) blocked" in proc.stderr
    assert "cards/megengine_vision_resnet.md:14: warning: prelude (starts at line 12) blocked" in built["first"].stderr
    report = json.loads((built["project"] / "site/verify/report.json").read_text(encoding="utf-8"))
    assert all(b["cached"] for c in report["cards"] for b in blocks(c))


def test_no_op_rebuild_reads_nothing(built: dict[str, Any]) -> None:
    proc = cli(built["project"], "build", store=built["store"])
    assert proc.returncode == 0 and "site is up to date" in proc.stderr


def test_a_drifted_number_is_a_mismatch_at_its_line(built: dict[str, Any], tmp_path: Path) -> None:
    project = make_project(tmp_path / "drift")
    path = project / "cards" / "verifiedhub_vision_fmnist_resnet.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("| FMNIST-ResNet-S") and "87.700" in line)
    lines[at] = lines[at].replace("87.700", "88.700")
    path.write_text("\n".join(lines), encoding="utf-8")
    shutil.copytree(built["project"] / ".cache", project / ".cache")  # evaluation comes from cache
    proc = cli(project, "build", "--strict", store=built["store"])
    assert proc.returncode == 1
    assert f"cards/verifiedhub_vision_fmnist_resnet.md:{at + 1}: error: FMNIST-ResNet-S / Top-1 acc = 88.700" in proc.stderr


def test_eval_shards_merged_are_what_the_build_uses(built: dict[str, Any], tmp_path: Path) -> None:
    project = make_project(tmp_path / "shards")
    a, b = tmp_path / "a", tmp_path / "b"
    for shard, out in (("1/2", a), ("2/2", b)):
        proc = cli(project, "eval", "--shard", shard, "--results", str(out), store=built["store"])
        assert proc.returncode == 0, proc.stderr
    results = sorted(a.glob("*.json")) + sorted(b.glob("*.json"))
    assert len(results) == 1, "the bundled hub has one evaluable job (Fashion-MNIST), in exactly one shard"
    produced = json.loads(results[0].read_text(encoding="utf-8"))
    assert produced["n"] == 10000 and produced["correct"]["top1"] == 8770
    merged = cli(project, "eval", "--merge", str(a), str(b), store=built["store"])
    assert merged.returncode == 0 and "1 result(s)" in merged.stderr
    proc = cli(project, "build", store=built["store"])
    assert proc.returncode == 0, proc.stderr
    report = json.loads((project / "site/verify/report.json").read_text(encoding="utf-8"))
    top1 = next(c for c in card(report, "verifiedhub_vision_fmnist_resnet")["claims"] if c["metric"] == "top1")
    assert top1["status"] == "verified"
    assert top1["provenance"]["date"] == produced["provenance"]["date"], "the build evaluated again instead of using the merged result"


def test_check_validates_specs_and_lock_without_running(tmp_path: Path) -> None:
    project = make_project(tmp_path / "check")
    (project / "cards" / "megengine_vision_resnet.verify.yaml").write_text("repo: megengine/models\n", encoding="utf-8")
    proc = cli(project, "check", store=tmp_path / "nostore")
    assert proc.returncode == 2
    assert "cards/megengine_vision_resnet.verify.yaml:1: error: verify spec needs 'dataset'" in proc.stderr
    assert not (tmp_path / "nostore").exists(), "check must not touch the store"


def test_resnet_card_runs_and_is_checked_once_its_hub_repo_is_in_the_store(
        built: dict[str, Any], tmp_path: Path) -> None:
    """What `build-site fetch --from <clone> --repo megengine/models` unblocks, shown with a test
    double of that repository (tiny networks, real weight-file names, one drifted name)."""
    project = make_project(tmp_path / "with-models")
    double = Path(__file__).parent / "fixtures" / "megengine_models_double"
    added = cli(project, "fetch", "--from", str(double), "--repo", "megengine/models", store=built["store"])
    assert added.returncode == 0, added.stderr
    proc = cli(project, "build", "--strict", store=built["store"])
    report = json.loads((project / "site/verify/report.json").read_text(encoding="utf-8"))
    entry = card(report, "megengine_vision_resnet")
    for b in blocks(entry):
        assert b["status"] == "passed", b
        assert "placeholder-weights" in b["flags"], "weights are not in the store: outputs are placeholders"
    section = [b for b in blocks(entry) if b["lang"] != "prelude"]
    assert all("substitute-asset" in b["flags"] for b in section), "cat.jpg is served by a stand-in photo"

    def weight_check(row: str, metric: str) -> dict[str, Any]:
        claim = next(c for c in entry["claims"] if c["row"] == row and c["metric"] == metric and c["lang"] == "en_US")
        return {k["name"]: k for k in claim["checks"]}["weight-name"] | {"state": claim["status"]}

    assert weight_check("ResNet18", "top1")["status"] == "pass"
    assert weight_check("ResNet50", "top1")["status"] == "pass"
    drifted = weight_check("ResNet34", "top1")
    assert drifted["status"] == "mismatch" and drifted["state"] == "mismatch", drifted
    assert weight_check("ResNet101", "top1")["status"] == "unverified"
    assert weight_check("ResNet18", "top5")["status"] == "unverified"
    # placeholder weights are never evaluated: the numbers stay unverified by evaluation
    assert all({k["name"]: k for k in c["checks"]}["evaluation"]["status"] == "unverified" for c in entry["claims"])
    assert proc.returncode == 1
    assert "cards/megengine_vision_resnet.md:63: error: ResNet34 / Top1 acc = 73.960" in proc.stderr


SUBSET = ROOT / "tests" / "claims" / "fixtures" / "imagenet_val_subset"


def test_a_folder_of_some_imagenet_images_is_measured_on_a_subset_never_judged(
        built: dict[str, Any], tmp_path: Path) -> None:
    """IMAGENET_VAL_DIR holding 6 of the 50,000 validation items (a subset the tool did not draw):
    EfficientNet-Lite0's 75.1 is shown as measured on that subset, never verified, consistent or
    a mismatch; declaring the folder a random sample makes an interval apply."""
    project = make_project(tmp_path / "subset")
    proc = cli(project, "build", "--strict", "--no-search", "--imagenet-dir", str(SUBSET), store=built["store"])
    report = json.loads((project / "site/verify/report.json").read_text(encoding="utf-8"))
    (claim,) = [c for c in card(report, "verifiedhub_vision_efficientnet_lite")["claims"] if c["lang"] == "en_US"]
    assert claim["status"] == "measured-on-subset", claim
    ev = {k["name"]: k for k in claim["checks"]}["evaluation"]
    assert ev["status"] == "measured-on-subset" and ev["code"] == "measured-on-subset"
    assert ev["args"]["n"] == 6 and claim["provenance"]["holds"] == "subset"
    assert "measured on an undeclared part of ImageNet-1k validation set (ILSVRC2012) (6 of 50,000 items): " in ev["reason"]
    assert "(n=6)" in ev["reason"] and "interval" not in ev["reason"]
    fingerprint = claim["provenance"]["dataset_fingerprint"]
    at = 1 + (project / "cards/datasets.yaml").read_text(encoding="utf-8").split("\n").index("imagenet-val:")
    assert (f"cards/datasets.yaml:{at}: warning: IMAGENET_VAL_DIR holds 6 items, not the 50,000 of the full "
            f"imagenet-val") in proc.stderr and fingerprint in proc.stderr
    assert not [ln for ln in proc.stderr.splitlines()
                if "verifiedhub_vision_efficientnet_lite.md" in ln and "[claim-mismatch]" in ln]
    page = (project / "site/en/models/verifiedhub_vision_efficientnet_lite/index.html").read_text(encoding="utf-8")
    assert "measured on a subset" in page

    # Declared a random sample (seed, population): now a 95 % interval may judge the claim.
    registry = project / "cards" / "datasets.yaml"
    registry.write_text(registry.read_text(encoding="utf-8").replace(
        "  model_index: {type: imagenet-1k,",
        "  samples:\n"
        "    imagenet-val-six:\n"
        "      holds: random-sample\n"
        "      seed: 0\n"
        "      population: imagenet-val\n"
        f"      fingerprint: {fingerprint}\n"
        "  model_index: {type: imagenet-1k,", 1), encoding="utf-8")
    again = cli(project, "build", "--no-search", "--imagenet-dir", str(SUBSET), store=built["store"])
    assert again.returncode == 0, again.stderr
    report = json.loads((project / "site/verify/report.json").read_text(encoding="utf-8"))
    (claim,) = [c for c in card(report, "verifiedhub_vision_efficientnet_lite")["claims"] if c["lang"] == "en_US"]
    ev = {k["name"]: k for k in claim["checks"]}["evaluation"]
    assert claim["status"] in ("consistent", "mismatch") and "95 % interval" in ev["reason"], claim
    assert "dataset-subset" not in again.stderr


def test_zh_pages_word_every_reason_of_the_tool_in_chinese(built: dict[str, Any]) -> None:
    """What the bundled hub really produced (a blocked prelude, skipped blocks, numbers nobody
    could evaluate here): every reason on a zh page has its catalog sentence, and the check
    lists, tooltips and shared reasons carry no Latin word outside code, except names."""
    import re

    names = {"MegEngine", "UTC", "Python", "NumPy", "OpenCV", "sha256"}
    parts = (r'<ul class="checks">(.*?)</ul>', r'<ol class="shared-reasons"[^>]*>(.*?)</ol>',
             r'<span class="tip" role="tooltip"[^>]*>(.*?)</span></span>', r'<span class="ev-reason">(.*?)</span>')
    pages = sorted((built["project"] / "site" / "zh" / "models").glob("*/index.html"))
    assert len(pages) == 3
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "此原因尚无中文说明" not in html, page
        for part in parts:
            for chunk in re.findall(part, html, re.S):
                text = re.sub(r"<[^>]+>", " ", re.sub(r"<(code|pre)\b.*?</\1>", " ", chunk, flags=re.S))
                words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text) if w not in names]
                assert words == [], (page.name, chunk[:300])
