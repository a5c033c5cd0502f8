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
        metrics=report(report_file("metrics"), category="Tables", caption="../report/metrics.rst"),
        markdown=report_file("markdown"),
        html=report(report_file("html"), category="Report", caption="../report/report_html.rst"),
        reproducibility=report_file("reproducibility"),
        training_curves=report(
            report_file("training_curves"), category="Training", caption="../report/training_curves.rst"
        ),
        validation_curves=report(
            report_file("validation_curves"), category="Training", caption="../report/validation_curves.rst"
        ),
        score_latency=report(
            report_file("score_latency"), category="Quality and speed", caption="../report/score_latency.rst"
        ),
        confusion_matrices=report(
            report_file("confusion_matrices"),
            category="Quality and speed",
            caption="../report/confusion_matrices.rst",
        ),
        budget_curve=report(
            report_file("budget_curve"), category="Quality and speed", caption="../report/budget_curve.rst"
        ),
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
