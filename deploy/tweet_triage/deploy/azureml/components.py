"""Command components, one per pipeline stage; each runs a `triage azure stage ...` command on the uploaded source.

The stages pass folders to each other (Azure ML ``uri_folder`` outputs); `tweet_triage.deploy.azureml.stages`
implements the commands with the training package's own functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tweet_triage.deploy.azureml.source import SourceTree

if TYPE_CHECKING:
    from azure.ai.ml.entities import CommandComponent

# The job's working directory is the uploaded source tree: install it (dependencies come from the environment).
INSTALL = "pip install --quiet --no-deps --no-build-isolation . && "
STAGE = "triage azure stage"
COMPONENT_VERSION = "1"


@dataclass(frozen=True)
class Components:
    prepare: CommandComponent
    train: CommandComponent
    export: CommandComponent
    evaluate: CommandComponent
    register: CommandComponent

    def all(self) -> list[CommandComponent]:
        return [self.prepare, self.train, self.export, self.evaluate, self.register]


def build_components(tree: SourceTree, environment: str) -> Components:
    """``environment`` is a registered environment reference (``azureml:NAME:VERSION``)."""
    from azure.ai.ml import Input, Output
    from azure.ai.ml.entities import CommandComponent

    def component(
        name: str, display: str, command: str, inputs: dict[str, Input], outputs: dict[str, Output]
    ) -> CommandComponent:
        return CommandComponent(
            name=f"tweet_triage_{name}",
            version=COMPONENT_VERSION,
            display_name=display,
            code=str(tree.root),
            environment=environment,
            command=INSTALL + command,
            inputs=inputs,
            outputs=outputs,
        )

    folder = "uri_folder"
    return Components(
        prepare=component(
            "prepare",
            "Prepare data",
            f"{STAGE} prepare --raw ${{{{inputs.raw_data}}}} --file ${{{{inputs.training_file}}}} "
            "$[[--feedback ${{inputs.feedback_data}}]] --out ${{outputs.prepared}}",
            {
                "raw_data": Input(type=folder, description="Folder with the labelled CSV."),
                "training_file": Input(type="string", default="train.csv"),
                "feedback_data": Input(type=folder, optional=True, description="Human feedback labels (CSV)."),
            },
            {"prepared": Output(type=folder)},
        ),
        train=component(
            "train",
            "Fine-tune",
            f"{STAGE} fine-tune --prepared ${{{{inputs.prepared}}}} --epochs ${{{{inputs.epochs}}}} "
            "--seed ${{inputs.seed}} $[[--max-samples ${{inputs.max_samples}}]] "
            "$[[--max-steps ${{inputs.max_steps}}]] --out ${{outputs.model}}",
            {
                "prepared": Input(type=folder),
                "epochs": Input(type="integer", default=3, min=1, max=50),
                "seed": Input(type="integer", default=42),
                "max_samples": Input(type="integer", optional=True, description="Smoke runs: tweets per split."),
                "max_steps": Input(type="integer", optional=True, description="Smoke runs: optimizer steps."),
            },
            {"model": Output(type=folder)},
        ),
        export=component(
            "export",
            "Export to ONNX and study quantization",
            f"{STAGE} export --prepared ${{{{inputs.prepared}}}} --model ${{{{inputs.model}}}} "
            "--quantization ${{inputs.quantization}} --study ${{inputs.study}} --out ${{outputs.packages}}",
            {
                "prepared": Input(type=folder),
                "model": Input(type=folder),
                "quantization": Input(
                    type="string",
                    default="auto",
                    description="Quantization candidates: auto, all, or names separated by commas.",
                ),
                "study": Input(
                    type="string",
                    default="full",
                    enum=["full", "quick"],
                    description="full: the training default; quick: a smoke run's smaller study.",
                ),
            },
            {"packages": Output(type=folder)},
        ),
        evaluate=component(
            "evaluate",
            "Evaluate fp32 and int8",
            f"{STAGE} evaluate --prepared ${{{{inputs.prepared}}}} --model ${{{{inputs.model}}}} "
            "--packages ${{inputs.packages}} $[[--max-samples ${{inputs.max_samples}}]] --out ${{outputs.evaluation}}",
            {
                "prepared": Input(type=folder),
                "model": Input(type=folder),
                "packages": Input(type=folder),
                "max_samples": Input(type="integer", optional=True, description="Smoke runs: test tweets."),
            },
            {"evaluation": Output(type=folder)},
        ),
        register=component(
            "register",
            "Register the candidate",
            f"{STAGE} register --prepared ${{{{inputs.prepared}}}} --model ${{{{inputs.model}}}} "
            '--packages ${{inputs.packages}} --evaluation ${{inputs.evaluation}} --reason "${{inputs.reason}}" '
            "--git-commit ${{inputs.git_commit}} --out ${{outputs.registration}}",
            {
                "prepared": Input(type=folder),
                "model": Input(type=folder),
                "packages": Input(type=folder),
                "evaluation": Input(type=folder),
                "reason": Input(type="string", default="scheduled"),
                "git_commit": Input(type="string", default="unknown", description="Commit of the submitted source."),
            },
            {"registration": Output(type=folder)},
        ),
    )
