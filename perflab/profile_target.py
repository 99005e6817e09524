"""Child process for profilers: run one lab variant once inside an NVTX range named perflab."""
from __future__ import annotations

import argparse
import ast


def main(argv=None):
    import torch
    from perflab.machine import device
    from perflab.lab import load
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("lab")
    p.add_argument("variant")
    p.add_argument("--size", default=None)
    args = p.parse_args(argv)
    lab = load(args.lab)
    fn = lab.get_variant(args.variant)
    size = ast.literal_eval(args.size) if args.size else lab.SIZES["gpu"][0]
    inputs = lab.make_inputs(size, device(), lab.DTYPES[0], 0)
    fn(**inputs)                              # warm-up: compile, autotune, load modules
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("perflab")
    fn(**inputs)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_pop()


if __name__ == "__main__":
    main()
