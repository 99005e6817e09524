"""Chapter 14's measured outcomes as checked claims (perflab.claims), beside the book check."""
from perflab.claims import About, Faster, Holds

_SMALL = ("at this launch-bound size the matmul is the same library call either way and a compiled call "
          "adds its guard checks, so fusing the few small elementwise kernels buys little")


def _graphs(setting):
    """Graphs Dynamo compiles for one setting over the lab's batch sizes (backend 'eager': fast, any device)."""
    def model():
        from labs.ch14_compiler import shapes
        return shapes.compiles(setting)
    return model


CLAIMS = [
    Faster("ch14.graph_breaks", "compiled_fixed", than="compiled_broken", by=2.0, tier="gpu",
           text="removing the three graph breaks makes the compiled block ≥ 2× faster"),
    Faster("ch14.graph_breaks", "eager", than="compiled_broken", by=1.5, tier="gpu",
           text="on small inputs the broken compiled block loses to plain eager PyTorch"),
    About("ch14.graph_breaks", "compiled_fixed", "eager", 1.15, within=0.5, tier="gpu", size=[1_023, 509, 1_021],
          text="at the small default size the fixed compiled block gains little or nothing over eager (0.6–1.7×): "
               "the host's launch speed, not the fused math, decides which is ahead",
          why_not={"gpu": _SMALL}),
    Faster("ch14.triton_matmul", "triton_autotuned", than="torch_matmul", by=0.6, tier="gpu",
           text="the 20-line autotuned Triton matmul reaches ≥ 60% of cuBLAS's speed in fp16"),
    Holds("ch14.recompiles", "dynamic=False compiles one graph per batch size", lambda gc: gc[0] == gc[1],
          model=_graphs("dynamic=False")),
    Holds("ch14.recompiles", "the default compiles twice: static first, then one dynamic recompile",
          lambda gc: gc[0], about=2, within=0.01, unit=" graphs", model=_graphs("default")),
    Holds("ch14.recompiles", "mark_dynamic on the batch dimension compiles once", lambda gc: gc[0], about=1,
          within=0.01, unit=" graph", model=_graphs("mark_dynamic")),
]
