"""The checks that the codec keeps its promises on real data, each a command of its own:

- `determinism`: files decode exactly under other kernels, layouts, precisions and thread
  counts (`make check-determinism`, `python -m licodec.checks.determinism`);
- `roundtrip`: every file decodes to the encoder's ŷ, and real rates match the estimates
  (`make sweep`, `python -m licodec.checks.roundtrip`);
- `fuzz`: damaged and crafted files are refused cleanly and quickly (the hypothesis tests, and
  `python -m licodec.checks.fuzz --minutes 60`).

They sit above the codec and the API and use them as a user would; nothing in the codec imports
them.
"""
