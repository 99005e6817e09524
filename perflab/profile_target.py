"""Child process for profilers: run lab variants once each inside an NVTX range named perflab."""
from __future__ import annotations

import argparse
import ast


def run_once(lab_name: str, variant: str, size=None) -> None:
    """Warm ``variant`` up outside the range (compile, autotune, load modules), then run it once inside."""
    import torch
    from perflab.lab import load
    from perflab.machine import device
    lab = load(lab_name)
    fn = lab.get_variant(variant)
    inputs = lab.make_inputs(lab.SIZES["gpu"][0] if size is None else size, device(), lab.DTYPES[0], 0)
    fn(**inputs)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("perflab")
    fn(**inputs)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_pop()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("lab")
    p.add_argument("variant")
    p.add_argument("--size", default=None)
    args = p.parse_args(argv)
    run_once(args.lab, args.variant, ast.literal_eval(args.size) if args.size else None)


if __name__ == "__main__":
    main()
