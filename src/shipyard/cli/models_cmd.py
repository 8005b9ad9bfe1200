"""``shipyard models …``: list, show, promote, roll back, audit, lineage, gates, import."""

from __future__ import annotations

import typer
from rich.tree import Tree

from shipyard.cli.output import JSON_OPTION, console, print_json, table, workspace_from
from shipyard.registry import models, promote, rollback
from shipyard.registry.gates import GateReport, failure
from shipyard.registry.lineage import LineageNode
from shipyard.registry.signature import describe

models_app = typer.Typer(
    help="Models: versions, stages, gates, audit and lineage.", no_args_is_help=True
)
TOKEN = typer.Option(None, "--token", help="API token (default: SHIPYARD_TOKEN).")


@models_app.command("list")
def models_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List registered models with their stages and aliases.

    Example: shipyard models list --json
    """
    found = models.list(workspace=workspace_from(ctx))
    if as_json:
        print_json([m.to_dict() for m in found])
        return
    table(
        "Models",
        ["name", "latest", "staging", "canary", "production", "aliases"],
        [
            (
                m.name,
                m.latest_version,
                m.stages.get("staging"),
                m.stages.get("canary"),
                m.stages.get("production"),
                ", ".join(f"{a}=v{v}" for a, v in m.aliases.items()),
            )
            for m in found
        ],
    )


@models_app.command("show")
def models_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="NAME (all versions) or NAME/V, NAME@STAGE."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a model's versions, or one version's signature and requirements.

    Example: shipyard models show churn@production
    """
    workspace = workspace_from(ctx)
    if "/" not in ref and "@" not in ref:
        versions = models.show(ref, workspace=workspace)
        if as_json:
            print_json([v.to_dict() for v in versions])
            return
        table(
            f"Model {ref}",
            ["version", "stage", "aliases", "flavor", "run", "created by", "created"],
            [
                (
                    v.version,
                    v.stage,
                    ", ".join(v.aliases),
                    v.flavor,
                    (v.run_id or "-")[:12],
                    v.created_by,
                    v.created_at,
                )
                for v in versions
            ],
        )
        return
    info = models.get(ref, workspace=workspace)
    if as_json:
        print_json(info.to_dict())
        return
    console.print(
        f"[bold]{info.ref}[/]  stage {info.stage}  flavor {info.flavor}  "
        f"sha256 {info.sha256[:16]}…  run {info.run_id or '-'}"
    )
    table(
        "Signature (inputs)", ["column", "type", "nullable", "categories"], describe(info.signature)
    )
    table("Requirements", ["package", "version"], sorted(info.requirements.items()))


@models_app.command("promote")
def models_promote(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The version, NAME/V."),
    to: str = typer.Option(..., "--to", help="staging, canary, production or archived."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the audit log)."),
    skip_canary: bool = typer.Option(False, "--skip-canary", help="Approver only; needs --reason."),
    breaking: bool = typer.Option(False, "--breaking", help="Accept an incompatible signature."),
    token: str = TOKEN,
) -> None:
    """Move a version to a stage; gates run on the way into staging.

    Example: shipyard models promote churn/3 --to staging --reason "beats churn/2"
    """
    done = promote(
        ref,
        to,
        reason=reason,
        skip_canary=skip_canary,
        breaking=breaking,
        token=token,
        workspace=workspace_from(ctx),
    )
    console.print(
        f"{done.name}/{done.version}: {done.from_stage} → {done.to_stage} (by {done.who})"
    )
    if done.gate_report:
        console.print(f"gates: {len(done.gate_report['checks'])} checks passed")


@models_app.command("rollback")
def models_rollback(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    token: str = TOKEN,
) -> None:
    """Put the previous production version back, in one step (approver).

    Example: shipyard models rollback churn --reason "p99 doubled"
    """
    done = rollback(name, reason, token=token, workspace=workspace_from(ctx))
    console.print(f"{done.name}/{done.version} is production again ({done.detail})")


@models_app.command("history")
def models_history(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The audit log of stage changes and attempts: who, when, from, to, why, outcome.

    Example: shipyard models history churn
    """
    rows = models.history(name, workspace=workspace_from(ctx))
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table(
        f"History of {name}",
        ["when", "version", "from", "to", "who", "outcome", "reason", "detail"],
        [
            (
                r.created_at,
                r.version,
                r.from_stage,
                r.to_stage,
                r.who,
                r.outcome,
                r.reason,
                r.detail[:80],
            )
            for r in rows
        ],
    )


@models_app.command("lineage")
def models_lineage(
    ctx: typer.Context, ref: str = typer.Argument(..., help="NAME/V."), as_json: bool = JSON_OPTION
) -> None:
    """Upstream (run, commit, environment, datasets) and downstream (stages) of a version.

    Example: shipyard models lineage churn/3 --json
    """
    found = models.lineage(ref, workspace=workspace_from(ctx))
    if as_json:
        print_json(found.to_dict())
        return
    console.print(lineage_tree(found.ref, found.upstream, found.downstream))


def lineage_tree(ref: str, upstream: list[LineageNode], downstream: list[LineageNode]) -> Tree:
    """A Rich tree of a version's lineage (used by the CLI and the demo)."""
    root = Tree(f"[bold]model_version {ref}")
    for title, nodes in (("upstream", upstream), ("downstream", downstream)):
        branch = root.add(title)
        for node in nodes:
            _add(branch, node)
    return root


def _add(parent: Tree, node: LineageNode) -> None:
    mark = " (current)" if node.current else ""
    branch = parent.add(f"{node.kind} {node.id[:40]} [dim]{node.relation}[/]{mark}")
    for child in node.children:
        _add(branch, child)


@models_app.command("check")
def models_check(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="NAME/V."),
    stage: str = typer.Option("staging", "--stage", help="The promotion to check for."),
    breaking: bool = typer.Option(False, "--breaking", help="Accept an incompatible signature."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the promotion gates now; exit code 1 when a check fails.

    Example: shipyard models check churn/4
    """
    report = models.check(ref, stage=stage, breaking=breaking, workspace=workspace_from(ctx))
    if as_json:
        print_json(report.to_dict())
    else:
        print_report(report)
    if not report.passed:
        raise failure(report)


def print_report(report: GateReport) -> None:
    table(
        f"Gates for {report.ref} → {report.stage} (baseline {report.baseline or 'none'})",
        ["gate", "check", "result", "detail"],
        [
            (c.gate, c.check, "pass" if c.passed else "[red]FAIL[/]", c.message)
            for c in report.checks
        ],
    )


@models_app.command("alias")
def models_alias(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="NAME/V."),
    alias: str = typer.Argument(..., help="e.g. champion."),
    token: str = TOKEN,
) -> None:
    """Point an alias at a version (NAME@ALIAS then loads it).

    Example: shipyard models alias churn/3 champion
    """
    models.set_alias(ref, alias, token=token, workspace=workspace_from(ctx))
    console.print(f"{ref.split('/')[0]}@{alias} → {ref}")


@models_app.command("import-mlflow")
def models_import_mlflow(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="An MLflow model folder."),
    name: str = typer.Option(..., "--name", help="Model name to register."),
    token: str = TOKEN,
) -> None:
    """Import an MLflow model folder (sklearn or python_function) as a new version.

    Example: shipyard models import-mlflow ./mlruns/0/abc/artifacts/model --name churn
    """
    info = models.import_mlflow(path, name, token=token, workspace=workspace_from(ctx))
    console.print(
        f"imported as {info.ref} (flavor {info.flavor}, {len(info.signature.inputs)} input columns)"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
