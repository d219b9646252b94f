"""pipeline/options.py: the Beam options a job runs with."""

from __future__ import annotations


def test_beam_options_keep_the_users_direct_runner_flags():
    """Without --runner the defaults (multi-processing, all cores) used to be appended after the
    user's own `--direct_running_mode` / `--direct_num_workers`, overriding them."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    from pipeline.options import beam_options
    opts = beam_options(["--direct_running_mode", "in_memory"]).view_as(DirectOptions)
    assert opts.direct_running_mode == "in_memory"
    opts = beam_options(["--direct_num_workers=3"])
    assert opts.view_as(DirectOptions).direct_num_workers == 3
    assert opts.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert opts.view_as(StandardOptions).runner == "DirectRunner"
