"""ch15.spec_trained: the shipped pair loads safely and reproduces its recorded acceptance, speculative decoding
with the trained draft equals the target's greedy output at every k, the per-position bookkeeping adds up,
the training code trains, and a planted bug (no verification) is caught."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from perflab.runner import check_variant
from labs.ch15_parallel_decoding import _spec_real as sr
from labs.ch15_parallel_decoding import _spec_train as st
from labs.ch15_parallel_decoding import calculators as calc
from labs.ch15_parallel_decoding import spec_decode as sd
from labs.ch15_parallel_decoding import spec_trained

LAB = pl.load("ch15.spec_trained")


@pytest.fixture(scope="module")
def pair():
    return spec_trained.load_pair("cpu")


def test_shipped_file_is_small_and_plain_data():
    assert st.WEIGHTS.stat().st_size < 4 * 2**20                       # a few MB at most
    blob = torch.load(st.WEIGHTS, map_location="cpu", weights_only=True)  # tensors and plain values only
    assert set(blob) == {"target", "draft", "meta"}
    assert all(v.dtype == torch.float16 for v in blob["target"].values())
    meta = blob["meta"]
    assert meta["train"]["seed"] == 0 and meta["train"]["steps"] > 0 and meta["trained_on"]
    assert 0 < meta["acceptance"]["alpha"] < 1 and len(meta["acceptance"]["rates"]) == meta["acceptance"]["k"]


def test_shipped_pair_reproduces_its_recorded_acceptance(pair):
    target, draft, meta = pair
    rec = meta["acceptance"]
    got = sr.acceptance(target, draft, k=rec["k"], count=rec["prompts"], new_tokens=rec["new_tokens"])
    assert got.equal, "speculative output differs from the target's greedy output"
    assert got.alpha == pytest.approx(rec["alpha"], abs=0.05), (got, rec)
    assert got.tokens_per_round == pytest.approx(rec["tokens_per_round"], rel=0.1)


def test_trained_models_beat_chance_on_held_out_text(pair):
    target, draft, meta = pair
    chance = torch.log(torch.tensor(float(len(st.VOCAB)))).item()           # 4.56 nats for 96 symbols
    assert max(st.held_out_loss(target), st.held_out_loss(draft)) < chance - 1.5
    assert meta["loss"]["target"][1] < meta["loss"]["draft"][1]             # the target fits the text better


@pytest.mark.parametrize("k", [1, 3, 8])
def test_speculative_equals_greedy(pair, k):
    target, draft, _ = pair
    for prompt in sr.prompts(2, seed=10 + k):
        out, stats = sr.speculative_generate(target, draft, prompt, 29, k)
        assert out == sd.target_greedy(target, prompt, 29)
        assert 0 <= stats.alpha <= 1 and all(0 <= r <= 1 for r in stats.rates if r == r)
        # every round is judged at position 1; position j+1 exactly when drafts 1 … j were all accepted
        assert stats.judged_at[0] == stats.rounds
        assert all(stats.judged_at[j + 1] == stats.accepted_at[j] for j in range(k - 1))
        # so the per-position rates multiply back to the measured tokens per round (an identity)
        assert sr.expected_from_positions(stats.rates) == pytest.approx(stats.tokens_per_round)
        assert sum(stats.accepted_at) == stats.accepted and sum(stats.per_round) >= 29 - 1


def test_position_bookkeeping_by_hand():
    st_ = sr.PositionStats(3)
    assert st_.judged_at == [0, 0, 0] and all(r != r for r in st_.rates)        # nan: never judged
    assert sr.expected_from_positions([1.0, 1.0, 1.0]) == 4
    assert sr.expected_from_positions([0.0, 1.0]) == 1
    assert sr.expected_from_positions([0.8] * 4) == pytest.approx(calc.expected_tokens(0.8, 4))
    assert sr.expected_from_positions([0.9, float("nan")]) == pytest.approx(1.9)


def test_training_code_trains_on_cpu():
    target, draft, log = st.train(st.TrainConfig.smoke())
    for first, last in log.loss.values():
        assert last < first
    assert "trained 12 steps" in str(log)


def test_text_encoding_round_trips_and_rejects_foreign_characters():
    text = st.to_ascii("speed × 2 → done — ok")
    assert text == "speed x 2 -> done - ok" and st.decode(st.encode(text).tolist()) == text
    with pytest.raises(ValueError, match="to_ascii"):
        st.encode("naïve")
    with pytest.raises(ValueError, match="held_out"):
        st.corpus("test")


# ---- the lab ---------------------------------------------------------------------------------------

def spec_without_verification(prompt, target, draft, k, new_tokens, greedy):
    """Emits the draft's own greedy guesses: right only where the draft agrees with the target everywhere."""
    return torch.tensor(sd.target_greedy(draft, prompt.tolist(), new_tokens))


def test_planted_bug_is_caught():
    row = check_variant(LAB, spec_without_verification, LAB.SIZES["cpu"][0], "int64", seed=5)
    assert row.status == "wrong", row.why


def test_k_sweep_rows_and_check_line(pair):
    target, draft, _ = pair
    sweep = sr.k_sweep(target, draft, ks=(1, 3), count=1, new_tokens=12, rep_ms=5)
    assert [r.k for r in sweep.rows] == [1, 3] and all(r.equal for r in sweep.rows)
    for r in sweep.rows:
        assert 0 <= r.alpha <= 1 and 1 <= r.tokens_per_round <= r.k + 1 and r.speedup > 0
        assert r.control_tpr >= 1 and r.expected_iid == pytest.approx(calc.expected_tokens(r.alpha, r.k))
    assert sweep.c > 0 and sweep.check().startswith(("✅", "❌")) and "k=" in sweep.check()
    assert "draft position" in str(sweep.positions_table())
