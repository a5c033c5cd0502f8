"""A config before any job runs: defaults merged (`defaults`), the schema (`schema`), the checks the schema cannot
express (`checks` and the modules it calls, each error naming its key), and what a teacher's or student's settings
mean for the specs and keys (`settings`). Standard library only."""
