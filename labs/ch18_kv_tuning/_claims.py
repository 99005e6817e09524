"""Chapter 18's measured outcomes as checked claims (perflab.claims), beside the book check.

Lab claims read ``pl.run`` records; ``ch18.kv_quant`` is the Study ``quant_study.run()`` returns
(``values={"ch18.kv_quant": study}`` in ``claims.show``)."""
from perflab.claims import About, AtLeast, Faster, Holds, ratio


def _row(label, what):
    def read(study):
        try:
            r = study.row(label)
        except (AttributeError, KeyError, ValueError, StopIteration):
            return None
        return r.fraction if what == "fraction" else r.error.get(what)
    return read


def _ratio(a, b, case):
    return ratio(_row(a, case), _row(b, case))


CLAIMS = [
    About("ch18.kv_transfer", "collated_128", "per_page_16", 8.0, within=0.35, tier="gpu",
          text="128-token pages gain about the 8× cut in copy calls over 16-token pages (±35%)"),
    Faster("ch18.kv_transfer", "gather_kernel", than="collated_128", by=10.0, tier="gpu",
           text="one gather kernel is ≥ 10× the 59 page copies: the calls, not the bytes, were the cost"),
    AtLeast("ch18.kv_transfer", "gather_kernel", "ceiling_fraction", 0.5, tier="gpu",
            text="the one-kernel gather reaches ≥ 50% of the copy ceiling"),
    Faster("ch18.kv_to_host", "collated_128", than="per_page_16", by=4.0, tier="gpu",
           text="towards pinned host memory too, 128-token DMAs are ≥ 4× 16-token ones"),
    AtLeast("ch18.kv_to_host", "gather_then_copy", "ceiling_fraction", 0.8, tier="gpu",
            text="gather on the device, then one DMA: ≥ 80% of the pinned device→host rate"),
    Holds("ch18.kv_quant", "at the GPU size (8,191 tokens) int8 KV with a 128-token bf16 window stores ≤ 0.55× bf16",
          _row("int8 per token + 128 recent", "fraction"), at_most=0.55, unit="×", tier="gpu"),
    Holds("ch18.kv_quant", "int8 KV costs ≤ 1.5% attention error on random KV",
          _row("int8 per token + 128 recent", "random"), at_most=0.015, unit="%"),
    Holds("ch18.kv_quant", "at the GPU size, per-channel K scales cut int8's error on large key channels to ≤ 0.7×",
          _ratio("int8 K per channel + 128 recent", "int8 per token + 128 recent", "structured"), at_most=0.7,
          tier="gpu"),
    Holds("ch18.kv_quant", "int4 without care fails on large key channels (≥ 10% error)",
          _row("int4 (groups of 32) per token", "structured"), at_least=0.10, unit="%"),
    Holds("ch18.kv_quant", "fp8 e4m3 (3 mantissa bits) errs ≥ 2× int8 on random KV",
          _ratio("fp8 e4m3 per token + 128 recent", "int8 per token + 128 recent", "random"), at_least=2.0),
]
