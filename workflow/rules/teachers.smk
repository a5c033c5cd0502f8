rule finetune_teacher:
    """Fine-tune a teacher on its task; shared by every experiment with the same teacher and data."""
    input:
        data=lambda wildcards: PLAN.tasks[PLAN.teacher_by_key(wildcards.teacher_key).task].data_dir,
    output:
        model=directory(f"{layout.TEACHER_DIR}/model"),
        history=f"{layout.TEACHER_DIR}/history.json",
    params:
        spec=lambda wildcards: PLAN.finetune_spec(wildcards.teacher_key),
        checkpoints=f"{layout.TEACHER_DIR}/checkpoints",
    threads: THREADS
    log:
        PLAN.log("finetune_teacher", "{teacher_key}"),
    conda:
        ENV
    shell:
        "python -m scalingdown finetune-teacher --spec {params.spec:q} --data {input.data:q}"
        " --out {output.model:q} --history {output.history:q} --checkpoints {params.checkpoints:q}"
        " --threads {threads} > {log:q} 2>&1"


rule teacher_logits:
    """Run a teacher once over every split and cache its logits and mapped pooled states (Parquet, fingerprinted)."""
    input:
        data=lambda wildcards: PLAN.tasks[PLAN.teacher_by_logits_key(wildcards.logits_key).task].data_dir,
        model=lambda wildcards: layout.local_model(PLAN.teacher_by_logits_key(wildcards.logits_key).model_ref),
    output:
        layout.LOGITS_FILE,
    params:
        spec=lambda wildcards: PLAN.logits_spec(wildcards.logits_key),
    threads: THREADS
    log:
        PLAN.log("teacher_logits", "{logits_key}"),
    conda:
        ENV
    shell:
        "python -m scalingdown teacher-logits --spec {params.spec:q} --data {input.data:q}"
        " --out {output:q} --threads {threads} > {log:q} 2>&1"
