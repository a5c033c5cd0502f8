"""The plan's cache keys: a student setting never reaches a teacher's or the data's key; teacher and data
settings do."""

import copy

from scalingdown.pipeline.plan.experiment import Plan
from scalingdown.pipeline.plan.stage_specs import StageSpecs
from tests.pipeline.conftest import resolved_tiny_config


def test_student_settings_never_change_teacher_or_data_paths():
    config = resolved_tiny_config()
    before = Plan(config)
    changed = copy.deepcopy(config)
    changed["tasks"]["sentiment"]["students"]["distilled"]["training"]["learning_rate"] = 5e-4
    changed["tasks"]["sentiment"]["students"]["distilled"]["loss"]["temperature"] = 4.0
    after = Plan(changed)
    task_before, task_after = before.tasks["sentiment"], after.tasks["sentiment"]
    assert task_before.data_dir == task_after.data_dir
    assert task_before.teachers["big"].logits == task_after.teachers["big"].logits
    specs_before, specs_after = StageSpecs(before), StageSpecs(after)
    teacher_before, teacher_after = task_before.teachers["big"].key, task_after.teachers["big"].key
    assert specs_before.finetune(teacher_before).to_json() == specs_after.finetune(teacher_after).to_json()
    distill_before, distill_after = (
        specs_before.distill("sentiment", "distilled"),
        specs_after.distill("sentiment", "distilled"),
    )
    assert distill_before.to_json() != distill_after.to_json()


def test_teacher_and_data_settings_change_their_keys():
    config = resolved_tiny_config()
    base = Plan(config).tasks["sentiment"]
    teacher_change = copy.deepcopy(config)
    teacher_change["tasks"]["sentiment"]["teachers"]["big"]["finetune"]["epochs"] = 2
    data_change = copy.deepcopy(config)
    data_change["tasks"]["sentiment"]["data"]["options"]["rows"] = 61
    assert Plan(teacher_change).tasks["sentiment"].teachers["big"].key != base.teachers["big"].key
    assert Plan(teacher_change).tasks["sentiment"].data_dir == base.data_dir
    changed = Plan(data_change).tasks["sentiment"]
    assert changed.data_dir != base.data_dir and changed.teachers["big"].key != base.teachers["big"].key


def test_students_with_the_same_init_share_one_init_directory():
    task = Plan(resolved_tiny_config()).tasks["sentiment"]
    assert len({student.init_dir for student in task.students.values()}) == 1
