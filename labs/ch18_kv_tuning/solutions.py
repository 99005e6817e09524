"""Answers to the chapter 18 exercise; the code lives in its lab, so there is one copy of it.

Exercise (lab ``ch18.kv_transfer``): the starter gathers a request's KV with one ``copy_`` per 16-token
page, so a 7,500-token request costs 469 calls and each pays a fixed overhead that dwarfs its 64 KiB.
The fix is to hand the whole page table to one kernel: ``torch.index_select(pool16, 0, pages16)``
writes every full page into ``out`` in one launch (viewed as (pages, 16, width)), and one more copy
moves the partial last page. ``collate`` is that answer, the lab's ``gather_kernel`` variant.
"""
from labs.ch18_kv_tuning.kv_transfer import gather_kernel as collate


from labs.ch18_kv_tuning.paged_decode import gather_sdpa  # noqa: E402
from perflab.exercise import Ceiling, Exercise, Kernels, Step  # noqa: E402

EXERCISES = [
    Exercise("ch18.kv_transfer", answer=collate,
             evidence="H100 run 2026-12-07 at (7501, 2048) bf16: per_page_16 0.3% of the copy ceiling, "
                       "collated_128 2.3%, gather_kernel 65%, triton_gather 77%",
             steps=[Step("one gather for all the pages",
                         hint="torch.index_select(pool16, 0, pages16) into out viewed as (pages, 16, width), plus "
                              "one copy for the partial last page",
                         cpu=[Kernels(at_most=3)], gpu=[Kernels(at_most=3), Ceiling(at_least=0.25)])]),
    Exercise("ch18.paged_decode", answer=gather_sdpa,
             evidence="a correctness exercise (the length mask): without it the padded keys change every answer",
             steps=[]),
]

__all__ = ["collate", "gather_sdpa", "EXERCISES"]
