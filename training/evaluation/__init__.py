"""The paper's zero- and few-shot benchmarks (Touvron et al. 2023, section 3), offline.

data (the .arrow splits) -> formats (prompts, with their sources) -> tasks (the registry and its
scoring rules) -> scoring (packed log-likelihoods, greedy answers) -> rules (picks, exact match)
-> run (records, summary, table); loading reads a checkpoint or a transformers LLaMA folder.
`python -m training.evaluation --help` is the command.
"""
