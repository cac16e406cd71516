"""The HoloGrad protocol across processes: workers and a coordinator that exchange only seeds'
indices and scalars (HoloGrad §4, Algorithm 1), on torch.distributed.

    torchrun --standalone --nproc-per-node 4 -m holograd.distributed.train \
        --config run.yaml --tokens cache.pt --out result.json --run-dir run/

Every process holds theta_t (identical by construction: same initial seed, same updates), the
step's batch ids and the proof seeds derived from them, so per step only the proofs cross
the network: each worker's (slot index, scalar) pairs, gathered by every rank, plus the
verifier's verdict (a few integers).  Every rank then synthesises the same g_hat from the
seeds and applies it.

    protocol.py   the step, transport-agnostic: plan, submit, verify, conclude
                  (`simulate` runs it for all workers in one process)
    placement.py  each rank's device and the backend: rank r on cuda:(r mod G), NCCL with a GPU
                  per rank, else gloo (so four workers run on one GPU as on four)
    train.py      the torchrun entry point: placement, checkpoints, restart
    launch.py     builds and runs the torchrun command (the pipeline's E8 and the tests)
"""
