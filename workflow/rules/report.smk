rule report:
    """metrics.csv, report.md, a self-contained report.html, the plots and the reproducibility record."""
    input:
        evals=PLAN.eval_files(),
        histories=PLAN.histories(),
        cached=PLAN.cached_artefacts(),
        ensembles=PLAN.ensemble_files(),
        benchmarks=PLAN.benchmark_files(),
        selections=PLAN.selection_files(),
    output:
        **report_outputs(),
    log:
        PLAN.log("report", "report"),
    conda:
        ENV
    params:
        spec=lambda wildcards: SPECS.report().to_json(),  # a function: braces in the config are not wildcards
        workflow_dir=workflow.basedir,
        out=lambda wildcards, output: Path(output.metrics).parent,
    shell:
        STAGES["report"].shell()
