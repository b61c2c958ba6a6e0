"""close_timestamp_jumps: the content duration of packets whose timestamps jump, as ffmpeg will encode them."""

from __future__ import annotations

import pytest

from videoctl.domain.errors import InvalidInput
from videoctl.media.probe import TIMESTAMP_JUMP_S, PacketTiming, close_timestamp_jumps

FRAME = 1 / 30
AUDIO_FRAME = 1024 / 48000


def _recording(start: float, seconds: float, *, audio: bool = True) -> list[PacketTiming]:
    """One recording's packets from ``start``, video and audio interleaved roughly by time."""
    video = [PacketTiming(0, start + n * FRAME, start + n * FRAME, FRAME) for n in range(round(seconds / FRAME))]
    sound = [PacketTiming(1, start + n * AUDIO_FRAME, start + n * AUDIO_FRAME, AUDIO_FRAME)
             for n in range(round(seconds / AUDIO_FRAME))] if audio else []
    return sorted(video + sound, key=lambda packet: packet.dts)


def test_continuous_packets_last_from_first_to_last() -> None:
    assert close_timestamp_jumps(_recording(1.4, 2.0)) == pytest.approx(2.0, abs=0.03)


@pytest.mark.parametrize("second_start", [5000.0, 30.0, -3600.0, 0.0])
def test_a_jump_forward_or_back_is_closed(second_start: float) -> None:
    # Two 2 s recordings; the second's clock starts far ahead, 28 s later, an hour before,
    # or again at 0 (a step back of 2 s): they play back to back, 4 s.
    first = _recording(0.0, 2.0)
    assert close_timestamp_jumps(first + _recording(second_start, 2.0)) == pytest.approx(4.0, abs=0.05)


def test_a_gap_up_to_the_threshold_is_content() -> None:
    # ffmpeg keeps a gap it does not count as a jump (it fills it with repeated frames): so does the measure.
    gap = TIMESTAMP_JUMP_S - 1
    assert close_timestamp_jumps(_recording(0.0, 2.0) + _recording(2.0 + gap, 2.0)) == pytest.approx(4.0 + gap, abs=0.05)


def test_a_stream_starting_after_the_jump_is_moved_with_it() -> None:
    # The first recording has no audio; the audio's first packet is far from the video's last.
    packets = _recording(0.0, 2.0, audio=False) + _recording(7200.0, 2.0)
    assert close_timestamp_jumps(packets) == pytest.approx(4.0, abs=0.05)


def test_b_frames_out_of_order_in_presentation_do_not_count_as_jumps() -> None:
    # Decoding order I P B B: presentation timestamps go back by a frame or two, decoding ones do not.
    pts_order = [0, 3, 1, 2, 6, 4, 5, 9, 7, 8]
    packets = [PacketTiming(0, n * FRAME - 2 * FRAME, pts * FRAME, FRAME) for n, pts in enumerate(pts_order)]
    assert close_timestamp_jumps(packets) == pytest.approx(10 * FRAME)


def test_no_packets_is_no_duration() -> None:
    with pytest.raises(InvalidInput, match="zero or unknown duration"):
        close_timestamp_jumps([])
