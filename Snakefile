"""ScalingDown: distil transformer teachers into small students and report what was kept.

    snakemake --cores 2                                              # the default experiment
    snakemake --cores 2 --configfile config/experiments/<name>.yaml  # another experiment

Rules live in workflow/rules/, grouped by stage; each runs `python -m scalingdown <stage>` with the line that
scalingdown.pipeline.specs.stage_table generates. The layers of the package: docs/architecture.md.
"""

if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/students.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/ship.smk"
include: "workflow/rules/report.smk"


rule all:
    """The experiment's report (and with it every stage before it), the model cards and the shipped models."""
    default_target: True
    input:
        rules.report.output,
        PLAN.card_files(),
        PLAN.shipped_dirs(),
