rule export:
    """Write one shipping variant of a student (ONNX fp32, ONNX int8, PyTorch int8); redone when the student
    changes (its model directory is the input)."""
    input:
        model=lambda wildcards: PLAN.student(wildcards.task, wildcards.student).export_source(wildcards.variant),
    output:
        directory(paths.export_dir(PLAN.root, "{task}", "{student}", "{variant}")),
    log:
        PLAN.log("export", "{task}.{student}.{variant}"),
    wildcard_constraints:
        variant=r"onnx-fp32|onnx-int8|torch-int8",
    conda:
        ENV
    threads: 1  # tracing and quantizing use one core: two exports (or an export and another job) run side by side
    params:
        spec=lambda wildcards: SPECS.export(wildcards.task, wildcards.student, wildcards.variant).to_json(),
    shell:
        STAGES["export"].shell()


rule export_calibrated:
    """Write a student's static int8 ONNX export, its activation scales calibrated on texts of the training split."""
    input:
        model=lambda wildcards: PLAN.student(wildcards.task, wildcards.student).export_source(wildcards.variant),
        data=lambda wildcards: PLAN.task(wildcards.task).data_dir,
    output:
        directory(paths.export_dir(PLAN.root, "{task}", "{student}", "{variant}")),
    log:
        PLAN.log("export", "{task}.{student}.{variant}"),
    wildcard_constraints:
        variant=r"onnx-int8-static",
    conda:
        ENV
    threads: 1  # calibrating runs the float graph once per text: one core
    params:
        spec=lambda wildcards: SPECS.export_calibrated(wildcards.task, wildcards.student, wildcards.variant).to_json(),
    shell:
        STAGES["export_calibrated"].shell()


rule evaluate_export:
    """Score one export of a student on the test split, with the metrics of the student itself."""
    input:
        data=lambda wildcards: PLAN.task(wildcards.task).data_dir,
        model=lambda wildcards: PLAN.student(wildcards.task, wildcards.student).export_dir(wildcards.variant),
    output:
        paths.export_eval_file(PLAN.root, "{task}", "{student}", "{variant}"),
    log:
        PLAN.log("evaluate", "{task}.export.{student}.{variant}"),
    conda:
        ENV
    threads: 1  # an export is scored as it ships: single-threaded, side by side with another job
    params:
        spec=lambda wildcards: SPECS.evaluate(wildcards.task, "student", wildcards.student, wildcards.variant).to_json(),
        model=lambda wildcards: PLAN.student(wildcards.task, wildcards.student).export_dir(wildcards.variant),
    shell:
        STAGES["evaluate"].shell()


rule benchmark:
    """Time every model of a task (teachers, students, exports) interleaved in one job on the CPU, with
    `benchmark.threads` threads: every speed column of the report."""
    input:
        data=lambda wildcards: PLAN.task(wildcards.task).data_dir,
        models=lambda wildcards: [d for ref in PLAN.benchmark_locations(wildcards.task) for d in local_model(ref)],
        evals=lambda wildcards: PLAN.teacher_eval_files(wildcards.task),
    output:
        paths.benchmark_file(PLAN.root, "{task}"),
    log:
        PLAN.log("benchmark", "{task}"),
    conda:
        ENV
    threads: PLAN.benchmark_cores(LOCAL_CORES)
    params:
        spec=lambda wildcards: SPECS.benchmark(wildcards.task).to_json(),
        models=lambda wildcards: PLAN.benchmark_locations(wildcards.task),
    shell:
        STAGES["benchmark"].shell()


rule model_cards:
    """A Hugging Face model card (README.md) in every trained student's and export's directory of a task, from its
    scores and its benchmark (written into directories other rules made: Snakemake times those by their
    .snakemake_timestamp, so nothing reruns)."""
    input:
        evals=lambda wildcards: [path for *_, path in PLAN.record_inputs(wildcards.task)],
        benchmark=lambda wildcards: paths.benchmark_file(PLAN.root, wildcards.task),
        models=lambda wildcards: [path for *_, path in PLAN.carded_models(wildcards.task)],
    output:
        paths.model_cards_file(PLAN.root, "{task}"),
    log:
        PLAN.log("model_cards", "{task}"),
    conda:
        ENV
    params:
        spec=lambda wildcards: SPECS.model_cards(wildcards.task).to_json(),
        models=lambda wildcards: [path for *_, path in PLAN.carded_models(wildcards.task)],
    shell:
        STAGES["model_cards"].shell()


rule ship:
    """The most accurate student or export within the task's `ship` budget, over its seeds, written with its card to
    `<task>/shipped/` (a directory `scalingdown predict` takes)."""
    input:
        evals=lambda wildcards: PLAN.cell_records(wildcards.task),
        benchmarks=lambda wildcards: [
            paths.benchmark_file(PLAN.root, t.folder) for t in PLAN.cell_tasks(wildcards.task)
        ],
        models=lambda wildcards: PLAN.cell_candidates(wildcards.task),
    output:
        directory(paths.shipped_dir(PLAN.root, "{task}")),
    log:
        PLAN.log("ship", "{task}"),
    conda:
        ENV
    params:
        spec=lambda wildcards: SPECS.ship(wildcards.task).to_json(),
        models=lambda wildcards: PLAN.cell_candidates(wildcards.task),
    shell:
        STAGES["ship"].shell()
