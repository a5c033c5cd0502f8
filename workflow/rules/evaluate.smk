rule evaluate:
    """Score one model on the test split and time it (same device and thread count for every model)."""
    input:
        data=lambda wildcards: PLAN.tasks[wildcards.task].data_dir,
        model=lambda wildcards: layout.local_model(PLAN.evaluated_model(wildcards.task, wildcards.kind, wildcards.name)),
    output:
        f"{PLAN.root}/{{task}}/eval/{{kind}}.{{name}}.json",
    log:
        PLAN.log("evaluate", "{task}.{kind}.{name}"),
    conda:
        ENV
    threads: THREADS
    resources:
        **PLAN.resources("evaluate"),
    params:
        spec=lambda wildcards: PLAN.evaluate_spec(wildcards.task, wildcards.kind, wildcards.name),
        model=lambda wildcards: PLAN.evaluated_model(wildcards.task, wildcards.kind, wildcards.name),
    shell:
        "python -m scalingdown evaluate --spec {params.spec:q} --data {input.data:q} --model {params.model:q}"
        " --out {output:q} --threads {threads} > {log:q} 2>&1"


rule teacher_ensemble:
    """Teachers' agreement and ensemble scores on the test split, from their logit caches (no teacher is loaded)."""
    input:
        data=lambda wildcards: PLAN.tasks[wildcards.task].data_dir,
        logits=lambda wildcards: [t.logits for t in PLAN.tasks[wildcards.task].teachers.values()],
    output:
        f"{PLAN.root}/{{task}}/eval/ensemble.json",
    log:
        PLAN.log("teacher_ensemble", "{task}"),
    conda:
        ENV
    params:
        spec=lambda wildcards: PLAN.ensemble_spec(wildcards.task),
    shell:
        "python -m scalingdown teacher-ensemble --spec {params.spec:q} --data {input.data:q}"
        " --logits {input.logits:q} --out {output:q} > {log:q} 2>&1"
