REPORT_DIR = PLAN.report_dir


rule report:
    """metrics.csv, report.md, a self-contained report.html, the plots and the reproducibility record."""
    input:
        evals=PLAN.eval_files(),
        histories=PLAN.histories(),
        cached=PLAN.cached_artefacts(),
        ensembles=PLAN.ensemble_files(),
    output:
        metrics=report(f"{REPORT_DIR}/metrics.csv", category="Tables", caption="../report/metrics.rst"),
        markdown=f"{REPORT_DIR}/report.md",
        html=report(f"{REPORT_DIR}/report.html", category="Report", caption="../report/report_html.rst"),
        reproducibility=f"{REPORT_DIR}/reproducibility.json",
        training_curves=report(
            f"{REPORT_DIR}/training_curves.png", category="Training", caption="../report/training_curves.rst"
        ),
        validation_curves=report(
            f"{REPORT_DIR}/validation_curves.png", category="Training", caption="../report/validation_curves.rst"
        ),
        score_latency=report(
            f"{REPORT_DIR}/score_latency.png", category="Quality and speed", caption="../report/score_latency.rst"
        ),
        confusion_matrices=report(
            f"{REPORT_DIR}/confusion_matrices.png",
            category="Quality and speed",
            caption="../report/confusion_matrices.rst",
        ),
    log:
        PLAN.log("report", "report"),
    conda:
        ENV
    params:
        spec=lambda wildcards: PLAN.report_spec(),  # a function: braces in the config are not wildcards
        workflow_dir=workflow.basedir,
        out=lambda wildcards, output: Path(output.metrics).parent,
    shell:
        "python -m scalingdown report --spec {params.spec:q} --evals {input.evals:q}"
        " --histories {input.histories:q} --cached {input.cached:q} --ensembles {input.ensembles:q}"
        " --workflow-dir {params.workflow_dir:q} --out {params.out:q} > {log:q} 2>&1"
