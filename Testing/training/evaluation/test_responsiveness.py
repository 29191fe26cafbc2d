"""Response lags at the ends of a sweep, on area curves with a known shift, widening or scale."""

import math

import numpy as np
import pytest
from DTCTrainingLib.evaluation.responsiveness import crossing_frames, response_lags
from DTCTrainingLib.evaluation.smoothing import ema_probabilities

# A gland that appears at frame 5, grows over 5 frames, stays, and shrinks away by frame 30 of 40.
TRUTH = np.concatenate([np.zeros(5), np.linspace(100, 500, 5), np.full(15, 500.0), np.linspace(500, 100, 5),
                        np.zeros(10)])


def shifted(curve, frames):
    return np.concatenate([np.zeros(frames), curve[:len(curve) - frames]])


def test_crossings_interpolate_between_frames():
    # level 0.5 * 30 = 15: between frame 2 (10) and 3 (20) going up, between 5 (20) and 6 (0) going down
    onset, offset = crossing_frames([0, 0, 10, 20, 30, 20, 0], fraction=0.5)
    assert onset == pytest.approx(2.5)
    assert offset == pytest.approx(5 + 5 / 20)


def test_a_curve_that_never_crosses_at_an_end_has_no_value_there():
    onset, offset = crossing_frames([50, 60, 40, 0], fraction=0.2)
    assert math.isnan(onset) and offset == pytest.approx(2 + (40 - 12) / 40)
    assert all(math.isnan(v) for v in crossing_frames(np.zeros(6)))


@pytest.mark.parametrize("delay", [1, 3])
def test_a_delayed_prediction_lags_by_the_delay_at_both_ends(delay):
    lags = response_lags(TRUTH, shifted(TRUTH, delay))
    assert lags["onset_lag_frames"] == pytest.approx(delay)
    assert lags["offset_lag_frames"] == pytest.approx(delay)
    assert lags["response_lag_frames"] == pytest.approx(delay)
    assert lags["widening_frames"] == pytest.approx(0)


def test_a_larger_or_longer_mask_is_not_late():
    assert response_lags(TRUTH, 3 * TRUTH)["response_lag_frames"] == pytest.approx(0)  # scale: each curve's own peak
    wider = np.maximum(np.maximum(TRUTH, shifted(TRUTH, 2)), np.concatenate([TRUTH[2:], np.zeros(2)]))
    lags = response_lags(TRUTH, wider)  # starts 2 frames early and ends 2 late
    assert lags["onset_lag_frames"] == pytest.approx(-2) and lags["offset_lag_frames"] == pytest.approx(2)
    assert lags["response_lag_frames"] == pytest.approx(0) and lags["widening_frames"] == pytest.approx(2)


def test_an_ema_lags_and_the_lag_grows_with_its_weight():
    # the EMA of the area curve itself (area of a map = sum of its pixels, and the EMA is linear)
    lag = {w: response_lags(TRUTH, np.ravel(list(ema_probabilities(TRUTH[:, None], w))))["response_lag_frames"]
           for w in (0.0, 0.5, 0.8)}
    assert lag[0.0] == pytest.approx(0)
    assert 0.3 < lag[0.5] < lag[0.8]
    assert lag[0.8] < 4 + 1  # mean delay w / (1 - w) = 4 frames; a crossing sees the front of the response


def test_curves_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="40 and 39"):
        response_lags(TRUTH, TRUTH[:39])
