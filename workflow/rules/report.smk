rule report:
    """metrics.csv, report.md and the plots of the whole experiment."""
    input:
        evals=PLAN.eval_files(),
        histories=PLAN.histories(),
    output:
        REPORT_FILES,
    params:
        spec=lambda wildcards: PLAN.report_spec(),  # a function: braces in the config are not wildcards
        out=lambda wildcards, output: Path(output[0]).parent,
    log:
        PLAN.log("report", "report"),
    conda:
        ENV
    shell:
        "python -m scalingdown report --spec {params.spec:q} --evals {input.evals:q}"
        " --histories {input.histories:q} --out {params.out:q} > {log:q} 2>&1"
