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


def test_workers_elsewhere_cannot_be_given_local_paths():
    """A portable runner with EXTERNAL or DOCKER workers, like Dataflow, runs the job's code on
    machines that do not see this one's disk: a local input, output or model is refused before
    the job starts, naming the path; the DirectRunner and LOOPBACK workers take local paths."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.options import runner_problem

    external = PipelineOptions(["--runner=PortableRunner", "--environment_type=EXTERNAL",
                                "--environment_config=localhost:1"])
    remote = ["s3://bkt/raw/x.warc.gz"]
    assert runner_problem(external, remote, "s3://bkt/data", ("s3://bkt/models/lid.176.ftz",)) is None
    problem = runner_problem(external, remote, "s3://bkt/data", ("data/models/lid.176.ftz",))
    assert "EXTERNAL SDK workers" in problem and "'data/models/lid.176.ftz'" in problem
    assert "'out'" in runner_problem(PipelineOptions(["--runner=DataflowRunner"]), remote, "out")
    for local in (["--runner=DirectRunner"], ["--runner=PortableRunner", "--environment_type=LOOPBACK"]):
        assert runner_problem(PipelineOptions(local), ["raw/x"], "out", ("lid.ftz",)) is None
