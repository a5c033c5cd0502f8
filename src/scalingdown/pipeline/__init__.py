"""The pipeline layer (standard library only): config, checks, plan, typed stage specs, paths, hashing.

It is all the Snakefile imports, and it runs again in every cluster job, so it must stay light: a test
checks that importing it loads no torch, pandas, transformers or yaml.
"""
