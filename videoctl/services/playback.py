"""Signed playback URLs for the app's viewers: every output of a READY video's ladder, behind one
token that opens that ladder alone, until it expires (README "Playback for your viewers").

The URLs point at the edge Worker (worker/edge/) on VIDEOCTL_PLAYBACK_BASE_URL, which verifies
the token and serves from R2 through the edge cache; the bucket itself stays private.

Locally (a local store, no base URL set) they point at this machine's `videoctl serve`, which
verifies the same tokens under ``/t/``: the address it records when it listens, else its
default ``http://127.0.0.1:8080``. Signed for this machine, without VIDEOCTL_PLAYBACK_KEYS, they
use the key the embedded default keeps under VIDEOCTL_HOME (storage/playback_home.py), which
`serve` verifies with too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from videoctl.domain import keys, playback
from videoctl.domain.errors import ConfigError, InvalidInput, InvalidState
from videoctl.domain.models import Video
from videoctl.domain.outputs import SUBTITLES
from videoctl.domain.repositories import VideoRepository
from videoctl.domain.states import VideoStatus
from videoctl.settings import Settings
from videoctl.storage.playback_home import local_keyring, serving_url

#: The shortest life a playback URL may have: less is no use to a player.
MIN_EXPIRY_S = 60
#: Where `videoctl serve` listens unless told otherwise (its --port default).
LOCAL_SERVE_PORT = 8080


def local_serve_url(port: int = LOCAL_SERVE_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def serve_keyring(settings: Settings) -> playback.Keyring:
    """The keys `videoctl serve` verifies tokens with: VIDEOCTL_PLAYBACK_KEYS, else the local key."""
    return settings.playback_keyring or local_keyring(settings.home)


def signing_keyring(settings: Settings, base_url: str) -> playback.Keyring | None:
    """The keys that sign URLs for *base_url*: VIDEOCTL_PLAYBACK_KEYS, or for this machine's
    `videoctl serve` the local key; None for any other address without keys."""
    if settings.playback_keyring is not None:
        return settings.playback_keyring
    return local_keyring(settings.home) if playback.is_local_base(base_url) else None


def base_url_for(settings: Settings) -> str | None:
    """VIDEOCTL_PLAYBACK_BASE_URL; unset, with a local store, this machine's `videoctl serve`."""
    if settings.playback_base_url is not None:
        return settings.playback_base_url
    if settings.uses_r2:
        return None  # R2's viewers go through the edge Worker, which has an address of its own
    return serving_url(settings.home) or local_serve_url()


@dataclass(frozen=True)
class CaptionUrls:
    language: str
    #: The HLS subtitle playlist (``subs/{lang}.m3u8``), as the master's SUBTITLES group names it.
    hls: str
    #: The whole track as one WebVTT file (``subs/{lang}.vtt``): DASH's text track, or a ``<track>``.
    vtt: str


@dataclass(frozen=True)
class Playback:
    """Where a player fetches a READY video's outputs, each URL carrying the same token."""

    video_id: int
    #: When every URL stops working (a player mid-lecture then gets 403: give it more than the duration).
    expires_at: datetime
    #: Who the URLs were made for (the app's user id), carried in the token to trace a leaked link.
    viewer: str | None
    #: The key that signed the token (the first of VIDEOCTL_PLAYBACK_KEYS).
    key_id: str
    #: What the token opens: the ladder's folder, ``videos/{id}/hls/{job}-{n}/``.
    prefix: str
    token: str
    #: The HLS master playlist: what hls.js, Safari and ExoPlayer play.
    master: str
    #: The MPEG-DASH manifest over the same segments (None for an MPEG-TS ladder): what dash.js plays.
    mpd: str | None
    poster: str | None
    poster_small: str | None
    #: The storyboard's WebVTT (thumbnail tiles while scrubbing), its sprite beside it.
    storyboard: str | None
    #: The progressive MP4 (None when VIDEOCTL_DOWNLOAD_RUNG=off).
    download: str | None
    captions: list[CaptionUrls] = field(default_factory=list)


def playback_urls(video_id: int, *, videos: VideoRepository, settings: Settings, expires_s: float,
                  viewer: str | None = None, base_url: str | None = None, now: datetime | None = None) -> Playback:
    """The signed URLs of the video's outputs, good for *expires_s* seconds, at *base_url* (default:
    :func:`base_url_for`)."""
    base = base_url or base_url_for(settings)
    if base is None:
        raise ConfigError("VIDEOCTL_PLAYBACK_BASE_URL is not set: there is no edge to send viewers to",
                          hint="set it to the playback Worker's https:// origin, e.g. https://media.example.com "
                               "(with a local store, URLs go to `videoctl serve` on this machine)")
    keyring = signing_keyring(settings, base)
    if keyring is None:
        raise ConfigError("VIDEOCTL_PLAYBACK_KEYS is not set: playback URLs cannot be signed",
                          hint="set it to KID:SECRET (e.g. k1:$(openssl rand -hex 32)), the same value as the "
                               "Worker's PLAYBACK_KEYS secret (worker/edge/README.md)")
    longest = settings.playback_max_expiry_s
    if not MIN_EXPIRY_S <= expires_s <= longest:
        raise InvalidInput(f"a playback URL lives from {MIN_EXPIRY_S} s to {longest} s "
                           f"(VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS), not {expires_s:g} s",
                           hint="give a lecture's viewers its duration and some slack, e.g. --expires 4h")
    if viewer is not None:
        playback.check_viewer(viewer)
    video = videos.get(video_id)
    prefix = _ladder_prefix(video)
    now = now or datetime.now(UTC)
    expires_at = int(now.timestamp()) + int(expires_s)
    token = playback.sign(prefix, key=keyring.signing, expires_at=expires_at, viewer=viewer)

    def url(key: str | None) -> str | None:
        # Every output is under the prefix; one that is not could not be opened by this token.
        return playback.playback_url(base, token, key) if key and key.startswith(prefix) else None

    return Playback(
        video_id=video.id, expires_at=datetime.fromtimestamp(expires_at, UTC), viewer=viewer,
        key_id=keyring.signing.kid, prefix=prefix, token=token, master=url(video.hls_path) or "",
        mpd=url(video.mpd_path), poster=url(video.poster_path), poster_small=url(video.poster_small_path),
        storyboard=url(video.storyboard_path), download=url(video.download_path),
        captions=[CaptionUrls(language, url(f"{prefix}{SUBTITLES}{language}.m3u8") or "",
                              url(f"{prefix}{SUBTITLES}{language}.vtt") or "")
                  for language in video.caption_languages],
    )


def _ladder_prefix(video: Video) -> str:
    if video.status is VideoStatus.DELETED:
        raise InvalidState(f"video {video.id} is DELETED: it has nothing to play",
                           hint="a DELETED video's outputs are gone for good")
    if video.status is not VideoStatus.READY or not video.hls_path:
        raise InvalidState(f"video {video.id} is {video.status.value}, not READY: it has nothing to play yet",
                           hint=f"playback URLs are for READY videos; see `videoctl video show {video.id}`")
    return keys.prefix_of_master(video.hls_path)
