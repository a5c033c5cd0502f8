rule prepare:
    """Load, validate, de-duplicate and split one task's dataset; shared by every experiment using it."""
    input:
        lambda wildcards: PLAN.data_files(wildcards.data_key),
    output:
        directory(paths.data_dir("{data_key}")),
    log:
        PLAN.log("prepare", "{data_key}"),
    conda:
        ENV
    params:
        spec=lambda wildcards: SPECS.prepare(wildcards.data_key).to_json(),
        experiment=builder,
    shell:
        STAGES["prepare"].shell()
