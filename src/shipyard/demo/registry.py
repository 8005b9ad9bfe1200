"""Demo stage: register the trained model, gate it, promote it through the stages with
a developer and an approver token, show its lineage, then watch the golden-set gate
block a deliberately worse model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from shipyard.access import create_token
from shipyard.errors import GateFailed
from shipyard.registry import promote, register_model
from shipyard.registry.models import check, lineage
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    from shipyard.demo.main import DemoResult

MODEL = "breast-cancer"


def register_and_promote(workspace: Workspace, result: DemoResult, console: Console) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    from shipyard.cli.models_cmd import lineage_tree, print_report

    extras = result.extras
    x_train, x_test, y_test = extras["x_train"], extras["x_test"], extras["y_test"]
    # The training stage fitted the scaler and classifier separately; serve them as one.
    model = Pipeline([("scaler", extras["scaler"]), ("model", extras["model"])])
    developer = create_token("demo-developer", "developer", workspace=workspace)
    approver = create_token("demo-approver", "approver", workspace=workspace)
    extras["tokens"] = {"developer": developer, "approver": approver}
    info = register_model(
        model,
        MODEL,
        input_example=x_train[:5],
        golden=(x_test, y_test),
        run_id=result.run_id,
        token=developer,
        workspace=workspace,
    )
    console.print(
        f"registered {info.ref} ({info.flavor}, sha256 {info.sha256[:12]}…, "
        f"scikit-learn {info.requirements.get('scikit-learn')})"
    )
    print_report(check(info.ref, workspace=workspace))
    for stage, token in (("staging", developer), ("canary", developer), ("production", approver)):
        done = promote(info.ref, stage, reason="demo", token=token, workspace=workspace)
        console.print(f"{info.ref}: {done.from_stage} → {done.to_stage} by {done.who}")
    found = lineage(info.ref, workspace=workspace)
    console.print(lineage_tree(found.ref, found.upstream, found.downstream))
    worse = DummyClassifier(strategy="most_frequent").fit(x_train, extras["y_train"])
    bad = register_model(
        worse, MODEL, input_example=x_train[:5], token=developer, workspace=workspace
    )
    try:
        promote(
            bad.ref, "staging", reason="demo: a worse model", token=developer, workspace=workspace
        )
    except GateFailed as error:
        console.print(f"[bold red]blocked:[/] {error.message}")
    extras["model_ref"] = info.ref
