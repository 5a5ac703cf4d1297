"""The evidence a model page shows: "How this was verified" (each measured number with what it
was measured on, with what, where and when), the Reproduce box, and the notes next to a code
block about what the offline store served it and which hosts a reader cannot reach.

Pure functions from a card's `CardVerification` (its runs, its numbers with the provenance of
their evaluation, and the store items it used) to small view records; templates/_evidence.html
lays them out. Only what a run or an evaluation recorded is shown: a field an evaluation did not
record says so, and a number nobody measured is listed as not evaluated, with the reason.

`card_records` is the one part that reads the build's inputs (the lock, the spec, the dataset
registry): it picks the store items and the dataset a card's evidence names, once per build.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Collection, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from generator import __version__ as TOOL_VERSION
from generator.claims.datasets import DatasetDef
from generator.claims.spec import VerifySpec
from generator.core.model import (PRELUDE, AssetRecord, Card, CardVerification, CheckOutcome, ClaimState,
                                  DatasetRecord, ProgramResult, Snippet)
from generator.site import urls
from generator.site.reasons import environment_html, proper_name, reason_html
from generator.site.redact import public_text
from generator.site.views import _slug, header_text, utc_time
from generator.store.lock import Lock, LockItem

Translate = Callable[..., str]

# URLs as they appear in code (quotes, brackets and spaces end one).
_URL = re.compile(r"\b(?:https?|ftp)://[^\s'\"<>()\[\]{}\\]+", re.I)
_SHORT_SHA = 12


# ---------------------------------------------------------------- hosts a reader cannot reach

def unreachable_host(host: str) -> bool:
    """A host no reader's machine reaches: a reserved name (`.invalid`, `localhost`, `.local`,
    `.test`), a loopback, private or link-local address (127/8, 10/8, 172.16/12, 192.168/16,
    ::1, fe80::/10). Such a URL works on the build machine only because the store serves it."""
    h = host.strip("[]").rstrip(".").lower()
    if not h:
        return True
    if h in ("localhost", "invalid", "local", "test") or h.endswith((".invalid", ".localhost", ".local", ".test")):
        return True
    try:
        addr = ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        return False
    return addr.is_loopback or addr.is_private or addr.is_link_local or addr.is_unspecified


def code_urls(code: str) -> tuple[str, ...]:
    """Every URL written in a block's code, in order, once each."""
    return tuple(dict.fromkeys(m.group(0).rstrip(".,;:") for m in _URL.finditer(code)))


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


# ---------------------------------------------------------------- what the build adds (inputs)

def _asset(item: LockItem) -> AssetRecord:
    return AssetRecord(url=item.url, kind=item.kind, sha256=item.sha256, size=item.size,
                       substitute=item.substitute, local=item.source_kind != "url", repo=item.repo or "")


def _card_code(card: Card) -> str:
    parts = [card.prelude.code] if card.prelude is not None else []
    parts += [s.code for sec in card.sections.values() for s in sec.snippets]
    return "\n".join(parts)


def card_records(card: Card, programs: Sequence[ProgramResult], claims: Sequence[ClaimState],
                 spec: VerifySpec | None, lock: Lock | None,
                 datasets: Mapping[str, DatasetDef]) -> tuple[tuple[AssetRecord, ...], DatasetRecord | None]:
    """The lock items the card's evidence names (served to a block, evaluated weights, a URL or
    hub repository its code names, its spec's repository) and the dataset of its spec."""
    wanted: set[str] = set()
    for p in programs:
        for b in p.blocks:
            wanted.update(b.served)
    for s in claims:
        for o in s.checks:
            url = o.provenance.get("weights_url")
            if isinstance(url, str):
                wanted.add(url)
    code = _card_code(card)
    wanted.update(code_urls(code))
    repos = {spec.repo} if spec is not None else set()
    assets: list[AssetRecord] = []
    for item in (lock.items if lock is not None else ()):
        if item.url in wanted:
            assets.append(_asset(item))
        elif item.kind == "hub-repo" and item.repo and (
                item.repo in repos or re.search(rf"""["']{re.escape(item.repo)}(?::[^"']*)?["']""", code)):
            assets.append(_asset(item))
    dataset = None
    if spec is not None and spec.dataset in datasets:
        d = datasets[spec.dataset]
        dataset = DatasetRecord(d.id, d.title or d.id, d.size, d.env, d.title_zh)
    return tuple(assets), dataset


# ---------------------------------------------------------------- view records


@dataclass(frozen=True)
class Field:
    label: Markup | str
    value: Markup  # HTML: text, with identifiers and hashes as <code>
    missing: bool = False  # the evaluation did not record it


@dataclass(frozen=True)
class NumberEvidence:
    label: Markup  # "ResNet18 · Top1 acc", as _data
    written: str
    measured: str
    correct: str  # "8770 / 10000"
    status: str
    status_label: str
    anchor: str  # id of the number's row in the verification table


@dataclass(frozen=True)
class Evaluation:
    title: Markup
    numbers: tuple[NumberEvidence, ...]
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class NotEvaluated:
    numbers: tuple[Markup, ...]  # "ResNet18 · Top1 acc 70.312"
    reason: str


@dataclass(frozen=True)
class RunEvidence:
    summary: str
    environment: Markup
    assets: tuple[Field, ...]


@dataclass(frozen=True)
class EvidenceView:
    evaluations: tuple[Evaluation, ...]
    not_evaluated: tuple[NotEvaluated, ...]
    runs: tuple[RunEvidence, ...]
    has_numbers: bool  # the page has numbers at all
    verified: bool = True  # False: built with --no-verify, nothing ran or was measured
    notice: Markup = Markup()  # what the panel says when nothing was verified


@dataclass(frozen=True)
class Link:
    href: str
    label: Markup | str


@dataclass(frozen=True)
class ReproduceView:
    intro: Markup
    commands: str  # the shell lines, comments in the page's language
    links: tuple[Link, ...]
    notes: tuple[Markup, ...]  # how to run code that needs this hub's own repository or hosts


@dataclass(frozen=True)
class AssetNote:
    kind: str  # served | substitute | unreachable | local-repo
    html: Markup


def _html(t: Translate, key: str, **args: object) -> Markup:
    """A catalog text as HTML: the text itself escaped (a cards folder may bring its own
    catalog), the values escaped unless they are Markup already (<code>, links)."""
    return escape(t(key)).format(**args)


def _code(value: object) -> Markup:
    return Markup("<code>{}</code>").format(value)


def _count(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else str(n)


def _name(value: object) -> Markup:
    """A proper name kept in its own (Latin) spelling on every page: a tool, a library, a CPU
    model, a dataset without a title in the page's language. `lang="en"` is what HTML says for
    foreign words; screen readers pronounce them as such."""
    return proper_name(public_text(str(value)))


# A run of Latin words (with digits and light punctuation) inside a card's own text.
_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9_.+%-]*(?: [A-Za-z0-9][A-Za-z0-9_.+%-]*)*")


def _data(value: object, lang: str = "en_US") -> Markup:
    """Text that comes from a card (a row label, a column header), marked so that a page in
    another language can tell it from the catalog's words; on such a page its Latin runs (model
    names, "Top1 acc") are marked as foreign words, the rest stays in the page's language."""
    text = public_text(str(value))
    if lang == "en_US":
        return Markup('<span class="ev-data">{}</span>').format(text)
    out, at = Markup(), 0
    for m in _LATIN_RUN.finditer(text):
        out += escape(text[at:m.start()]) + Markup('<span lang="en">{}</span>').format(m.group(0))
        at = m.end()
    return Markup('<span class="ev-data">{}</span>').format(out + escape(text[at:]))


def _hash(t: Translate) -> Markup:
    return _name("sha256")


def _size(t: Translate, size: int) -> Markup:
    if size >= 1024 ** 2:
        return escape(t("ev.v.size_mib", value=f"{size / 1024 ** 2:.1f}", n=_count(size)))
    return escape(t("ev.v.size_kib", value=f"{size / 1024:.1f}", n=_count(size)))


def _evaluation(state: ClaimState) -> CheckOutcome | None:
    return next((o for o in state.checks if o.name == "evaluation" and o.measured is not None), None)


def _job_key(prov: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(str(prov.get(k, "")) for k in ("entry", "dataset", "dataset_fingerprint", "weights_sha256",
                                                   "n", "date"))


def _label(state: ClaimState) -> str:
    return f"{state.claim.row} · {header_text(state.claim.column)}"


def _anchor(state: ClaimState) -> str:
    return f"claim-{state.claim.loc.line}-{_slug(state.claim.column)}-row"


def evidence_view(t: Translate, cv: CardVerification | None, lang: str) -> EvidenceView:
    """The panel of one language's page: its own numbers and the program that ran for it."""
    if cv is None:
        return EvidenceView((), (), (), False, verified=False,
                            notice=_html(t, "ev.not_verified", option=_code("--no-verify")))
    states = [s for s in cv.claims if s.claim.lang == lang]
    groups: dict[tuple[str, ...], list[tuple[ClaimState, CheckOutcome]]] = {}
    unmeasured: dict[str, list[Markup]] = {}
    for s in states:
        ev = _evaluation(s)
        if ev is None:
            why = next((o for o in s.checks if o.name == "evaluation"), None)
            reason = (reason_html(t, lang, why) if why is not None else "") or t("ev.no_reason")
            unmeasured.setdefault(reason, []).append(_data(f"{_label(s)} {s.claim.text.strip().strip('*').strip()}", lang))
            continue
        groups.setdefault(_job_key(ev.provenance), []).append((s, ev))
    assets = {a.url: a for a in cv.assets}
    evaluations = tuple(_evaluation_view(t, members, assets, lang, cv.dataset) for members in groups.values())
    not_evaluated = tuple(NotEvaluated(tuple(nums), reason) for reason, nums in unmeasured.items())
    program = cv.program_for(lang)
    runs = (_run_view(t, program, lang, assets),) if program is not None else ()
    return EvidenceView(evaluations, not_evaluated, runs, bool(states))


def _dataset_title(prov: Mapping[str, object], dataset: DatasetRecord | None, lang: str) -> Markup | None:
    """The registry's title in the page's language when it has one, else the recorded title
    as a proper name."""
    title = prov.get("sample") or prov.get("dataset")
    if not title:
        return None
    if (dataset is not None and lang != "en_US" and dataset.title_zh and prov.get("dataset") == dataset.id
            and title in (dataset.title, dataset.id)):
        return _data(dataset.title_zh, lang)
    return _name(title)


def _evaluation_view(t: Translate, members: Sequence[tuple[ClaimState, CheckOutcome]],
                     assets: Mapping[str, AssetRecord], lang: str = "en_US",
                     dataset: DatasetRecord | None = None) -> Evaluation:
    prov = members[0][1].provenance
    numbers = []
    for s, ev in members:
        decimals = max(s.claim.decimals, 1)
        correct, n = ev.provenance.get("correct"), ev.provenance.get("n")
        numbers.append(NumberEvidence(
            label=_data(_label(s), lang), written=s.claim.text.strip().strip("*").strip(),
            measured=f"{ev.measured:.{decimals}f}" if ev.measured is not None else "",
            correct=t("ev.correct", correct=_count(correct), n=_count(n)) if correct is not None and n is not None
            else t("ev.not_recorded"),
            status=s.status, status_label=t(f"claim.{s.status}"), anchor=_anchor(s)))
    missing = Markup(escape(t("ev.not_recorded")))
    fields: list[Field] = []

    def add(key: str, value: Markup | None) -> None:
        fields.append(Field(_html(t, key, hash=_hash(t)), value if value is not None else missing, value is None))

    entry, repo = prov.get("entry"), prov.get("repo")
    add("ev.f.model", _html(t, "ev.v.model", entry=_code(entry), repo=_code(repo)) if entry and repo else None)
    title = _dataset_title(prov, dataset, lang)
    size = prov.get("dataset_size")
    add("ev.f.dataset", _html(t, "ev.v.dataset", title=title, id=_code(prov.get("dataset")),
                                 size=_count(size)) if title and size is not None else None)
    add("ev.f.evaluated", _scope(t, prov))
    fp = prov.get("dataset_fingerprint")
    add("ev.f.fingerprint", _code(fp) if fp else None)
    url, sha = prov.get("weights_url"), prov.get("weights_sha256")
    add("ev.f.weights_url", _code(url) if url else None)
    add("ev.f.weights_sha256", _code(sha) if sha else None)
    wsize = prov.get("weights_size")
    if not isinstance(wsize, int) and isinstance(url, str) and url in assets and assets[url].sha256 == sha:
        wsize = assets[url].size  # the lock pins this very file (same sha256): its size is the file's
    add("ev.f.weights_size", _size(t, wsize) if isinstance(wsize, int) and wsize > 0 else None)
    pre = prov.get("preprocess")
    add("ev.f.preprocess", Markup(escape(t("list_sep"))).join(
        _code(f"{k}: {_plain(v)}") for k, v in sorted(pre.items())) if isinstance(pre, Mapping) and pre else None)
    versions = prov.get("versions")
    add("ev.f.versions", environment_html(t, {k: str(v) for k, v in versions.items()})
        if isinstance(versions, Mapping) and versions else None)
    tool = prov.get("tool_version")
    add("ev.f.tool", _html(t, "ev.v.tool", tool=_name("verified-hub"), version=tool) if tool else None)
    sandbox = prov.get("sandbox")
    add("ev.f.sandbox", (_html(t, "ev.v.sandboxed", sandbox=_name("bubblewrap")) if str(sandbox).startswith("bubblewrap")
                         else _html(t, "ev.v.unsandboxed", option=_code("--unsafe-no-sandbox"))) if sandbox else None)
    cpu = prov.get("cpu")
    add("ev.f.cpu", _name(cpu) if cpu else None)
    batch = prov.get("batch_size")
    add("ev.f.batch", Markup(escape(_count(batch))) if batch is not None else None)
    wall = prov.get("wall_s")
    speed = prov.get("images_per_s")
    add("ev.f.wall", Markup(escape(t("ev.v.wall", seconds=f"{float(wall):.1f}"))
                            + (escape(t("ev.v.speed", speed=f"{float(speed):,.0f}"))
                               if isinstance(speed, (int, float)) else ""))
        if isinstance(wall, (int, float)) else None)
    date = prov.get("date")
    add("ev.f.date", Markup(escape(utc_time(t, date))) if date else None)
    heading = _html(t, "ev.eval_heading", entry=_code(entry or "?"), dataset=title or "?")
    return Evaluation(heading, tuple(numbers), tuple(fields))


def _plain(v: object) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_plain(x) for x in v) + "]"
    return str(v)


def _scope(t: Translate, prov: Mapping[str, object]) -> Markup | None:
    n, size = prov.get("n"), prov.get("dataset_size")
    if n is None:
        return None
    holds, limit = prov.get("holds"), prov.get("limit")
    if holds == "subset":
        return Markup(escape(t("ev.v.subset", n=_count(n), subset=prov.get("sample") or "?")))
    if isinstance(limit, int) and limit > 0:
        return _html(t, "ev.v.sample", n=_count(n), size=_count(size), option=_code("--eval-limit"))
    if holds == "random-sample":
        return Markup(escape(t("ev.v.random", n=_count(n), sample=prov.get("sample") or "?")))
    return Markup(escape(t("ev.v.all", n=_count(n))))


def _run_view(t: Translate, program: ProgramResult, lang: str, assets: Mapping[str, AssetRecord]) -> RunEvidence:
    blocks = [b for b in program.blocks if b.lang in (PRELUDE, lang) or lang not in {x.lang for x in program.blocks}]
    ran = [b for b in blocks if b.status not in ("skipped",)]
    seconds = sum(b.duration_s for b in ran)
    summary = t("ev.run_line", n=len(ran), when=utc_time(t, program.ran_at), seconds=f"{seconds:.1f}")
    if any(b.cached for b in blocks):
        summary += t("ev.run_cached")
    served = dict.fromkeys(u for b in blocks for u in b.served)
    fields = []
    for url in served:
        a = assets.get(url)
        if a is None:
            continue  # only what the lock pins is named (card code can write to the runner's pipe)
        tags = []
        if a.substitute:
            tags.append(t("ev.asset_substitute"))
        if a.local:
            tags.append(t("ev.asset_local"))
        value = _html(t, "ev.v.asset", hash=_hash(t), sha=_code(a.sha256), size=_size(t, a.size))
        if tags:
            value += escape(t("ev.v.asset_tags", tags=t("list_sep").join(tags)))
        fields.append(Field(url, value))
    return RunEvidence(summary, environment_html(t, program.environment), tuple(fields))


# ---------------------------------------------------------------- notes next to a code block


def _reproduce_link(t: Translate) -> Markup:
    return Markup('<a href="#reproduce">{}</a>').format(t("ev.repro.title"))


def block_notes(t: Translate, snip: Snippet, served: Iterable[str], cv: CardVerification | None) -> tuple[AssetNote, ...]:
    """What the page says next to one block: each store copy the run served it (a stand-in said
    as such), each host its code fetches from that a reader cannot reach, and this hub's own
    repositories it loads."""
    assets = {a.url: a for a in (cv.assets if cv is not None else ())}
    notes: list[AssetNote] = []
    hosts: list[str] = []
    for url in dict.fromkeys(served):
        a = assets.get(url)
        if a is None:
            continue
        name = url.rstrip("/").rsplit("/", 1)[-1] or url
        sha = Markup('<code title="{}">{}…</code>').format(a.sha256, a.sha256[:_SHORT_SHA])
        if a.substitute:
            notes.append(AssetNote("substitute", _html(t, "ev.note.substitute", name=_code(name), url=_code(url), sha=sha,
                                                                  hash=_hash(t))))
        else:  # a copy from this hub's own source: the address itself may serve nothing
            key = "ev.note.served_local" if a.local else "ev.note.served"
            notes.append(AssetNote("served", _html(t, key, url=_code(url), sha=sha, hash=_hash(t))))
        hosts.append(host_of(url))
    hosts += [host_of(u) for u in code_urls(snip.code)]
    for host in dict.fromkeys(h for h in hosts if unreachable_host(h)):
        notes.append(AssetNote("unreachable", _html(t, "ev.note.unreachable", host=_code(host or "?"), reproduce=_reproduce_link(t))))
    for a in assets.values():
        if a.kind == "hub-repo" and a.local and a.repo and re.search(
                rf"""["']{re.escape(a.repo)}(?::[^"']*)?["']""", snip.code):
            notes.append(AssetNote("local-repo", _html(t, "ev.note.local_repo", repo=_code(a.repo), reproduce=_reproduce_link(t))))
    return tuple(notes)


# ---------------------------------------------------------------- the Reproduce box


def _versions(cv: CardVerification, lang: str) -> Mapping[str, object]:
    """What the page's numbers were measured with, else what its code ran with."""
    for s in cv.claims:
        ev = _evaluation(s)
        if s.claim.lang == lang and ev is not None and isinstance(ev.provenance.get("versions"), Mapping):
            return ev.provenance["versions"]  # type: ignore[return-value]
    program = cv.program_for(lang) or (cv.programs[0] if cv.programs else None)
    return program.environment if program is not None else {}


def pins(versions: Mapping[str, object]) -> tuple[str, ...]:
    """`MegEngine==1.13.0 …` for the recorded versions of the libraries that change results."""
    if not versions:  # nothing ran: the sandbox module (and importlib.metadata) stay unimported
        return ()
    from generator.run.sandbox import RESULT_DISTRIBUTIONS  # only pages with run results need it

    out = []
    for key, dist in RESULT_DISTRIBUTIONS.items():
        v = versions.get(key)
        if isinstance(v, str) and v and v != "absent":
            out.append(f"{dist}=={v}")
    return tuple(out)


def _python(versions: Mapping[str, object]) -> str:
    """`3.10` of the recorded `3.10.13`; "" when nothing was recorded."""
    v = versions.get("python")
    parts = str(v).split(".") if v else []
    return ".".join(parts[:2]) if len(parts) >= 2 else ""


def _eval_limit(cv: CardVerification, lang: str) -> int:
    for s in cv.claims:
        ev = _evaluation(s)
        if s.claim.lang == lang and ev is not None:
            limit = ev.provenance.get("limit")
            if isinstance(limit, int) and limit > 0:
                return limit
    return 0


def reproduce_view(t: Translate, card: Card, cv: CardVerification | None, lang: str, page_url: str,
                   published: Collection[str] = ()) -> ReproduceView:
    """The commands that measure this page's numbers and run its code again, with the pins of
    what they were verified with (as recorded, not as this build happens to have installed), and
    links to those of report.json and the card's model-index file that the site has (`published`)."""
    cid = card.meta.id
    versions = _versions(cv, lang) if cv is not None else {}
    python = _python(versions)
    lines = [t("ev.repro.c_venv"), f"python{python or '3'} -m venv vh-env && . vh-env/bin/activate"]
    pinned = pins(versions)
    if pinned:
        lines += [t("ev.repro.c_pins"), "pip install " + " ".join(pinned)]
    lines += [t("ev.repro.c_tool", version=TOOL_VERSION), "pip install .",
              t("ev.repro.c_setup"), "build-site setup"]
    dataset = cv.dataset if cv is not None else None
    if dataset is not None and any(s.claim.lang == lang for s in (cv.claims if cv else ())):
        limit = _eval_limit(cv, lang) if cv is not None else 0
        title = dataset.title_zh if lang != "en_US" and dataset.title_zh else dataset.title
        env = f"{dataset.env}={t('ev.repro.dataset_dir', title=title)} " if dataset.env else ""
        lines += [t("ev.repro.c_eval", card=cid),
                  f"{env}build-site eval --card {cid}" + (f" --eval-limit {limit}" if limit else "")]
    lines += [t("ev.repro.c_build"), "build-site build"]
    links = tuple(Link(urls.relative(page_url, target), _html(t, key, file=_code(name)))
                  for target, key, name in ((urls.REPORT, "ev.repro.report", "report.json"),
                                               (urls.model_index(cid), "ev.repro.model_index", "model-index"))
                  if target in published)
    notes = []
    for a in (cv.assets if cv is not None else ()):
        if a.kind == "hub-repo" and a.local and a.repo:
            notes.append(_html(t, "ev.repro.local_repo", repo=_code(a.repo), setup=_code("build-site setup"),
                               github=_name("GitHub"), py=_name("Python"),
                               build=_code("build-site build"), dev=_code("./dev build")))
    hosts = dict.fromkeys(h for a in (cv.assets if cv is not None else ()) if a.kind != "hub-repo"
                          for h in [host_of(a.url)] if unreachable_host(h))
    hosts.update(dict.fromkeys(h for u in code_urls(_card_code(card)) for h in [host_of(u)] if unreachable_host(h)))
    if hosts:
        notes.append(_html(t, "ev.repro.unreachable", hosts=Markup(escape(t("list_sep"))).join(map(_code, hosts))))
    intro = (_html(t, "ev.repro.intro", py=_name("Python"), python=python) if python
             else _html(t, "ev.repro.intro_unrecorded"))
    return ReproduceView(intro, "\n".join(lines), links, tuple(notes))


def catalog_keys() -> tuple[str, ...]:
    """Every catalog key this module asks for (the catalog check covers them before a build;
    tests/site/test_evidence.py checks that the list names each `t("ev...")` of the module)."""
    return tuple(f"ev.{k}" for k in (
        "asset_local", "asset_substitute", "correct", "eval_heading", "no_reason", "not_recorded",
        "run_cached", "run_line",
        "f.batch", "f.cpu", "f.dataset", "f.date", "f.evaluated", "f.fingerprint", "f.model", "f.preprocess",
        "f.sandbox", "f.tool", "f.versions", "f.wall", "f.weights_sha256", "f.weights_size", "f.weights_url",
        "note.local_repo", "note.served", "note.served_local", "note.substitute", "note.unreachable",
        "repro.c_build", "repro.c_eval", "repro.c_pins", "repro.c_setup", "repro.c_tool", "repro.c_venv",
        "repro.dataset_dir", "repro.intro", "repro.intro_unrecorded", "repro.local_repo", "repro.model_index", "repro.report",
        "repro.title", "repro.unreachable",
        "v.all", "v.asset", "v.asset_tags", "v.dataset", "v.model", "v.random", "v.sample", "v.sandboxed",
        "v.size_kib", "v.size_mib", "v.speed", "v.subset", "v.tool", "v.unsandboxed", "v.wall",
        "not_verified"))
