"""Answer to the chapter 5 exercise (lab ``ch05.transforms``).

The starter transforms one image per loop iteration, paying Python and per-op dispatch overhead N times
(and on a GPU a kernel launch per op per image). The answer does the flip for the whole batch with one
``torch.where`` and folds ``(x/255 − mean)/std`` into one multiply-add with per-channel ``scale`` and
``shift``: ``torch_batched``, a variant of the lab.
"""
from labs.ch05_data_pipeline.transforms import torch_batched


from perflab.exercise import Ceiling, Exercise, HostSyncs, Kernels, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch05.transforms", answer=torch_batched,
    evidence="H100 run 2026-12-07 at 1001 images: the per-image loop 89 ms (<0.1% of the copy ceiling), "
             "torch_batched 0.106 ms (4.3%)",
    steps=[Step("no Python branch on a tensor per image",
                hint="`if flip[i]` reads a device value on the host; torch.where(flip[:, None, None, None], "
                     "images.flip(-1), images) flips the whole batch",
                cpu=[HostSyncs(at_most=0)], gpu=[HostSyncs(at_most=0)]),
           Step("the whole batch in a few ops",
                hint="fold (x/255 − mean)/std into x·scale + shift with per-channel (3, 1, 1) tensors",
                cpu=[Kernels(at_most=20)], gpu=[Kernels(at_most=20), Ceiling(at_least=0.02)])])]

__all__ = ["torch_batched", "EXERCISES"]
