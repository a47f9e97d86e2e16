"""`make bench` (`python -m bench`): the service's throughput, latency and memory, each figure set
beside a baseline measured in the same run on the same stack (see README, "Performance").

Modules: `config` (sizes from BENCH_* variables), `stack` (the servers), `claims` (full claims
against the skeleton workflow), `history` (history lengths), `starts` (bulk start against raw
starts, and the claims kept in flight), `status` (status reads against the floor and Temporal
queries, driven by `load` in its own process), `skeleton` and `skeleton_worker` (the baseline
workflow), `floor` (the baseline endpoint), `panel` (examiners enough for the bench), `report`
(what is printed and saved).
"""
