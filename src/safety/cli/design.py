"""``design`` command group: decision boundaries and decisions from the command line.

    python -m safety design boundaries --design boin --target 0.3 [--cohort-size 3] [--max-n 30]
    python -m safety design decide --design boin --outcomes "1NNN 2NTN" --num-doses 5 --target 0.3

Bad input exits with status 2 and one line on stderr; ``--json`` prints only JSON on stdout.
"""

from __future__ import annotations

import json
import logging

import click

from safety.cli.base import BadInput
from safety.errors import SafetyError
from safety.escalation.boin import Boin
from safety.escalation.crm import CRM_PRIOR_VARIANCE, Crm
from safety.escalation.decision import Decision
from safety.escalation.mtpi2 import Mtpi2
from safety.escalation.three_plus_three import ThreePlusThree

log = logging.getLogger(__name__)

DEFAULT_MAX_N = 30  # DESIGN.md: one boundary row for every n from 1 to --max-n (default 30)
MAX_TABLE_N = 300  # keep the table a size a person can read


@click.group(name="design")
def design() -> None:
    """Dose-escalation designs: boundaries and decisions."""


@design.command()
@click.option("--design", "design_name", type=click.Choice(["boin", "mtpi2"]), required=True)
@click.option("--target", type=float, required=True, help="Target DLT rate, e.g. 0.3.")
@click.option("--cohort-size", type=int, default=3, show_default=True)
@click.option("--max-n", type=int, default=DEFAULT_MAX_N, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def boundaries(
    design_name: str, target: float, cohort_size: int, max_n: int, as_json: bool
) -> None:
    """Decision table: E, S, D or DU for every number of DLTs in n = 1 .. max-n patients."""
    try:
        if not 1 <= max_n <= MAX_TABLE_N:
            raise BadInput(f"--max-n must be between 1 and {MAX_TABLE_N}, got {max_n}")
        if cohort_size < 1:
            raise BadInput(f"--cohort-size must be at least 1, got {cohort_size}")
        doc: dict[str, object] = {
            "design": design_name,
            "target": target,
            "cohort_size": cohort_size,
        }
        if design_name == "boin":
            boin = Boin(num_doses=1, target=target)
            lambda_e, lambda_d = boin.lambdas
            doc.update({"lambda_e": lambda_e, "lambda_d": lambda_d})
            table = boin.decision_table(max_n)
        else:
            mtpi2 = Mtpi2(num_doses=1, target=target)
            doc.update({"epsilon1": mtpi2.epsilon1, "epsilon2": mtpi2.epsilon2})
            table = mtpi2.decision_table(max_n)
    except SafetyError as exc:
        raise BadInput(str(exc)) from exc
    doc["rows"] = [{"n": i + 1, "decisions": list(row)} for i, row in enumerate(table)]
    if as_json:
        click.echo(json.dumps(doc))
        return
    title = "BOIN" if design_name == "boin" else "mTPI-2"
    click.echo(f"{title} decision boundaries, target DLT rate {target:g}")
    if design_name == "boin":
        click.echo(f"lambda_e = {doc['lambda_e']:.4f}, lambda_d = {doc['lambda_d']:.4f}")
    click.echo("E escalate, S stay, D de-escalate, DU de-escalate and eliminate the dose")
    shown = [i for i in range(max_n) if (i + 1) % cohort_size == 0] or list(range(max_n))
    rows = [
        ("Patients treated", [str(i + 1) for i in shown]),
        ("Escalate if # DLT <=", [_last(table[i], "E") for i in shown]),
        ("De-escalate if # DLT >=", [_first(table[i], ("D", "DU")) for i in shown]),
        ("Eliminate if # DLT >=", [_first(table[i], ("DU",)) for i in shown]),
    ]
    width = max(len(v) for _, vals in rows for v in vals)
    for label, vals in rows:
        click.echo(f"{label:<24}" + " ".join(v.rjust(width) for v in vals))


def _last(row: tuple[str, ...], letter: str) -> str:
    hits = [y for y, x in enumerate(row) if x == letter]
    return str(hits[-1]) if hits else "-"


def _first(row: tuple[str, ...], letters: tuple[str, ...]) -> str:
    hits = [y for y, x in enumerate(row) if x in letters]
    return str(hits[0]) if hits else "NA"


def _parse_skeleton(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise BadInput(
            f'--skeleton must be comma-separated numbers such as "0.05,0.1,0.2", got "{text}"'
        ) from exc


@design.command()
@click.option(
    "--design", "design_name", type=click.Choice(["3+3", "boin", "mtpi2", "crm"]), required=True
)
@click.option(
    "--outcomes",
    default="",
    show_default=True,
    help='Outcome string such as "1NNN 2NTN" (N no DLT, T DLT).',
)
@click.option("--num-doses", type=int, required=True)
@click.option("--target", type=float, default=None, help="Target DLT rate (BOIN, mTPI-2, CRM).")
@click.option("--allow-deescalate", is_flag=True, help="3+3: de-escalate (Korn et al. 1994).")
@click.option("--final", is_flag=True, help="Final MTD selection instead of the next dose.")
@click.option(
    "--model",
    type=click.Choice(["empiric", "logistic"]),
    default="empiric",
    show_default=True,
    help="CRM model.",
)
@click.option("--skeleton", default=None, help="CRM skeleton, e.g. 0.05,0.1,0.2,0.35.")
@click.option(
    "--prior-var",
    type=float,
    default=CRM_PRIOR_VARIANCE,
    show_default=True,
    help="CRM prior variance of beta.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def decide(
    design_name: str,
    outcomes: str,
    num_doses: int,
    target: float | None,
    allow_deescalate: bool,
    final: bool,
    model: str,
    skeleton: str | None,
    prior_var: float,
    as_json: bool,
) -> None:
    """The design's decision for the next cohort (or, with --final, the MTD)."""
    try:
        chosen = _build(
            design_name,
            num_doses,
            target,
            allow_deescalate,
            model,
            _parse_skeleton(skeleton),
            prior_var,
        )
        decision: Decision = chosen.final(outcomes) if final else chosen.decide(outcomes)
    except SafetyError as exc:
        raise BadInput(str(exc)) from exc
    doc = decision.to_dict()
    doc["design"] = design_name
    if design_name == "crm":
        doc["beta_mean"] = decision.numbers["beta_mean"]
        doc["beta_var"] = decision.numbers["beta_var"]
        doc["mtd_estimate"] = int(decision.numbers["mtd_estimate"])
    if as_json:
        click.echo(json.dumps(doc))
        return
    dose = "none" if decision.dose_level is None else str(decision.dose_level)
    click.echo(
        f"{decision.action.value.upper()}: recommended dose level {dose}; "
        f"{'continue' if decision.continue_ else 'stop'} the trial"
    )
    click.echo(decision.reason)
    est = ", ".join("-" if e is None else f"{e:.3f}" for e in decision.estimates)
    click.echo(f"Estimated DLT rates by dose level: {est}")
    if decision.eliminated:
        click.echo("Eliminated dose levels: " + ", ".join(map(str, decision.eliminated)))


def _build(
    design_name: str,
    num_doses: int,
    target: float | None,
    allow_deescalate: bool,
    model: str,
    skeleton: tuple[float, ...] | None,
    prior_var: float,
):
    if design_name != "3+3" and target is None:
        raise BadInput(f"--target is required for --design {design_name}")
    if allow_deescalate and design_name != "3+3":
        raise BadInput("--allow-deescalate applies to --design 3+3 only")
    if design_name == "3+3":
        return ThreePlusThree(num_doses=num_doses, allow_deescalate=allow_deescalate)
    assert target is not None
    if design_name == "boin":
        return Boin(num_doses=num_doses, target=target)
    if design_name == "mtpi2":
        return Mtpi2(num_doses=num_doses, target=target)
    if skeleton is None:
        raise BadInput("--skeleton is required for --design crm")
    if len(skeleton) != num_doses:
        raise BadInput(f"--skeleton has {len(skeleton)} values but --num-doses is {num_doses}")
    return Crm(skeleton=skeleton, target=target, model=model, prior_var=prior_var)  # type: ignore[arg-type]
