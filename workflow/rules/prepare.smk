rule prepare:
    """Load, validate, de-duplicate and split one task's dataset; shared by every experiment using it."""
    input:
        lambda wildcards: PLAN.data_files(wildcards.data_key),
    output:
        directory(layout.DATA_DIR),
    log:
        PLAN.log("prepare", "{data_key}"),
    conda:
        ENV
    params:
        spec=lambda wildcards: PLAN.prepare_spec(wildcards.data_key),
        experiment=builder,
    shell:
        "python -m scalingdown prepare --spec {params.spec:q} --out {output:q} --experiment {params.experiment:q}"
        " > {log:q} 2>&1"
