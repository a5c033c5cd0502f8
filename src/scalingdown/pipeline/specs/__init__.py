"""Typed stage specs: the codec (`codec`: canonical JSON out, checked parsing in), one frozen dataclass per stage
(`definitions`), the builders the plan's keys share (`builders`) and the table of stages the command line and the
rules are generated from (`stage_table`). Standard library only."""
