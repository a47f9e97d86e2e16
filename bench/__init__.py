"""`make bench` (`python -m bench`): the service's throughput, latency and memory, each figure set
beside a baseline measured in the same run on the same stack (see docs/performance.md).

- `run`: the measurements in turn; `config`: sizes from BENCH_* variables; `report`: what is
  printed and saved; `machine`: the machine measured;
- `stack`: the servers, as `make run` starts them, on free ports in a temporary directory;
  `panel`: examiners enough for the bench's bookings;
- `claims` and `batch`: full claims against the skeleton workflow (`skeleton`, run by
  `skeleton_worker`); `referrals`: the bench's referrals and action bodies; `history`: history
  lengths;
- `starts`: the bulk path against raw starts, and the claims kept in flight;
- `status`: status reads against the floor endpoint (`floor`) and Temporal queries, each driven by
  the load client (`load`) in a process of its own.
"""
