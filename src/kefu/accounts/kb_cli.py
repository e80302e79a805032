"""`kefu kb import|export|list`: an account's knowledge base (the built-in AI) from the command line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kefu.accounts.kf_accounts import resolve_account
from kefu.accounts.knowledge_base import KbImport, entries_csv, import_csv, list_entries
from kefu.accounts.settings import load_ai_settings
from kefu.ai.kb_csv import KbCsvError, RowError
from kefu.ai.kb_xlsx import entries_xlsx, parse_kb_file
from kefu.ai.knowledge import KnowledgeEntry
from kefu.ai.settings import AISettings
from kefu.cli_runtime import fail, run_with_runtime, write_out
from kefu.errors import Invalid
from kefu.runtime import Runtime

if TYPE_CHECKING:  # the evaluation module loads bm25s and numpy: only `eval` imports it
    from kefu.ai.evaluation import LabelledQuery

kb_app = typer.Typer(
    help="Knowledge base of an account (the built-in AI): import, export, ask, evaluate.",
    no_args_is_help=True,
)

AccountOpt = Annotated[str, typer.Option("--account", help="The account's id or open_kfid.")]


@kb_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="CSV or XLSX: id,question,answer[,alt_questions,tags,enabled]"),
    ],
    account: AccountOpt,
    replace: Annotated[
        bool, typer.Option("--replace", help="Also remove the account's entries that the file does not have.")
    ] = False,
) -> None:
    """Import entries (added or updated by id). Bad rows are reported by line; good rows are kept."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")

    async def work(rt: Runtime) -> tuple[int, KbImport]:
        async with rt.db.write() as session:
            row = await resolve_account(session, account)
            return row.id, await import_csv(
                session, row.id, data, replace=replace, now=rt.clock.now(), actor="cli"
            )

    account_id, result = run_with_runtime(work)
    _print_errors(file, result.errors)
    done = ", ".join(result.changes.describe()) or "nothing changed"
    typer.echo(f"account {account_id}: {done} ({result.changes.unchanged} unchanged) from {file}")
    if result.removal_skipped:
        typer.echo(
            "--replace removed nothing because some rows are bad (one may be an entry's edit): "
            "fix them and import again",
            err=True,
        )
    if result.errors:
        raise typer.Exit(1)


def _print_errors(file: Path, errors: list[RowError]) -> None:
    for error in errors:
        typer.echo(f"{file}:{error.line}: {error.reason} (row skipped)", err=True)


@kb_app.command("export")
def export(
    account: AccountOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout (.xlsx: a workbook).")
    ] = None,
) -> None:
    """Write the account's entries as CSV (UTF-8) or XLSX, the formats `kefu kb import` reads."""

    async def work(rt: Runtime) -> list[KnowledgeEntry]:
        async with rt.db.read() as session:
            row = await resolve_account(session, account)
            return await list_entries(session, row.id)

    entries = run_with_runtime(work)
    if out is not None and out.suffix.lower() == ".xlsx":
        write_out(out, entries_xlsx(entries))
        typer.echo(f"wrote {out}", err=True)
        return
    text = entries_csv(entries)
    if out is None:
        typer.echo(text, nl=False)
        return
    write_out(out, text.encode("utf-8"))
    typer.echo(f"wrote {out}", err=True)


@kb_app.command("list")
def list_(account: AccountOpt) -> None:
    """Show the account's entries: id and question."""

    async def work(rt: Runtime) -> list[KnowledgeEntry]:
        async with rt.db.read() as session:
            row = await resolve_account(session, account)
            return await list_entries(session, row.id)

    entries = run_with_runtime(work)
    if not entries:
        typer.echo("No entries: this account's AI answers every question with the not-sure text.")
    for entry in entries:
        more = f"  (+{len(entry.alt_questions)} alternative questions)" if entry.alt_questions else ""
        typer.echo(f"{entry.id}  {entry.question}{more}")


@kb_app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="A customer's message.")],
    account: AccountOpt,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Answer one message as the account's built-in AI would: entry, confidence, answer (or
    the small-talk reply)."""
    from kefu.accounts.knowledge_provider import ask_knowledge

    async def work(rt: Runtime) -> dict[str, object]:
        async with rt.db.read() as session:
            row = await resolve_account(session, account)
        asked = await ask_knowledge(rt, row.id, question)
        answer = asked.answer
        return {
            "entry_id": answer.entry.id if answer.entry else None,
            "confidence": answer.confidence,
            "not_sure": answer.not_sure,
            "small_talk": answer.small_talk,
            "answer": answer.text,
            "retrieval": asked.retrieval,
        }

    result = run_with_runtime(work)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    if result["small_talk"]:
        typer.echo(f"small talk: {result['small_talk']}")
        typer.echo(str(result["answer"]) or "(no reply)")
        return
    typer.echo(f"{result['entry_id'] or 'not sure'}  (confidence {result['confidence']:.2f})")
    typer.echo(str(result["answer"]))


@kb_app.command("eval")
def eval_(
    kb: Annotated[
        Path, typer.Option("--kb", help="Knowledge base CSV: id,question,answer[,alt_questions,tags]")
    ],
    queries: Annotated[Path, typer.Option("--queries", help="CSV query,expected_id (empty: out of scope)")],
    account: Annotated[
        str | None,
        typer.Option("--account", help="Use the stored ai: settings (threshold…) of this database."),
    ] = None,
    retrieval: Annotated[
        str | None, typer.Option("--retrieval", help="Override ai.retrieval: auto, lexical or hybrid.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Measure the answerer on labelled messages, next to a plain char-BM25 baseline.

    Without --account no server, database or account is needed: the default settings answer,
    through the same retrieval, confidence and threshold as serving."""
    from kefu.ai.evaluation import compare, parse_queries

    try:
        parsed = parse_kb_file(kb.read_bytes())
        labelled = parse_queries(queries.read_bytes())
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror or exc}")
    except KbCsvError as exc:
        fail(str(exc))
    _print_errors(kb, parsed.errors)
    _refuse_unknown_labels(queries, kb, parsed.entries, labelled)
    ai = AISettings()
    if account is not None:

        async def stored(rt: Runtime) -> AISettings:
            async with rt.db.read() as session:
                await resolve_account(session, account)
                return await load_ai_settings(session, rt.secrets)

        ai = run_with_runtime(stored)
    if retrieval is not None:
        if retrieval not in ("auto", "lexical", "hybrid"):
            fail(f"--retrieval must be auto, lexical or hybrid, not {retrieval!r}")
        ai = ai.model_copy(update={"retrieval": retrieval})
    try:
        result = compare(parsed.entries, labelled, ai)
    except Invalid as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    _print_table(result)


def _refuse_unknown_labels(
    queries: Path, kb: Path, entries: list[KnowledgeEntry], labelled: list[LabelledQuery]
) -> None:
    """A label naming no entry (a typo, another --kb, a bad row skipped) would count as a miss
    every time and skew every figure: name those labels and measure nothing."""
    ids = {e.id for e in entries}
    unknown = Counter(q.expected_id for q in labelled if q.expected_id and q.expected_id not in ids)
    if unknown:
        named = ", ".join(
            f"{label!r} ({n} {'query' if n == 1 else 'queries'})" for label, n in sorted(unknown.items())
        )
        fail(f"{queries}: expected_id names no entry of {kb}: {named}")


def _print_table(result: dict) -> None:
    rows = [(f"kefu ({result['retrieval']}, threshold {result['threshold']})", result)]
    rows.append(("baseline: char-bm25, no threshold", result["baseline"]))
    typer.echo(
        f"{result['n_entries']} entries; {result['n_answerable']} answerable, "
        f"{result['n_out_of_scope']} out-of-scope queries"
    )
    typer.echo(
        f"{'method':42} {'top-1':>7} {'rank-1':>7} {'abstain':>8} {'false-abst':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8}"
    )
    for name, r in rows:
        typer.echo(
            f"{name:42} {r['top1_accuracy']:7.1%} {r['rank1_accuracy']:7.1%} {r['abstain_rate']:8.1%} "
            f"{r['false_abstain_rate']:10.1%} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
        )
