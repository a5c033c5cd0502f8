rule report:
    """metrics.csv, report.md and the plots of the whole experiment."""
    input:
        evals=PLAN.eval_files(),
        histories=PLAN.histories(),
        ensembles=PLAN.ensemble_files(),
    output:
        REPORT_FILES,
    params:
        spec=PLAN.report_spec(),
        out=lambda wildcards, output: Path(output[0]).parent,
    log:
        PLAN.log("report", "report"),
    conda:
        ENV
    shell:
        "python -m scalingdown report --spec {params.spec:q} --evals {input.evals:q}"
        " --histories {input.histories:q} --ensembles {input.ensembles:q} --out {params.out:q} > {log:q} 2>&1"
