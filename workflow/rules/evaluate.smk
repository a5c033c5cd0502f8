rule evaluate:
    """Score one model on the test split and time it (same device and thread count for every model)."""
    input:
        data=lambda wildcards: PLAN.tasks[wildcards.task].data_dir,
        model=lambda wildcards: layout.local_model(PLAN.evaluated_model(wildcards.task, wildcards.kind, wildcards.name)),
    output:
        f"{PLAN.root}/{{task}}/eval/{{kind}}.{{name}}.json",
    params:
        spec=lambda wildcards: PLAN.evaluate_spec(wildcards.task, wildcards.kind, wildcards.name),
        model=lambda wildcards: PLAN.evaluated_model(wildcards.task, wildcards.kind, wildcards.name),
    threads: THREADS
    resources:
        **PLAN.resources("evaluate"),
    log:
        PLAN.log("evaluate", "{task}.{kind}.{name}"),
    conda:
        ENV
    shell:
        "python -m scalingdown evaluate --spec {params.spec:q} --data {input.data:q} --model {params.model:q}"
        " --out {output:q} --threads {threads} > {log:q} 2>&1"
