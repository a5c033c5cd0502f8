rule finetune_teacher:
    """Fine-tune a teacher on its task; shared by every experiment with the same teacher and data."""
    input:
        data=lambda wildcards: PLAN.tasks[PLAN.teacher_by_key(wildcards.teacher_key).task].data_dir,
        deepspeed=PLAN.deepspeed_config(),
    output:
        model=directory(f"{layout.TEACHER_DIR}/model"),
        history=f"{layout.TEACHER_DIR}/history.json",
    log:
        PLAN.log("finetune_teacher", "{teacher_key}"),
    conda:
        ENV
    threads: THREADS
    resources:
        **PLAN.resources("finetune_teacher"),
    params:
        spec=lambda wildcards: PLAN.finetune_spec(wildcards.teacher_key),
        experiment=builder,
        checkpoints=f"{layout.TEACHER_DIR}/checkpoints",
        launcher=PLAN.launcher("finetune_teacher"),
    shell:
        "{params.launcher} finetune-teacher --spec {params.spec:q} --data {input.data:q}"
        " --out {output.model:q} --history {output.history:q} --checkpoints {params.checkpoints:q}"
        " --experiment {params.experiment:q} --threads {threads} > {log:q} 2>&1"


rule teacher_logits:
    """Run a teacher once over the data and cache its outputs (Parquet, fingerprinted): logits and mapped pooled
    states, or top-k per target token."""
    input:
        data=lambda wildcards: PLAN.tasks[PLAN.teacher_by_logits_key(wildcards.logits_key).task].data_dir,
        model=lambda wildcards: layout.local_model(PLAN.teacher_by_logits_key(wildcards.logits_key).model_ref),
    output:
        layout.LOGITS_FILE,
    log:
        PLAN.log("teacher_logits", "{logits_key}"),
    conda:
        ENV
    threads: THREADS
    resources:
        **PLAN.resources("teacher_logits"),
    params:
        spec=lambda wildcards: PLAN.logits_spec(wildcards.logits_key),
        experiment=builder,
    shell:
        "python -m scalingdown teacher-logits --spec {params.spec:q} --data {input.data:q}"
        " --out {output:q} --experiment {params.experiment:q} --threads {threads} > {log:q} 2>&1"
