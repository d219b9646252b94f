"""`python -m sources.run --source NAME --input GLOB --output DIR`: one source's Beam job.

Flags this job does not know pass straight to Beam, so DirectRunner vs Dataflow is only flags:
    python -m sources.run --source wikipedia --input 'gs://bucket/raw/wikipedia/*' \
        --output gs://bucket/data --runner DataflowRunner --project P --region R \
        --temp_location gs://bucket/tmp --setup_file ./setup.py
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import config as config_flags
from pipeline import files, stats, store, writers
from pipeline.localcache import require_file, store_error
from pipeline.options import beam_options, runner_problem, setup_logging, unknown_flags
from pipeline.stats import LedgerEntry
from sources import registry
from sources.base import LINES

log = logging.getLogger("sources.run")


def build_parser(source_cls=None) -> argparse.ArgumentParser:
    names = registry.available()
    parser = argparse.ArgumentParser(
        prog="python -m sources.run",
        description="Run one source's corpus job. Unknown flags are passed to Apache Beam "
        "(e.g. --runner DataflowRunner --project ... --region ... --temp_location gs://...).",
        epilog=f"sources: {', '.join(names) or '(none built yet)'}",
    )
    parser.add_argument("--source", required=True, help=f"one of: {', '.join(names)}")
    parser.add_argument("--input", default=None,
                        help="comma-separated globs of files or folders (default: DIR/raw/SOURCE)")
    parser.add_argument("--output", default="data", help="data root: writes DIR/clean/SOURCE, DIR/rejected/SOURCE, "
                        "DIR/errors/SOURCE (default: data)")
    parser.add_argument("--keep-rejected", action="store_true", help="write dropped documents with their drop_reason")
    parser.add_argument("--num-shards", type=int, default=0, help="clean shards to write; 0 = by size (default: 0)")
    if source_cls is not None:
        config_flags.add_arguments(parser, source_cls.Config, f"{source_cls.name} options")
    return parser


def ledger_entries(outputs: dict) -> beam.PCollection:
    """The accounting stream of a source's outputs (see pipeline.stats)."""
    return (
        outputs["in"] | "LedgerIn" >> beam.Map(lambda d: LedgerEntry("in", "", len(d.text))),
        outputs["read_errors"] | "LedgerUnreadable" >> beam.Map(lambda e: LedgerEntry("in", "", 0)),
        outputs["clean"] | "LedgerOut" >> beam.Map(lambda d: LedgerEntry("out", "", len(d.text))),
        outputs["rejected"] | "LedgerDropped" >> beam.Map(lambda r: LedgerEntry("dropped", r.reason, len(r.doc.text))),
        outputs["errors"] | "LedgerErrors" >> beam.Map(lambda e: LedgerEntry("error", e.kind, 0)),
    ) | "Ledger" >> beam.Flatten()


def build(p: beam.Pipeline, source, inputs: list[str], output: str, keep_rejected: bool, num_shards: int) -> str:
    """Adds the whole job to `p`; returns the path of the partial stats file it writes."""
    name = source.name
    clean_dir = FileSystems.join(output, "clean", name)
    partial = FileSystems.join(clean_dir, ".stats-partial.json")
    outputs = p | "Inputs" >> beam.Create(inputs) | source
    outputs["clean"] | "WriteClean" >> writers.WriteShards(
        clean_dir, name, key=lambda d: d.id, to_line=lambda d: d.to_json(), num_shards=num_shards)
    if keep_rejected:
        outputs["rejected"] | "WriteRejected" >> writers.WriteShards(
            FileSystems.join(output, "rejected", name), "rejected",
            key=lambda r: r.doc.id, to_line=lambda r: r.doc.to_json(r.reason))
    for key in sorted(k for k in outputs if k.startswith(LINES)):  # e.g. Wikipedia's cited URLs
        kind = key[len(LINES):]
        outputs[key] | f"Write{kind.title().replace('_', '')}" >> writers.WriteShards(
            FileSystems.join(clean_dir, kind), kind, key=lambda line: line, to_line=lambda line: line,
            suffix=".txt.gz")
    outputs["errors"] | "WriteErrors" >> writers.WriteShards(
        FileSystems.join(output, "errors", name), "errors", key=lambda e: e.id, to_line=lambda e: e.to_json())
    (
        ledger_entries(outputs)
        | "Tally" >> beam.CombineGlobally(stats.TallyFn(name))
        | "WritePartialStats" >> beam.Map(lambda s: files.write_atomic_bytes(partial, stats.dumps(s).encode()))
    )
    if "extra" in outputs:  # what a source adds to stats.json (e.g. a site ranking)
        (
            outputs["extra"]
            | "MergeExtra" >> beam.CombineGlobally(lambda ds: {k: v for d in ds for k, v in d.items()})
            | "WriteExtraStats" >> beam.Map(
                lambda s: files.write_atomic_bytes(partial + ".extra", json.dumps(s).encode()))
        )
    return partial


def collect_stats(partial: str) -> dict:
    """Reads (and removes) the partial stats the job wrote, with any source extras merged in."""
    result = json.loads(files.read_bytes(partial))
    done = [partial]
    if FileSystems.exists(partial + ".extra"):
        result.update(json.loads(files.read_bytes(partial + ".extra")))
        done.append(partial + ".extra")
    FileSystems.delete(done)
    return result


def _inputs_and_models(source, options, input_spec: str, output: str) -> list[str]:
    """The input files, once every bucket the job names answers and every model is there (else
    the error: `OSError` or `ValueError`, one message, nothing written)."""
    store.check_paths([*input_spec.split(","), output], options)
    inputs = files.expand_inputs(input_spec)
    models = source.model_files()  # raises for a missing model, naming the command that makes it
    store.check_paths(models, options)
    for path in models:
        require_file(path, "model file")
    problem = runner_problem(options, [], "", tuple(models))
    if problem:
        raise ValueError(problem)
    return inputs


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:  # Ctrl-C: shards are renamed into place only when complete
        print("interrupted: the output holds no half-written shard; rerun the same command", file=sys.stderr)
        return 130


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _main(argv: list[str]) -> int:
    setup_logging()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--source")
    known, _ = pre.parse_known_args(argv)
    source_cls = None
    if known.source:
        try:
            source_cls = registry.get(known.source)
        except KeyError as exc:
            return _error(exc.args[0])
    parser = build_parser(source_cls)
    args, beam_args = parser.parse_known_args(argv)
    unknown = unknown_flags(beam_args, parser)
    if unknown:
        return _error(f"unknown flag{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                      "neither this job nor Apache Beam knows it (see --help)")
    source = source_cls(config_flags.from_args(source_cls.Config, args))
    input_spec = args.input or FileSystems.join(args.output, "raw", args.source)
    try:
        options = beam_options(beam_args)  # also how this process reaches the object store
    except ValueError as exc:
        return _error(f"Beam options: {exc}")
    # Local paths with workers elsewhere: said before Beam builds the runner (Dataflow's asks for
    # credentials, which takes minutes where there are none) and before any store is asked.
    problem = runner_problem(options, [p.strip() for p in input_spec.split(",") if p.strip()], args.output)
    if problem:
        return _error(problem)
    try:
        pipeline = beam.Pipeline(options=options)  # Beam validates the runner's options here
    except ValueError as exc:
        return _error(f"Beam options: {exc}")
    try:
        inputs = _inputs_and_models(source, options, input_spec, args.output)
    except (OSError, ValueError) as exc:
        return _error(str(exc))
    outputs = ["clean", "errors"] + (["rejected"] if args.keep_rejected else [])
    try:  # a bad --output is a message now, not a crash when the whole job is done
        for kind in outputs:
            files.check_writable(FileSystems.join(args.output, kind, args.source))
    except OSError as exc:
        return _error(f"cannot write to --output {args.output!r}: {store_error(exc)}")
    log.info("%s: %d input files from %s", args.source, len(inputs), input_spec)
    start = time.time()
    try:
        with pipeline as p:
            partial = build(p, source, inputs, args.output, args.keep_rejected, args.num_shards)
    except FileNotFoundError as exc:  # a model the source needs (e.g. run `make lm` first)
        return _error(str(exc))
    result = collect_stats(partial)
    result["seconds"] = round(time.time() - start, 3)
    result["input"] = input_spec
    result["input_files"] = len(inputs)
    result["config"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(source.config).items()}
    result.update(source.extra_stats(result))
    files.write_atomic_bytes(FileSystems.join(args.output, "clean", args.source, "stats.json"),
                             stats.dumps(result).encode())
    print(summary(result))
    stats.check_invariant(result)
    return 0


def summary(s: dict) -> str:
    lines = [f"{s['source']}: {s['documents_in']} documents in, {s['documents_out']} out "
             f"({s['chars_out']:,} of {s['chars_in']:,} chars) in {s['seconds']:.1f}s"]
    for reason, n in sorted(s["dropped"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  dropped {reason:<28} {n:>8}")
    for kind, n in sorted(s["errors"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  error   {kind:<28} {n:>8}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
