"""Pricing an attempt's usage, and MediaConvert's price for the same outputs (pure)."""

from __future__ import annotations

import pytest

from videoctl.domain import cost
from videoctl.settings import Settings

PRICES = cost.Prices(fargate_vcpu_hour=0.04, fargate_gb_hour=0.004, spot_vcpu_hour=0.012, spot_gb_hour=0.0012,
                     mediaconvert_sd_minute=0.0075, mediaconvert_hd_minute=0.015)


def test_a_fargate_hour_of_four_vcpus_and_eight_gb():
    usage = cost.Usage(cost.FARGATE, vcpus=4, memory_mib=8192, runtime_s=3600)
    assert (usage.vcpu_hours, usage.gb_hours) == (4, 8)
    assert cost.usage_cost(usage, PRICES) == pytest.approx(4 * 0.04 + 8 * 0.004)


def test_spot_is_priced_as_spot_and_a_local_process_costs_nothing():
    usage = cost.Usage(cost.FARGATE_SPOT, vcpus=2, memory_mib=4096, runtime_s=1800)
    assert cost.usage_cost(usage, PRICES) == pytest.approx(1 * 0.012 + 2 * 0.0012)
    assert cost.usage_cost(cost.Usage(cost.LOCAL, 16, 65536, 7200), PRICES) == 0


def test_mediaconvert_counts_each_rendition_hd_from_720_lines():
    assert cost.renditions([1080, 720, 480, 360]) == (2, 2)
    assert cost.renditions([240]) == (0, 1)
    # A 10-minute source on the default ladder: 20 HD and 20 SD output minutes.
    assert cost.mediaconvert_cost(20, 20, PRICES) == pytest.approx(20 * 0.015 + 20 * 0.0075)


def test_cost_per_source_minute():
    assert cost.per_source_minute(0.5, 600) == pytest.approx(0.05)
    assert cost.per_source_minute(0.5, 0) is None


def test_the_shipped_prices_are_dated_defaults_that_config_show_attributes():
    settings = Settings.from_env({})
    assert settings.prices.fargate_vcpu_hour == 0.04048 and settings.prices.fargate_gb_hour == 0.004445
    rows = {row["name"]: row for row in settings.describe()}
    assert rows["price_fargate_vcpu_hour"]["source"] == "default"
    assert Settings.from_env({"VIDEOCTL_PRICE_FARGATE_SPOT_VCPU_HOUR": "0.01"}).describe()[
        [r["name"] for r in settings.describe()].index("price_spot_vcpu_hour")]["source"] == \
        "env:VIDEOCTL_PRICE_FARGATE_SPOT_VCPU_HOUR"
