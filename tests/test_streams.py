"""The compact stream blob: round trip, precision and size."""

from __future__ import annotations

import numpy as np
import pytest

from strideguard.activities import streams
from strideguard.model import Streams


def test_round_trip_keeps_positions_to_the_centimetre_and_missing_samples():
    n = 3600
    rng = np.random.default_rng(1)
    lat = 52.35 + np.cumsum(rng.normal(0, 1e-5, n))
    hr = np.full(n, 150.0)
    hr[100:110] = np.nan
    original = Streams(time_s=np.arange(n, dtype=float), lat_deg=lat, lon_deg=lat - 47, heart_rate_bpm=hr)
    blob = streams.encode(original)
    back = streams.decode(blob)
    assert set(back.columns()) == {"time_s", "lat_deg", "lon_deg", "heart_rate_bpm"}
    np.testing.assert_array_equal(back.lat_deg, lat)  # float64 kept exactly
    assert np.isnan(back.heart_rate_bpm[100:110]).all()
    assert back.heart_rate_bpm[0] == 150.0
    # One compressed blob, far smaller than a row per sample (4 columns x 3600 x 8 bytes raw = 115 kB).
    assert len(blob) < 60_000


def test_garbage_blob_is_refused():
    with pytest.raises(ValueError, match="not a StrideGuard stream blob"):
        streams.decode(b"nonsense")


def test_columns_must_have_the_same_length():
    with pytest.raises(ValueError, match="heart_rate_bpm has 2 samples"):
        Streams(time_s=np.arange(3.0), heart_rate_bpm=np.arange(2.0))
