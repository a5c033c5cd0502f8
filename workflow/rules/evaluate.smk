rule evaluate:
    """Score one model on the test split (its speed comes from the task's `benchmark` job)."""
    input:
        data=lambda wildcards: PLAN.task(wildcards.task).data_dir,
        model=lambda wildcards: local_model(PLAN.evaluated_model(wildcards.task, wildcards.kind, wildcards.name)),
        # a causal student is compared with its teacher token by token
        reference=lambda wildcards: PLAN.agreement_models(wildcards.task, wildcards.kind, wildcards.name),
    output:
        paths.eval_file(PLAN.root, "{task}", "{kind}", "{name}"),
    log:
        PLAN.log("evaluate", "{task}.{kind}.{name}"),
    conda:
        ENV
    threads: 1  # inference over the test split: one core, so that two scoring jobs (or one and a training job) share the machine
    resources:
        **PLAN.resources("evaluate"),
    params:
        spec=lambda wildcards: SPECS.evaluate(wildcards.task, wildcards.kind, wildcards.name).to_json(),
        model=lambda wildcards: PLAN.evaluated_model(wildcards.task, wildcards.kind, wildcards.name),
    shell:
        STAGES["evaluate"].shell()


rule teacher_ensemble:
    """Teachers' agreement and ensemble scores on the test split, from their logit caches (no teacher is loaded)."""
    input:
        data=lambda wildcards: PLAN.task(wildcards.task).data_dir,
        logits=lambda wildcards: [t.logits for t in PLAN.task(wildcards.task).teachers.values()],
    output:
        paths.ensemble_file(PLAN.root, "{task}"),
    log:
        PLAN.log("teacher_ensemble", "{task}"),
    conda:
        ENV
    params:
        spec=lambda wildcards: SPECS.ensemble(wildcards.task).to_json(),
    shell:
        STAGES["teacher_ensemble"].shell()
