"""Answers to the chapter 18 exercise; the code lives in its lab, so there is one copy of it.

Exercise (lab ``ch18.kv_transfer``): the starter gathers a request's KV with one ``copy_`` per 16-token
page, so a 7,500-token request costs 469 calls and each pays a fixed overhead that dwarfs its 64 KiB.
The fix is to hand the whole page table to one kernel: ``torch.index_select(pool16, 0, pages16)``
writes every full page into ``out`` in one launch (viewed as (pages, 16, width)), and one more copy
moves the partial last page. ``collate`` is that answer, the lab's ``gather_kernel`` variant.
"""
from labs.ch18_kv_tuning.kv_transfer import gather_kernel as collate

__all__ = ["collate"]
