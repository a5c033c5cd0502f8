STUDENT_DIR = f"{PLAN.root}/{{task}}/students/{{student}}"


rule init_student:
    """Build a student's starting weights (shared by students with the same init); the untrained baseline."""
    output:
        directory(layout.STUDENT_INIT_DIR),
    log:
        PLAN.log("init_student", "{init_key}"),
    conda:
        ENV
    threads: THREADS
    params:
        spec=lambda wildcards: PLAN.init_spec(wildcards.init_key),
        experiment=builder,
    shell:
        "python -m scalingdown init-student --spec {params.spec:q} --out {output:q}"
        " --experiment {params.experiment:q} --threads {threads} > {log:q} 2>&1"


rule distill:
    """Train a student from the cached teacher logits (gold labels only when it has no teachers).

    With `teacher_mode: online` it loads the teachers and runs them inside the training loop instead.
    """
    input:
        data=lambda wildcards: PLAN.tasks[wildcards.task].data_dir,
        init=lambda wildcards: PLAN.student(wildcards.task, wildcards.student).init_dir,
        logits=lambda wildcards: PLAN.distill_logits(wildcards.task, wildcards.student),
        teacher_models=lambda wildcards: PLAN.distill_teacher_models(wildcards.task, wildcards.student),
        deepspeed=PLAN.deepspeed_config(),
    output:
        model=directory(f"{STUDENT_DIR}/model"),
        history=f"{STUDENT_DIR}/history.json",
    log:
        PLAN.log("distill", "{task}.{student}"),
    conda:
        ENV
    threads: THREADS
    resources:
        **PLAN.resources("distill"),
    params:
        spec=lambda wildcards: PLAN.distill_spec(wildcards.task, wildcards.student),
        checkpoints=f"{STUDENT_DIR}/checkpoints",
        launcher=PLAN.launcher("distill"),
    shell:
        "{params.launcher} distill --spec {params.spec:q} --data {input.data:q} --init {input.init:q}"
        " --logits {input.logits:q} --out {output.model:q} --history {output.history:q}"
        " --checkpoints {params.checkpoints:q} --threads {threads} > {log:q} 2>&1"
