"""`python -m pipeline.run`: the corpus command's first name, kept for scripts that use it.

The command now lives with the sources it runs (`python -m sources.run`); this module only hands
over to it when run, and imports nothing from the layers above `pipeline/`.
"""

if __name__ == "__main__":
    import runpy

    runpy.run_module("sources.run", run_name="__main__", alter_sys=True)
