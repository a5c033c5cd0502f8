rule init_student:
    """Build a student's starting weights (shared by students with the same init); the untrained baseline."""
    output:
        directory(paths.student_init_dir("{init_key}")),
    log:
        PLAN.log("init_student", "{init_key}"),
    conda:
        ENV
    threads: 1  # copies layers: one core, side by side with another job
    params:
        spec=lambda wildcards: SPECS.init(wildcards.init_key).to_json(),
        experiment=builder,
    shell:
        STAGES["init_student"].shell()


rule check_distill_inputs:
    """Check what `distill` reads, in a cheap local job before it: Snakemake deletes `distill`'s outputs before it
    runs, so a refused input must stop the workflow here, with the previous student in place. The record is
    temporary, so that every run of `distill` (`--forcerun distill` too) is preceded by a fresh check."""
    input:
        data=lambda wildcards: PLAN.task(wildcards.task).data_dir,
        init=lambda wildcards: PLAN.student(wildcards.task, wildcards.student).init_dir,
        logits=lambda wildcards: PLAN.distill_logits(wildcards.task, wildcards.student),
    output:
        temp(paths.student_inputs_checked(PLAN.root, "{task}", "{student}")),
    log:
        PLAN.log("check_distill_inputs", "{task}.{student}"),
    localrule: True
    conda:
        ENV
    params:
        spec=lambda wildcards: SPECS.distill(wildcards.task, wildcards.student).to_json(),
    shell:
        STAGES["check_distill_inputs"].shell()


rule distill:
    """Train a student from the cached teacher logits (gold labels only when it has no teachers).

    With `teacher_mode: online` it loads the teachers and runs them inside the training loop instead.
    """
    input:
        data=lambda wildcards: PLAN.task(wildcards.task).data_dir,
        init=lambda wildcards: PLAN.student(wildcards.task, wildcards.student).init_dir,
        logits=lambda wildcards: PLAN.distill_logits(wildcards.task, wildcards.student),
        teacher_models=lambda wildcards: PLAN.distill_teacher_models(wildcards.task, wildcards.student),
        deepspeed=PLAN.deepspeed_config(),
        checked=paths.student_inputs_checked(PLAN.root, "{task}", "{student}"),
    output:
        model=directory(paths.student_model(PLAN.root, "{task}", "{student}")),
        history=paths.student_history(PLAN.root, "{task}", "{student}"),
    log:
        PLAN.log("distill", "{task}.{student}"),
    conda:
        ENV
    threads: THREADS
    resources:
        **PLAN.resources("distill"),
    params:
        spec=lambda wildcards: SPECS.distill(wildcards.task, wildcards.student).to_json(),
        checkpoints=paths.student_checkpoints(PLAN.root, "{task}", "{student}"),
        launcher=PLAN.launcher("distill"),
    shell:
        STAGES["distill"].shell()
