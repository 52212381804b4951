"""Counterexample traces: versioned JSON that replays, and renderings for people and for CI.

A trace (``core.Trace``) is the suite, the fault budget and the actions. It is written as JSON
(``"version": 1``; each action by its class name in model/cluster.py and its fields) and read
back exactly. The renderings work on a ``replay.Replay`` of it, which has every state: for the
terminal (one line per step), as Markdown (what went wrong in one paragraph, the evidence, a
Mermaid sequence diagram, then every step with its actor, the object it touched, a kubectl-style
YAML diff of what changed in etcd, and the resourceVersion the actor's view had next to etcd's,
so staleness shows), and as JUnit XML (one test case per suite and property).

>>> from kubeproof.model.cluster import Deliver, Faults
>>> from kubeproof.properties.core import Trace
>>> t = Trace("journey", Faults(crash=1), (Deliver("scheduler", "pods"),), seed=7)
>>> trace_from_json(trace_to_json(t)) == t
True
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from kubeproof.model.apiserver.server import with_rv
from kubeproof.model.cluster import Action, Entry, Faults, State
from kubeproof.model.errors import KubeproofError
from kubeproof.model.manifests import to_manifest
from kubeproof.model.run import actor_of, is_fault
from kubeproof.properties.core import Report, Suite, Trace, Violation
from kubeproof.properties.replay import Replay

__all__ = [
    "VERSION",
    "TraceError",
    "changes",
    "junit_xml",
    "mermaid",
    "read_trace",
    "render_markdown",
    "render_text",
    "summary",
    "trace_document",
    "trace_from_json",
    "trace_to_json",
    "write_trace",
]

VERSION = 1
ACTIONS: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(Action)}
_SCALARS = (str, int, bool, type(None))


class TraceError(KubeproofError):
    """A trace file that cannot be read: not JSON, an unknown version, a malformed action."""


# --- JSON --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Evidence as JSON: objects as manifests, dataclasses as dicts, the rest as text."""
    if isinstance(value, float | int | str | bool | type(None)):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "metadata") and hasattr(value, "raw"):
        return to_manifest(value)
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def trace_to_json(trace: Trace, suite_file: str | None = None) -> str:
    """The trace as versioned JSON; ``suite_file`` is the module that defined a user's suite."""
    v = trace.violation
    doc = {
        "kubeproof": "trace",
        "version": VERSION,
        "suite": trace.suite,
        "suite_file": suite_file,
        "faults": dataclasses.asdict(trace.faults),
        "seed": trace.seed,
        "violation": None
        if v is None
        else {
            "property": v.property,
            "message": v.message,
            "evidence": [[name, _plain(value)] for name, value in v.evidence],
        },
        "actions": [
            {
                "action": type(a).__name__,
                **{f.name: getattr(a, f.name) for f in dataclasses.fields(a)},
            }
            for a in trace.actions
        ],
    }
    return json.dumps(doc, indent=1) + "\n"


def _action(doc: Any, index: int) -> Action:
    if not isinstance(doc, dict) or doc.get("action") not in ACTIONS:
        raise TraceError(f"actions[{index}]: not a known action: {json.dumps(doc)[:80]}")
    cls = ACTIONS[doc["action"]]
    fields = {k: v for k, v in doc.items() if k != "action"}
    if any(not isinstance(v, _SCALARS) for v in fields.values()):
        raise TraceError(f"actions[{index}]: {cls.__name__} fields must be scalars")
    try:
        return cls(**fields)
    except TypeError as err:
        raise TraceError(f"actions[{index}]: {cls.__name__}: {err}") from err


def _violation(doc: Any) -> Violation | None:
    if doc is None:
        return None
    try:
        evidence = tuple((str(name), _frozen(value)) for name, value in doc.get("evidence", ()))
        return Violation(str(doc["property"]), str(doc["message"]), evidence)
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise TraceError(f"violation: malformed ({err!s})") from err


def trace_document(text: str, source: str = "<trace>") -> tuple[Trace, str | None]:
    """The trace in ``text`` and the suite file it names (None for a built-in suite)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise TraceError(f"{source}: not JSON: {err.msg} (line {err.lineno})") from err
    if not isinstance(doc, dict) or doc.get("kubeproof") != "trace":
        raise TraceError(f"{source}: not a kubeproof trace")
    if doc.get("version") != VERSION:
        raise TraceError(
            f"{source}: trace version {doc.get('version')!r} is not supported (this kubeproof "
            f"reads version {VERSION})"
        )
    try:
        faults = Faults(**doc.get("faults") or {})
        actions = tuple(_action(a, i) for i, a in enumerate(doc["actions"]))
        suite, seed, suite_file = doc["suite"], doc.get("seed"), doc.get("suite_file")
    except TraceError as err:
        raise TraceError(f"{source}: {err}") from err
    except (KeyError, TypeError) as err:
        raise TraceError(f"{source}: malformed trace ({err!s})") from err
    if not isinstance(suite, str) or not isinstance(seed, int | type(None)):
        raise TraceError(f"{source}: malformed trace (suite or seed)")
    trace = Trace(suite, faults, actions, _violation(doc.get("violation")), seed)
    return trace, suite_file if isinstance(suite_file, str) else None


def trace_from_json(text: str, source: str = "<trace>") -> Trace:
    """The trace in ``text`` (see :func:`trace_to_json`)."""
    return trace_document(text, source)[0]


def read_trace(path: str) -> tuple[Trace, str | None]:
    """The trace in a file, and the suite file it names."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as err:
        raise TraceError(f"{path}: cannot read: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise TraceError(f"{path}: not a text file") from err
    return trace_document(text, path)


def write_trace(trace: Trace, path: str, suite_file: str | None = None) -> str:
    """Write the trace's JSON to ``path``; returns the path."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(trace_to_json(trace, suite_file))
    return path


# --- what each step did ------------------------------------------------------------------------


def _entry_line(e: Entry) -> str:
    verb = e.verb if e.verb != e.action else ""
    what = " ".join(x for x in (e.action, verb, e.resource, e.key) if x)
    if e.code is not None:
        what += f" -> {e.code}"
    if e.note:
        what += f" ({e.note})"
    return what


def _views(entries: tuple[Entry, ...], before: int, after: int) -> str:
    """The actor's view against etcd: the resourceVersion its caches had, the revision etcd
    was at when it acted (and the one its write made)."""
    seen = [e.view_revision for e in entries if e.view_revision is not None]
    etcd = f"etcd rv {before}" + (f" -> {after}" if after != before else "")
    if not seen:
        return etcd if after != before else ""
    behind = before - max(seen)
    stale = f" ({behind} behind)" if behind > 0 else ""
    return f"view rv {max(seen)}{stale}, {etcd}"


def _step_line(replayed: Replay, i: int) -> str:
    action, entries = replayed.actions[i - 1], replayed.entries[i - 1]
    fault = "FAULT " if is_fault(action) else ""
    said = "; ".join(_entry_line(e) for e in entries) or type(action).__name__
    views = _views(entries, *_revisions(replayed, i))
    return f"{i:>5}  {actor_of(action):<24} {fault}{said}" + (f"  [{views}]" if views else "")


def _revisions(replayed: Replay, i: int) -> tuple[int, int]:
    return replayed.states[i - 1].api.store.revision, replayed.states[i].api.store.revision


def _objects(state: State) -> dict[str, Any]:
    return {kv.key: kv for kv in state.api.store.kvs}


def _yaml(kv) -> list[str]:
    if kv is None:
        return []
    obj = with_rv(kv.value, kv.mod_revision)
    return yaml.safe_dump(to_manifest(obj), sort_keys=False).splitlines(keepends=True)


def changes(before: State, after: State) -> list[tuple[str, str]]:
    """(etcd key, unified YAML diff) for every object the step created, changed or deleted."""
    if before.api.store is after.api.store or before.api.store.kvs == after.api.store.kvs:
        return []
    old, new = _objects(before), _objects(after)
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        name = key.removeprefix("/registry/")
        a, b = (f"a/{name}", f"b/{name}") if key in old and key in new else (name, name)
        diff = difflib.unified_diff(
            _yaml(old.get(key)),
            _yaml(new.get(key)),
            a if key in old else "/dev/null",
            b if key in new else "/dev/null",
            n=2,
        )
        out.append((name, "".join(diff)))
    return out


# --- the story ---------------------------------------------------------------------------------


def _statement(suite: Suite | None, name: str) -> str:
    for p in suite.properties if suite is not None else ():
        if p.name == name:
            return p.statement
    return ""


def _evidence_text(value: Any) -> str:
    """Evidence in a few words: an object as its kind, key and resourceVersion."""
    meta = getattr(value, "metadata", None)
    if meta is not None:
        kind = getattr(value, "KIND", None) or getattr(value, "kind", "object")
        where = f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name
        return f"{kind} {where}" + (
            f" (rv {meta.resource_version})" if meta.resource_version else ""
        )
    plain = _plain(value)
    if isinstance(plain, dict | list):
        return json.dumps(plain, separators=(",", ":"))[:200]
    return str(plain)


def _faults_text(faults: Faults) -> str:
    budget = dataclasses.asdict(faults)
    return ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in budget.items() if n) or "none"


def summary(replayed: Replay, suite: Suite | None = None) -> str:
    """What went wrong, in one paragraph."""
    trace, v = replayed.trace, replayed.violation
    taken = Counter(type(a).__name__ for a in trace.actions if is_fault(a))
    faults = ", ".join(f"{n} {k}" for k, n in sorted(taken.items())) or "no faults"
    head = (
        f"In suite `{trace.suite}` (fault budget: {_faults_text(trace.faults)}), a trace of "
        f"{len(trace.actions)} steps with {faults}"
    )
    if replayed.error:
        return f"{head} no longer replays: {replayed.error}."
    if v is None:
        return f"{head} violates no property of the suite: the trace no longer fails."
    statement = _statement(suite, v.property)
    where = (
        "once the cluster settled"
        if replayed.at is not None and replayed.at > replayed.traced
        else f"at step {replayed.at}"
    )
    text = f"{head} violates `{v.property}`"
    text += f" ({statement})" if statement else ""
    text += f" {where}: {v.message.rstrip('.')}."
    if v.evidence:
        text += " Evidence: " + "; ".join(f"{n} = {_evidence_text(x)}" for n, x in v.evidence) + "."
    settled = len(replayed.actions) - replayed.traced
    if settled:
        text += f" The fair run that settles the cluster took {settled} more steps."
    if trace.seed is not None:
        text += f" Seed {trace.seed}."
    return text


def render_text(replayed: Replay, suite: Suite | None = None, last: int = 40) -> str:
    """For the terminal: the summary, then one line per step (the ``last`` ones)."""
    v = replayed.violation
    title = f"{v.property} violated" if v else "no violation"
    lines = [
        f"kubeproof trace: suite {replayed.trace.suite}: {title}",
        "",
        summary(replayed, suite),
    ]
    lines.append("")
    traced, total = replayed.traced, len(replayed.actions)
    if traced > last:
        lines.append(f"  ... {traced - last} earlier steps (the Markdown report has them all)")
    for i in range(max(1, traced - last + 1), traced + 1):
        mark = " <-- violated here" if i == replayed.at else ""
        lines.append(_step_line(replayed, i) + mark)
    if total > traced:
        lines.append(
            f"  ... then the cluster settles: {total - traced} steps of a fair run, no faults "
            "(shown: its failed requests)"
        )
        for i in range(traced + 1, total + 1):
            failed = any(e.code is not None and e.code >= 400 for e in replayed.entries[i - 1])
            if i == replayed.at:
                lines.append(_step_line(replayed, i) + " <-- violated here")
            elif failed:
                lines.append(_step_line(replayed, i))
    return "\n".join(lines) + "\n"


def _participant(actor: str) -> str:
    return actor.replace("-", "_").replace(":", "_")


def _said(text: str) -> str:
    """Text a Mermaid message can hold (``;`` and ``#`` have meanings there)."""
    return text.replace(";", ",").replace("#", "")


def mermaid(replayed: Replay, limit: int = 120) -> str:
    """A Mermaid sequence diagram of the writes, faults and watch events of the last ``limit``
    interesting steps (reads that changed nothing are left out)."""
    lines: list[str] = []
    actors: dict[str, None] = {}
    for i, (action, entries) in enumerate(zip(replayed.actions, replayed.entries, strict=True), 1):
        actor = actor_of(action)
        p = _participant(actor)
        for e in entries:
            if is_fault(action) or e.action in ("crash", "node failure", "restart"):
                actors[actor] = None
                lines.append(f"    Note over {p}: {i}. {_said(e.action)} {e.resource}".rstrip())
            elif e.action in ("request", "send", "timeout") and e.verb not in ("get", "list"):
                actors[actor] = None
                lines.append(f"    {p}->>apiserver: {i}. {e.verb} {e.resource} {_said(e.key)}")
                lines.append(f"    apiserver-->>{p}: {e.code} (rv {e.revision})")
            elif e.action == "event":
                actors[actor] = None
                lines.append(f"    apiserver-){p}: {i}. {e.verb} {_said(e.key)}")
        if i == replayed.at:
            actors[actor] = None
            lines.append(f"    Note over {p}: {i}. violated: {replayed.violation.property}")
    if len(lines) > limit:
        lines = ["    Note over apiserver: earlier steps left out", *lines[-limit:]]
    head = ["sequenceDiagram", "    participant apiserver as api-server + etcd"]
    head += [f"    participant {_participant(a)} as {a}" for a in actors]
    return "\n".join(head + lines) + "\n"


def render_markdown(replayed: Replay, suite: Suite | None = None, json_path: str = "") -> str:
    """The Markdown report: summary, evidence, sequence diagram, every step."""
    trace, v = replayed.trace, replayed.violation
    title = f"`{v.property}` violated" if v else "no violation"
    out = [f"# kubeproof: {title} in suite `{trace.suite}`", "", summary(replayed, suite), ""]
    if json_path:
        out += [f"Replay it: `kubeproof replay {json_path}`", ""]
    if v is not None and v.evidence:
        out += ["## Evidence", ""]
        plain = [(name, _plain(value)) for name, value in v.evidence]
        out += [f"- **{n}**: {x}" for n, x in plain if not isinstance(x, dict | list)]
        for name, x in plain:
            if isinstance(x, dict | list):
                out += (
                    ["", f"**{name}**:", "", "```yaml"]
                    if out[-1]
                    else [f"**{name}**:", "", "```yaml"]
                )
                out += [yaml.safe_dump(x, sort_keys=False).rstrip(), "```"]
        out.append("")
    out += ["## Sequence", "", "```mermaid", mermaid(replayed).rstrip(), "```", ""]
    out += ["## Steps", ""]
    out += [
        "Each step: who acted, what it did, and the resourceVersion its view (its informer "
        "caches) had next to etcd's revision; a diff shows what the step changed in etcd.",
        "",
    ]
    for i, (action, entries) in enumerate(zip(replayed.actions, replayed.entries, strict=True), 1):
        if i == replayed.traced + 1:
            settle = len(replayed.actions) - replayed.traced
            out += ["", "<details><summary>The trace ends here; then the cluster settles: "]
            out[-1] += f"{settle} steps of a fair run, no faults</summary>"
            out.append("")
        fault = " **fault**" if is_fault(action) else ""
        said = "; ".join(_entry_line(e) for e in entries) or type(action).__name__
        views = _views(entries, *_revisions(replayed, i))
        mark = " — **violated here**" if i == replayed.at else ""
        out.append(
            f"{i}. `{actor_of(action)}`{fault}: {said}" + (f" — {views}" if views else "") + mark
        )
        for name, diff in changes(replayed.states[i - 1], replayed.states[i]):
            out += ["", f"   `{name}`:", "", "   ```diff"]
            out += ["   " + line for line in diff.rstrip("\n").splitlines()]
            out += ["   ```", ""]
    if len(replayed.actions) > replayed.traced:
        out += ["", "</details>"]
    if replayed.at == 0:
        out.append("The initial state already violates it.")
    return "\n".join(out).rstrip() + "\n"


# --- JUnit -------------------------------------------------------------------------------------


def junit_xml(reports: Iterable[Report], paths: Mapping[tuple[str, str], str] | None = None) -> str:
    """JUnit XML: a testsuite per suite (and engine), a testcase per property; a failure holds
    the violation and the path of its trace (``paths[(suite, property)]``)."""
    paths = paths or {}
    root = ET.Element("testsuites", name="kubeproof")
    for report in reports:
        failed = [v for v in report.verdicts if not v.holds]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{report.suite}",
            tests=str(len(report.verdicts)),
            failures=str(len(failed)),
            errors="0",
            time=f"{report.seconds:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="engine", value=report.engine)
        explored = report.states if report.engine == "exhaustive" else report.examples
        ET.SubElement(props, "property", name="explored", value=str(explored))
        for verdict in report.verdicts:
            case = ET.SubElement(
                suite, "testcase", classname=f"kubeproof.{report.suite}", name=verdict.property
            )
            if verdict.holds:
                continue
            v = verdict.trace.violation if verdict.trace is not None else None
            message = v.message if v is not None else "violated"
            failure = ET.SubElement(case, "failure", message=message, type="PropertyViolation")
            text = [message]
            if v is not None:
                text += [f"{n} = {_evidence_text(x)}" for n, x in v.evidence]
            if verdict.trace is not None:
                text.append(f"trace: {len(verdict.trace.actions)} steps")
            path = paths.get((report.suite, verdict.property))
            if path:
                text.append(f"replay: kubeproof replay {path}")
            failure.text = "\n".join(text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
