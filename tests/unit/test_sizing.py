"""Container sizing: VIDEOCTL_SIZING parsed and refused, and the choice it makes for a source."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videoctl.domain.errors import InvalidInput
from videoctl.domain.sizing import (
    DEFAULT_SIZING,
    FARGATE_MEMORY,
    NOMINAL_FPS,
    ContainerSize,
    SourceFacts,
    choose_size,
    chunk_size,
    fargate_problem,
    parse_sizing,
)

DEFAULT = parse_sizing(DEFAULT_SIZING)
HOUR = 3600.0


def offered(size: ContainerSize) -> bool:
    """Whether Fargate offers this size: its vCPU is a Fargate size and its memory one of that size's."""
    return size.memory_mib in FARGATE_MEMORY.get(Decimal(size.vcpu_value), ())


def test_fargate_offers_exactly_the_documented_pairs():
    # AWS's table: 0.25 vCPU 512–2048 (0.5, 1, 2 GiB), 0.5 vCPU 1–4 GiB, 1 vCPU 2–8 GiB, 2 vCPU 4–16 GiB
    # and 4 vCPU 8–30 GiB in 1 GiB steps, 8 vCPU 16–60 GiB in 4 GiB steps, 16 vCPU 32–120 GiB in 8 GiB steps.
    assert FARGATE_MEMORY[Decimal("0.25")] == (512, 1024, 2048)
    assert FARGATE_MEMORY[Decimal("0.5")] == (1024, 2048, 3072, 4096)
    assert FARGATE_MEMORY[Decimal("1")] == tuple(gib * 1024 for gib in range(2, 9))
    assert FARGATE_MEMORY[Decimal("2")] == tuple(gib * 1024 for gib in range(4, 17))
    assert FARGATE_MEMORY[Decimal("4")] == tuple(gib * 1024 for gib in range(8, 31))
    assert FARGATE_MEMORY[Decimal("8")] == tuple(gib * 1024 for gib in range(16, 61, 4))
    assert FARGATE_MEMORY[Decimal("16")] == tuple(gib * 1024 for gib in range(32, 121, 8))


@pytest.mark.parametrize(("vcpus", "memory"), [(v, m) for v, mems in FARGATE_MEMORY.items() for m in mems])
def test_every_fargate_pair_makes_a_table(vcpus: Decimal, memory: int):
    table = parse_sizing(f"0:{vcpus}/{memory}")
    assert table is not None and table.size_for(1e6) == ContainerSize(float(vcpus), memory)


@pytest.mark.parametrize(("pair", "fragment"), [
    ("4/4096", "does not offer 4096 MiB with 4 vCPU; valid: 8192–30720 in steps of 1024 MiB"),
    ("0.25/1536", "valid: 512, 1024, 2048 MiB"),
    ("8/20000", "valid: 16384–61440 in steps of 4096 MiB"),
    ("8/18432", "valid: 16384–61440 in steps of 4096"),  # a whole GiB, but not a 4 GiB step
    ("16/36864", "valid: 32768–122880 in steps of 8192"),
    ("2/16385", "does not offer 16385 MiB with 2 vCPU"),
    ("2/4096.5", "does not offer 4096.5 MiB"),
    ("3/8192", "has no 3 vCPU size; it offers 0.25, 0.5, 1, 2, 4, 8, 16"),
    ("32/65536", "has no 32 vCPU size"),
    ("0/512", "has no 0 vCPU size"),
    ("-1/512", "has no -1 vCPU size"),
])
def test_a_pair_fargate_does_not_offer_is_refused_with_the_valid_ones(pair: str, fragment: str):
    with pytest.raises(InvalidInput) as refused:
        parse_sizing(f"0:{pair}")
    assert fragment in refused.value.message
    assert f"'0:{pair}'" in refused.value.message  # which entry


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "is not GPX:VCPU/MEMORY_MIB"),
    ("0:2/4096,", "'' is not GPX:VCPU/MEMORY_MIB"),
    ("0:2-4096", "'0:2-4096' is not GPX:VCPU/MEMORY_MIB"),
    ("2/4096", "'2/4096' is not GPX:VCPU/MEMORY_MIB"),
    ("0:/4096", "is not GPX:VCPU/MEMORY_MIB"),
    ("0:2/", "is not GPX:VCPU/MEMORY_MIB"),
    ("0:two/4096", "with three numbers"),
    ("0:2/4GiB", "with three numbers"),
    ("nan:2/4096", "the threshold must be a number of Gpx from 0 up"),
    ("0:2/4096,inf:4/8192", "the threshold must be a number of Gpx from 0 up"),
    ("0:2/4096,-5:4/8192", "the threshold must be a number of Gpx from 0 up"),
    ("10:2/4096,50:4/8192", "the first step starts at 10 Gpx; it must start at 0"),
    ("0:2/4096,200:8/16384,50:4/8192", "the thresholds must rise: 50:4/8192 comes after 200:8/16384"),
    ("0:2/4096,50:4/8192,50:8/16384", "the thresholds must rise: 50:8/16384 comes after 50:4/8192"),
])
def test_a_malformed_table_is_refused_saying_what(text: str, fragment: str):
    with pytest.raises(InvalidInput) as refused:
        parse_sizing(text)
    assert fragment in refused.value.message


def test_off_means_no_table_and_spaces_and_exponents_are_fine():
    assert parse_sizing("off") is None and parse_sizing(" OFF ") is None
    table = parse_sizing(" 0 : 0.5 / 1024 , 2.5e1 : 1/2048 ")
    assert table is not None and str(table) == "0:0.5/1024,25:1/2048"


def test_the_default_table_reads_back_as_written_and_offers_only_fargate_sizes():
    assert DEFAULT is not None and str(DEFAULT) == DEFAULT_SIZING
    assert all(offered(step.size) for step in DEFAULT.steps)
    # Memory follows the vCPUs: two GiB each.
    assert all(step.size.memory_mib == 2048 * step.size.vcpus for step in DEFAULT.steps)
    assert DEFAULT.largest_vcpus == 16


@pytest.mark.parametrize(("gigapixels", "vcpus"), [
    (0, 2), (49.999, 2), (50, 4), (199.99, 4), (200, 8), (499.9, 8), (500, 16), (1e9, 16),
])
def test_a_source_gets_the_last_step_it_reaches(gigapixels: float, vcpus: float):
    assert DEFAULT is not None and DEFAULT.size_for(gigapixels).vcpus == vcpus


def test_gigapixels_are_duration_times_pixels_times_frame_rate():
    assert SourceFacts(HOUR, 1920, 1080, 30).gigapixels == pytest.approx(223.9488)
    assert SourceFacts(HOUR, 1280, 720, 25).gigapixels == pytest.approx(82.944)
    # A frame rate not known yet counts as 30.
    assert SourceFacts(HOUR, 1920, 1080).gigapixels == SourceFacts(HOUR, 1920, 1080, NOMINAL_FPS).gigapixels
    assert SourceFacts(HOUR, 1920, 1080, float("nan")).gigapixels == pytest.approx(223.9488)


def test_lectures_are_sized_by_length_and_resolution():
    sizes = {name: choose_size(DEFAULT, facts) for name, facts in {
        "10 min 1080p30": SourceFacts(600, 1920, 1080, 30),
        "1 h 720p30": SourceFacts(HOUR, 1280, 720, 30),
        "1 h 1080p30": SourceFacts(HOUR, 1920, 1080, 30),
        "3 h 1080p30": SourceFacts(3 * HOUR, 1920, 1080, 30),
        "3 h 720p25": SourceFacts(3 * HOUR, 1280, 720, 25),
    }.items()}
    assert {name: size.vcpus if size else None for name, size in sizes.items()} == {
        "10 min 1080p30": 2, "1 h 720p30": 4, "1 h 1080p30": 8, "3 h 1080p30": 16, "3 h 720p25": 8}
    assert sizes["1 h 1080p30"] == ContainerSize(8, 16384)


@pytest.mark.parametrize("facts", [
    SourceFacts(None, None, None),
    SourceFacts(None, 1920, 1080, 30),
    SourceFacts(HOUR, None, 1080),
    SourceFacts(0, 1920, 1080),
    SourceFacts(float("nan"), 1920, 1080),
])
def test_a_source_not_probed_keeps_the_job_definitions_size(facts: SourceFacts):
    assert choose_size(DEFAULT, facts) is None


def test_no_table_sizes_nothing():
    assert choose_size(None, SourceFacts(HOUR, 1920, 1080, 30)) is None


LECTURE = SourceFacts(2 * HOUR, 1920, 1080, 30)  # the 2 h 1080p30 lecture of issue 23: about 448 Gpx


def test_a_chunk_is_sized_by_its_own_part_not_by_the_whole_video():
    """60 two-minute chunks of a 2 h 1080p30 lecture: the whole gets 8 vCPU, each chunk 2."""
    parts = [(i * 120.0, 120.0 if i < 59 else None) for i in range(60)]
    assert choose_size(DEFAULT, LECTURE) == ContainerSize(8, 16384)
    assert chunk_size(DEFAULT, LECTURE, parts) == ContainerSize(2, 4096)
    # 64 vCPU run 32 such chunks at once, where the whole video's size runs 8.
    assert 64 // chunk_size(DEFAULT, LECTURE, parts).vcpus == 32


def test_the_longest_part_sizes_them_all_and_the_last_runs_to_the_sources_end():
    table = parse_sizing("0:1/2048,1:2/4096")  # 1 Gpx: 16.1 s of 1080p30
    source = SourceFacts(40.0, 1920, 1080, 30)
    assert chunk_size(table, source, [(0.0, 10.0), (10.0, 10.0), (20.0, 10.0)]) == ContainerSize(1, 2048)
    # The last chunk (no duration of its own) is what is left of the source: 20 s.
    assert chunk_size(table, source, [(0.0, 10.0), (10.0, 10.0), (20.0, None)]) == ContainerSize(2, 4096)
    assert chunk_size(table, source, [(20.0, None)]) == ContainerSize(2, 4096)
    assert chunk_size(table, source, [(30.0, None)]) == ContainerSize(1, 2048)


@pytest.mark.parametrize(("table", "source", "parts"), [
    (None, LECTURE, [(0.0, 120.0)]),  # sizing off
    (DEFAULT, SourceFacts(2 * HOUR, None, None), [(0.0, 120.0)]),  # a source not probed
    (DEFAULT, SourceFacts(None, 1920, 1080, 30), [(0.0, None)]),  # the last chunk of a source of no known length
    (DEFAULT, LECTURE, []),
])
def test_a_chunk_of_unknown_size_keeps_the_job_definitions(table, source, parts):
    assert chunk_size(table, source, parts) is None


@st.composite
def tables(draw):
    """Any valid table: rising thresholds from 0, each step a Fargate pair."""
    pairs = [(v, m) for v, mems in FARGATE_MEMORY.items() for m in mems]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=6))
    rises = draw(st.lists(st.floats(min_value=0.5, max_value=1e4), min_size=len(chosen) - 1,
                          max_size=len(chosen) - 1))
    thresholds, at = [0.0], 0.0
    for rise in rises:
        at += rise
        thresholds.append(at)
    return ",".join(f"{t!r}:{v}/{m}" for t, (v, m) in zip(thresholds, chosen, strict=True))


@given(tables(), st.floats(min_value=0, max_value=1e6), st.integers(16, 8192), st.integers(16, 8192),
       st.one_of(st.none(), st.floats(min_value=1, max_value=240)))
def test_every_size_chosen_is_one_fargate_offers(text, duration_s, width, height, fps):
    table = parse_sizing(text)
    size = choose_size(table, SourceFacts(duration_s, width, height, fps))
    assert (size is None) == (duration_s == 0)
    assert size is None or offered(size)


@given(st.floats(min_value=0, max_value=1e5), st.floats(min_value=0, max_value=1e5))
def test_more_work_never_gets_a_smaller_default_container(a, b):
    assert DEFAULT is not None
    low, high = sorted((a, b))
    assert DEFAULT.size_for(low).vcpus <= DEFAULT.size_for(high).vcpus


def test_fargate_problem_names_nothing_for_a_valid_pair():
    assert fargate_problem(Decimal("4"), Decimal("8192")) is None
    assert fargate_problem(Decimal("4.0"), Decimal("8192.0")) is None
    assert fargate_problem(Decimal("NaN"), Decimal("8192")) is not None
